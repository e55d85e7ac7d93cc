"""Metrics as ratios of per-record sums, with 95% bootstrap CIs that resample clips, not probes.

Every headline metric here (rates, accuracy, precision, recall, F1, yes-ratio, mean CIDEr) is Σ num / Σ den over
records, which lets one mechanism give point values, per-class and per-paraphrase breakdowns, and CIs. The bootstrap
resamples *clips* (clusters): the paraphrases and questions of one clip are correlated, and resampling probes as if
independent would make the intervals too narrow. One set of resamples serves every metric of a run, so composites
(the audio grounding score) get their CI from the same resampled clips as their parts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from acpo_bench.schemas import SampleRecord, stable_hash

Contribution = Callable[[SampleRecord], "tuple[float, float] | None"]
N_RESAMPLES = 1000


@dataclass(frozen=True)
class MetricValue:
    value: float | None
    ci95: tuple[float, float] | None
    higher_is_better: bool | None  # None: descriptive (e.g. yes-ratio), neither direction is better
    n: int

    def to_json(self) -> dict:
        return {"value": _round(self.value), "ci95": None if self.ci95 is None else [_round(v) for v in self.ci95],
                "higher_is_better": self.higher_is_better, "n": self.n}


def _round(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


@dataclass(frozen=True)
class RatioMetric:
    """value = Σ num / Σ den over the records whose ``contribution`` is not None."""

    name: str
    higher_is_better: bool | None
    contribution: Contribution


def scored(records: Iterable[SampleRecord]) -> list[SampleRecord]:
    """Records that carry an answer (error records are counted by the runner, never scored)."""
    return [r for r in records if r.error is None]


class ClipBootstrap:
    """One set of clip resamples shared by every metric of a run.

    Sharing the resamples is what lets a composite (the audio grounding score) get an honest CI from its parts'
    replicates; scipy.stats.bootstrap draws its own indices per call, so the few lines of resampling live here.
    """

    def __init__(self, clip_ids: Sequence[str], seed: int, n_resamples: int = N_RESAMPLES) -> None:
        self.index = {c: i for i, c in enumerate(sorted(set(clip_ids)))}
        n = len(self.index)
        rng = np.random.default_rng(int(stable_hash("bootstrap", seed), 16))
        self.weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64) if n else None

    def sums(self, records: Sequence[SampleRecord], metric: RatioMetric) -> tuple[np.ndarray, np.ndarray, int]:
        """Per-clip (num, den) over the run's clip universe, and the number of contributing records."""
        num, den = np.zeros(len(self.index)), np.zeros(len(self.index))
        n = 0
        for record in records:
            part = metric.contribution(record)
            if part is not None:
                i = self.index[record.clip_id]
                num[i] += part[0]
                den[i] += part[1]
                n += 1
        return num, den, n

    def replicates(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.weights @ num) / (self.weights @ den)


def percentile_ci(replicates: np.ndarray) -> tuple[float, float] | None:
    """95% percentile interval of the finite replicates (a resample may miss every clip with a denominator)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return float(lo), float(hi)


def compute(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric], bootstrap: ClipBootstrap
            ) -> tuple[dict[str, MetricValue], dict[str, np.ndarray]]:
    """Every metric's value, clip-level bootstrap CI and count, plus its replicates (for composites)."""
    records = scored(records)
    values: dict[str, MetricValue] = {}
    reps: dict[str, np.ndarray] = {}
    for metric in metrics:
        num, den, n = bootstrap.sums(records, metric)
        if n == 0 or den.sum() == 0:
            values[metric.name] = MetricValue(None, None, metric.higher_is_better, n)
            continue
        reps[metric.name] = bootstrap.replicates(num, den)
        values[metric.name] = MetricValue(float(num.sum() / den.sum()), percentile_ci(reps[metric.name]),
                                          metric.higher_is_better, n)
    return values, reps


