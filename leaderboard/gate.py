"""The regression gate: is a candidate checkpoint worse than its baseline on the gated metrics, beyond chance?

Per gated metric, samples are paired by probe id and a one-sided test of regression is run: McNemar's exact test
when every counted probe is a 0/1 outcome in both runs, the paired clip bootstrap otherwise (F1 and other ratios of
sums). p-values are Holm-corrected across the gated metrics; a metric fails when its corrected p < alpha AND its
point-estimate regression exceeds its tolerance. Anything that makes the comparison meaningless raises
``InvalidComparison`` instead of passing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from acpo_bench.leaderboard.pairing import InvalidComparison, PairedTask, metric_arrays, pair_task
from acpo_bench.leaderboard.runs import Run, check_metric_exists, data_differences, describe_data, split_metric
from acpo_bench.leaderboard.stats import (
    DEFAULT_RESAMPLES,
    clustered_mcnemar_regression_p,
    holm,
    mcnemar_regression_p,
    paired_bootstrap,
    regression,
)

# The value a results file records is rounded to 6 decimals; a bigger gap means samples and results disagree.
VALUE_TOLERANCE = 1e-5
# Config fields that change what a model was asked or how it answered; a difference is reported, not refused.
NOTED_CONFIG = ("scoring", "frames", "fps", "sample_rate", "max_new_tokens", "seed", "limit")


@dataclass(frozen=True)
class GateMetric:
    key: str  # task.metric
    tolerance: float = 0.0  # regression (metric units) allowed even when significant
    gated: bool = True  # False: tested and reported, never fails the gate

    @property
    def task(self) -> str:
        return split_metric(self.key)[0]

    @property
    def metric(self) -> str:
        return split_metric(self.key)[1]


# The default gate: the three parts of the audio grounding score, and the visual control under own audio with a
# 2-point tolerance (ACPO may cost a little there). Visual answers under swapped audio are reported, not gated:
# design.md calls that the next research target, not a release criterion.
DEFAULT_GATE = (
    GateMetric("swapped_audio.vahr"),
    GateMetric("silent_video.silent_hallucination_rate"),
    GateMetric("sound_presence.adversarial_f1"),
    GateMetric("visual_presence.own_accuracy", 0.02),
    GateMetric("visual_presence.swapped_accuracy", gated=False),
)


def parse_metric_spec(text: str) -> GateMetric:
    """``task.metric`` or ``task.metric:tolerance`` (tolerance in the metric's units: 0.02 = 2 points)."""
    key, colon, tol = text.partition(":")
    split_metric(key)
    if not colon:
        return GateMetric(key)
    try:
        tolerance = float(tol)
    except ValueError:
        raise ValueError(f"--metric {text!r}: tolerance {tol!r} is not a number (write e.g. "
                         f"{key}:0.02 for 2 points)") from None
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"--metric {text!r}: tolerance must be a finite number >= 0")
    return GateMetric(key, tolerance)


@dataclass(frozen=True)
class GateRow:
    key: str
    higher_is_better: bool
    baseline: float
    candidate: float
    tolerance: float
    test: str  # "mcnemar", "mcnemar-clustered" or "bootstrap"
    n: int  # paired probes (McNemar) or clips (bootstrap)
    detail: str  # discordant counts or the Δ CI
    p_value: float
    p_holm: float | None  # None: reported, not gated
    gated: bool
    alpha: float

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline

    @property
    def regression(self) -> float:
        return regression(self.baseline, self.candidate, self.higher_is_better)

    @property
    def failed(self) -> bool:
        return (self.gated and self.p_holm is not None and self.p_holm < self.alpha
                and self.regression > self.tolerance)

    @property
    def status(self) -> str:
        if not self.gated:
            return "reported"
        return "REGRESSION" if self.failed else "pass"


