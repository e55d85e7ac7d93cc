"""The audio grounding score (AGS): mean of (1 - headline VAHR, 1 - silent hallucination rate, visual-adversarial
sound_presence F1). Its CI comes from the parts' shared clip resamples; it is always reported beside its parts."""

from __future__ import annotations

import numpy as np

from acpo_bench.metrics import percentile_ci
from acpo_bench.task import TaskSummary

# (task, metric, enters as 1 - value)
COMPONENTS = (("swapped_audio", "vahr", True), ("silent_video", "silent_hallucination_rate", True),
              ("sound_presence", "adversarial_f1", False))


def audio_grounding_score(summaries: dict[str, TaskSummary]) -> dict | None:
    """The AGS block of the results file, or None when a component task did not run or has no value."""
    values, replicates, parts = [], [], {}
    for task, metric, inverted in COMPONENTS:
        summary = summaries.get(task)
        value = summary.metrics.get(metric) if summary else None
        if value is None or value.value is None or metric not in summary.replicates:
            return None
        values.append(1 - value.value if inverted else value.value)
        reps = summary.replicates[metric]
        replicates.append(1 - reps if inverted else reps)
        parts[f"{task}.{metric}"] = value.value
    ci = percentile_ci(np.mean(replicates, axis=0))
    return {"value": round(float(np.mean(values)), 6), "ci95": None if ci is None else [round(v, 6) for v in ci],
            "higher_is_better": True, "components": parts}
