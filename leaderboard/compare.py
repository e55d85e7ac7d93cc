"""Before/after comparison of runs on the same probes: every metric, its change, and the 95% CI of the change.

Reads only results and samples files. The change of a metric is paired: both runs' values are recomputed on the
same bootstrap resample of clips (leaderboard.stats.paired_bootstrap), so the CI of the delta is much tighter than
the two runs' separate CIs would suggest.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from acpo_bench.leaderboard.pairing import metric_arrays, pair_task
from acpo_bench.leaderboard.runs import AGS, Run
from acpo_bench.leaderboard.stats import paired_bootstrap


@dataclass(frozen=True)
class Change:
    key: str  # task.metric
    higher_is_better: bool | None
    before: float | None
    after: float | None
    delta: float | None
    delta_ci95: tuple[float, float] | None


def compare(before: Run, after: Run, tasks: Sequence[str] | None = None, seed: int = 0,
            n_resamples: int = 2000) -> list[Change]:
    """Every metric of every shared task, paired by probe id (InvalidComparison if the probes differ)."""
    changes = []
    for task in tasks or [t for t in before.tasks if t in after.tasks]:
        paired = pair_task(before, after, task)
        for metric, entry in before.tasks[task]["metrics"].items():
            key = f"{task}.{metric}"
            arrays = metric_arrays(paired, metric, (before.path, after.path))
            b, a = arrays.values()
            direction = entry.get("higher_is_better")
            if b is None or a is None:
                changes.append(Change(key, direction, b, a, None, None))
                continue
            result = paired_bootstrap(*arrays.per_clip(paired.clip_index, paired.n_clips),
                                      higher_is_better=bool(direction), n_resamples=n_resamples, seed=seed)
            changes.append(Change(key, direction, b, a, a - b, result.delta_ci95))
    b, a = before.value(AGS), after.value(AGS)
    if b is not None and a is not None:
        changes.append(Change("audio_grounding_score", True, b, a, a - b, None))
    return changes


def relative_change(change: Change) -> float | None:
    if change.before in (None, 0) or change.delta is None:
        return None
    return change.delta / change.before


@dataclass(frozen=True)
class SeedSummary:
    key: str
    higher_is_better: bool | None
    before: float | None
    after_mean: float | None
    after_sd: float | None
    delta_mean: float | None
    delta_sd: float | None
    delta_ci95: list[tuple[float, float] | None]  # one per seed


def across_seeds(per_seed: Sequence[Sequence[Change]]) -> list[SeedSummary]:
    """Mean ± sd over training seeds of each metric after training and of its change."""
    out = []
    for rows in zip(*per_seed, strict=True):
        afters = [r.after for r in rows if r.after is not None]
        deltas = [r.delta for r in rows if r.delta is not None]
        out.append(SeedSummary(
            key=rows[0].key, higher_is_better=rows[0].higher_is_better, before=rows[0].before,
            after_mean=statistics.fmean(afters) if afters else None,
            after_sd=statistics.stdev(afters) if len(afters) > 1 else None,
            delta_mean=statistics.fmean(deltas) if deltas else None,
            delta_sd=statistics.stdev(deltas) if len(deltas) > 1 else None,
            delta_ci95=[r.delta_ci95 for r in rows]))
    return out