@dataclass(frozen=True)
class GateReport:
    baseline: Run
    candidate: Run
    alpha: float
    rows: tuple[GateRow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not any(row.failed for row in self.rows)


def run_gate(baseline: Run, candidate: Run, metrics: Sequence[GateMetric] = DEFAULT_GATE, alpha: float = 0.05,
             n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> GateReport:
    """Test every metric; raise InvalidComparison when the two runs cannot be compared on them."""
    if not 0 < alpha < 1:
        raise InvalidComparison(f"--alpha {alpha}: must be between 0 and 1")
    if not any(m.gated for m in metrics):
        raise InvalidComparison("no metric to gate: name at least one with --metric task.metric")
    keys = [m.key for m in metrics]
    if len(set(keys)) != len(keys):
        twice = sorted(k for k in set(keys) if keys.count(k) > 1)
        raise InvalidComparison(f"a metric is named twice: {', '.join(twice)}")
    base_fp, cand_fp = baseline.data.get("fingerprint"), candidate.data.get("fingerprint")
    if base_fp is None or base_fp != cand_fp:
        raise InvalidComparison(
            f"the runs used different data: {baseline.path} has {describe_data(baseline.data)}, "
            f"{candidate.path} has {describe_data(candidate.data)} (the candidate's vs the baseline's "
            f"{data_differences(candidate.data, baseline.data)}); evaluate both on the same --data, --tasks and "
            "--limit")
    tasks: dict[str, PairedTask] = {}
    tests = []
    for spec in metrics:
        direction = _direction(baseline, candidate, spec.key)
        if spec.task not in tasks:
            tasks[spec.task] = pair_task(baseline, candidate, spec.task)
        tests.append((spec, _test(baseline, candidate, tasks[spec.task], spec.metric, direction, n_resamples, seed)))
    corrected = iter(holm([t.p_value for spec, t in tests if spec.gated]))
    rows = tuple(GateRow(spec.key, t.higher_is_better, t.baseline, t.candidate, spec.tolerance, t.test, t.n,
                         t.detail, t.p_value, next(corrected) if spec.gated else None, spec.gated, alpha)
                 for spec, t in tests)
    return GateReport(baseline, candidate, alpha, rows, tuple(_config_notes(baseline, candidate)))


def _direction(baseline: Run, candidate: Run, key: str) -> bool:
    directions = []
    for run in (baseline, candidate):
        try:
            check_metric_exists(run, key)
        except ValueError as exc:
            raise InvalidComparison(str(exc)) from None
        directions.append(run.metric(key).get("higher_is_better"))
    if directions[0] is None or directions[1] is None:
        raise InvalidComparison(f"{key} is descriptive (higher_is_better is null: neither direction is better), so "
                                "a regression is undefined; gate a metric with a direction")
    if directions[0] != directions[1]:
        raise InvalidComparison(f"{key}: the two results files disagree on its direction (higher_is_better "
                                f"{directions[0]} vs {directions[1]})")
    return bool(directions[0])


class _Tested(NamedTuple):
    higher_is_better: bool
    baseline: float
    candidate: float
    test: str
    p_value: float  # one-sided, uncorrected
    n: int
    detail: str


def _test(baseline: Run, candidate: Run, paired: PairedTask, metric: str, higher_is_better: bool,
          n_resamples: int, seed: int) -> _Tested:
    """Both values and the one-sided test of regression, from the paired samples."""
    key = f"{paired.task}.{metric}"
    arrays = metric_arrays(paired, metric, (baseline.path, candidate.path))
    values = arrays.values()
    for run, value in zip((baseline, candidate), values, strict=True):
        recorded = run.value(key)
        if value is None or recorded is None:
            raise InvalidComparison(f"{run.path}: {key} has no value (no sample counts in it, or it is NaN); "
                                    "it cannot be gated on these runs")
        if abs(value - recorded) > VALUE_TOLERANCE:
            raise InvalidComparison(f"{run.path}: {key} is {recorded} in the results file but {value:.6f} from its "
                                    "samples; the files do not belong together")
    base, cand = values
    if arrays.binary:
        good = 1.0 if higher_is_better else 0.0
        counted = arrays.base_counts
        b, c = arrays.base_num[counted], arrays.cand_num[counted]
        worse_pairs, better_pairs = (b == good) & (c != good), (b != good) & (c == good)
        worse, better = int(worse_pairs.sum()), int(better_pairs.sum())
        clips = paired.clip_index[counted]
        if np.bincount(clips).max() <= 1:  # independent pairs: McNemar's exact test
            return _Tested(higher_is_better, base, cand, "mcnemar", mcnemar_regression_p(worse, better),
                           int(counted.sum()), f"{worse} worse / {better} better")
        # several probes per clip (paraphrases, questions): clip-clustered McNemar keeps the false-alarm rate
        per_clip = [np.bincount(clips, weights=x, minlength=paired.n_clips) for x in (worse_pairs, better_pairs)]
        return _Tested(higher_is_better, base, cand, "mcnemar-clustered", clustered_mcnemar_regression_p(*per_clip),
                       int(counted.sum()), f"{worse} worse / {better} better in {len(set(clips.tolist()))} clips")
    result = paired_bootstrap(*arrays.per_clip(paired.clip_index, paired.n_clips), higher_is_better,
                              n_resamples=n_resamples, seed=seed)
    ci = result.delta_ci95
    detail = "Δ CI —" if ci is None else f"Δ CI [{ci[0]:+.3f}, {ci[1]:+.3f}]"
    return _Tested(higher_is_better, base, cand, "bootstrap", result.p_value, paired.n_clips, detail)


def _config_notes(baseline: Run, candidate: Run) -> list[str]:
    base, cand = baseline.results["config"], candidate.results["config"]
    return [f"config {name} differs: baseline {base.get(name)!r}, candidate {cand.get(name)!r}"
            for name in NOTED_CONFIG if base.get(name) != cand.get(name)]