def contributions(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric]
                  ) -> dict[str, dict[str, list[float]]]:
    """probe_id -> {metric: [num, den]} for every metric a record counts in.

    Written into the samples file, these make every metric recomputable from samples alone: the gate pairs them by
    probe id without knowing how any task defines its metrics.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for record in scored(records):
        for metric in metrics:
            part = metric.contribution(record)
            if part is not None:
                out.setdefault(record.probe_id, {})[metric.name] = [float(part[0]), float(part[1])]
    return out


def point_values(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric]) -> dict[str, float | None]:
    totals: dict[str, list[float]] = {m.name: [0.0, 0.0] for m in metrics}
    for record in scored(records):
        for metric in metrics:
            part = metric.contribution(record)
            if part is not None:
                totals[metric.name][0] += part[0]
                totals[metric.name][1] += part[1]
    return {name: _round(num / den) if den else None for name, (num, den) in totals.items()}


def breakdown(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric],
              key: Callable[[SampleRecord], str | None]) -> dict[str, dict[str, float | None]]:
    """Point values per group (per class, per paraphrase, ...); groups with no contribution are left out."""
    groups: dict[str, list[SampleRecord]] = defaultdict(list)
    for record in scored(records):
        group = key(record)
        if group is not None:
            groups[group].append(record)
    out = {}
    for group in sorted(groups):
        values = {k: v for k, v in point_values(groups[group], metrics).items() if v is not None}
        if values:
            out[group] = values
    return out


def paraphrase_spread(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric]) -> dict[str, dict]:
    """Each metric per paraphrase index and its spread (max - min): how much the wording alone moves the number."""
    per = breakdown(records, metrics, lambda r: f"p{r.paraphrase}")
    out = {}
    for metric in metrics:
        values = {p: v[metric.name] for p, v in per.items() if metric.name in v}
        if len(values) >= 2:
            out[metric.name] = {"values": values, "spread": _round(max(values.values()) - min(values.values()))}
    return out


# --- building blocks the tasks share -------------------------------------------------------------------------

def rate(name: str, higher_is_better: bool | None, applies: Callable[[SampleRecord], bool],
         hit: Callable[[SampleRecord], bool]) -> RatioMetric:
    """Share of applicable records where ``hit`` holds."""
    return RatioMetric(name, higher_is_better, lambda r: (float(hit(r)), 1.0) if applies(r) else None)


def said_yes(record: SampleRecord) -> bool:
    return record.answer == "yes"


def binary_metrics(prefix: str, applies: Callable[[SampleRecord], bool]) -> list[RatioMetric]:
    """POPE-style accuracy, precision, recall, F1, yes-ratio and invalid rate over yes/no records.

    Positives are probes whose expected answer is yes; an invalid answer is wrong (a false negative on a positive,
    a false positive on a negative). Tests check these values against sklearn.metrics on the same labels.
    """
    def predicted_yes(r: SampleRecord) -> bool:
        return r.answer == "yes" or (r.answer == "invalid" and r.expected == "no")

    def confusion(r: SampleRecord) -> str:
        pos, pred = r.expected == "yes", predicted_yes(r)
        return {(True, True): "tp", (True, False): "fn", (False, True): "fp", (False, False): "tn"}[(pos, pred)]

    def part(weights: dict[str, tuple[float, float]]) -> Contribution:
        return lambda r: weights.get(confusion(r), (0.0, 0.0)) if applies(r) else None

    p = f"{prefix}_" if prefix else ""
    return [
        rate(f"{p}accuracy", True, applies, lambda r: bool(r.correct)),
        RatioMetric(f"{p}precision", True, part({"tp": (1, 1), "fp": (0, 1)})),
        RatioMetric(f"{p}recall", True, part({"tp": (1, 1), "fn": (0, 1)})),
        RatioMetric(f"{p}f1", True, part({"tp": (2, 2), "fp": (0, 1), "fn": (0, 1)})),
        rate(f"{p}yes_ratio", None, applies, said_yes),
        rate(f"{p}invalid_rate", False, applies, lambda r: r.answer == "invalid"),
    ]
