"""Pairing two runs' samples by probe id, and turning a metric's per-sample contributions into aligned arrays.

Every samples row carries ``metrics: {name: [num, den]}``, its contribution to each metric (metric = Σnum / Σden over
the task's samples), so any metric can be recomputed and paired from the samples alone, without task code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from acpo_bench.leaderboard.runs import Run
from acpo_bench.results import ResultsError, load_sample_rows


class InvalidComparison(ValueError):
    """Two runs that cannot be compared honestly (unpaired samples, other data, NaN, unknown metric...)."""


@dataclass(frozen=True)
class PairedTask:
    """One task's samples of two runs, aligned by probe id (row i of both lists is the same probe)."""

    task: str
    baseline: list[dict[str, Any]]
    candidate: list[dict[str, Any]]
    clip_index: np.ndarray  # probe -> clip number, 0..n_clips-1
    n_clips: int


@dataclass(frozen=True)
class PairedMetric:
    """A metric's per-probe contributions in both runs (0 where a probe does not count in the metric)."""

    name: str
    base_num: np.ndarray
    base_den: np.ndarray
    cand_num: np.ndarray
    cand_den: np.ndarray
    base_counts: np.ndarray  # bool: the probe counts in the metric in the baseline
    cand_counts: np.ndarray

    @property
    def binary(self) -> bool:
        """Each counted probe is a 0/1 outcome (den 1, num 0 or 1) and the same probes count in both runs."""
        same = np.array_equal(self.base_counts, self.cand_counts)
        counted = self.base_counts
        return bool(same and counted.any()
                    and np.all(self.base_den[counted] == 1) and np.all(self.cand_den[counted] == 1)
                    and np.all(np.isin(self.base_num[counted], (0, 1)))
                    and np.all(np.isin(self.cand_num[counted], (0, 1))))

    def values(self) -> tuple[float | None, float | None]:
        return _ratio(self.base_num, self.base_den), _ratio(self.cand_num, self.cand_den)

    def per_clip(self, clip_index: np.ndarray, n_clips: int) -> tuple[np.ndarray, ...]:
        """(base_num, base_den, cand_num, cand_den) summed per clip, for the cluster bootstrap."""
        return tuple(np.bincount(clip_index, weights=a, minlength=n_clips)
                     for a in (self.base_num, self.base_den, self.cand_num, self.cand_den))


def _ratio(num: np.ndarray, den: np.ndarray) -> float | None:
    total = den.sum()
    return float(num.sum() / total) if total > 0 else None


def _rows(run: Run, task: str) -> list[dict[str, Any]]:
    try:
        return load_sample_rows(run.path, task)
    except (ResultsError, KeyError, TypeError) as exc:
        raise InvalidComparison(f"{run.path}: cannot read the samples of {task!r}: {exc}") from None


def pair_task(baseline: Run, candidate: Run, task: str) -> PairedTask:
    """Align the task's samples by probe id; refuse probes present (or answered) in one run only."""
    for run in (baseline, candidate):
        if task not in run.tasks:
            raise InvalidComparison(f"{run.path}: has no task {task!r} (it has {', '.join(sorted(run.tasks))})")
    base_v, cand_v = baseline.tasks[task].get("version"), candidate.tasks[task].get("version")
    if base_v != cand_v:
        raise InvalidComparison(f"task {task!r} is version {base_v} in {baseline.path} but {cand_v} in "
                                f"{candidate.path}; re-evaluate both with the same acpo-bench")
    sides = []
    for run in (baseline, candidate):
        rows = _rows(run, task)
        by_id = {row.get("probe_id"): row for row in rows}
        if len(by_id) != len(rows) or None in by_id:
            raise InvalidComparison(f"{run.path}: samples of {task!r} have missing or repeated probe ids")
        sides.append(by_id)
    base, cand = sides
    only_base, only_cand = sorted(set(base) - set(cand)), sorted(set(cand) - set(base))
    if only_base or only_cand:
        raise InvalidComparison(
            f"{task}: {len(only_base)} probes only in the baseline {_examples(only_base)}and {len(only_cand)} only in "
            f"the candidate {_examples(only_cand)}; both runs must ask the same probes (same data, --limit, --seed and "
            "tasks)")
    ids = sorted(base)
    one_sided = [p for p in ids if (base[p].get("error") is None) != (cand[p].get("error") is None)]
    if one_sided:
        raise InvalidComparison(
            f"{task}: {len(one_sided)} probes were answered in one run but ended in an error in the other "
            f"{_examples(one_sided)}(field 'error' of the samples files); fix the failing run and evaluate it again")
    clips = sorted({base[p].get("clip_id") for p in ids}, key=str)
    number = {c: i for i, c in enumerate(clips)}
    index = np.array([number[base[p].get("clip_id")] for p in ids], dtype=np.int64)
    return PairedTask(task, [base[p] for p in ids], [cand[p] for p in ids], index, len(clips))


def metric_arrays(paired: PairedTask, metric: str, paths: tuple[Any, Any] = ("baseline", "candidate")
                  ) -> PairedMetric:
    """The metric's contributions of every paired probe, checked to be finite, non-negative pairs of numbers."""
    arrays = []
    for rows, path in zip((paired.baseline, paired.candidate), paths, strict=True):
        num, den, counts = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            part = (row.get("metrics") or {}).get(metric)
            if part is None:
                continue
            if (not isinstance(part, (list, tuple)) or len(part) != 2
                    or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in part) or part[1] < 0):
                raise InvalidComparison(f"{path}: probe {row.get('probe_id')} of {paired.task} has contribution "
                                        f"{part!r} to {metric!r}; expected [num, den], finite, den >= 0 (NaN?)")
            num[i], den[i], counts[i] = part[0], part[1], True
        arrays.append((num, den, counts))
    (bn, bd, bc), (cn, cd, cc) = arrays
    return PairedMetric(metric, bn, bd, cn, cd, bc, cc)


def _examples(ids: list[str]) -> str:
    return f"(e.g. {', '.join(ids[:3])}) " if ids else ""
