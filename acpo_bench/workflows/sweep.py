"""The frames sweep (``acpo-bench sweep frames``): VAHR against the number of video frames, the ACPO paper's probe
(more frames, more audio hallucination). Each point is a full evaluation at that frame count, sharing one answer
cache (the frame count is part of every cache key)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from acpo_bench.cache import ResponseCache
from acpo_bench.clips import ClipSet
from acpo_bench.media import MediaSpec
from acpo_bench.results import atomic_write
from acpo_bench.runner import EvalConfig, evaluate
from acpo_bench.task import Task

CURVE_FILE = "frames_curve.json"
CURVE_METRICS = (("swapped_audio", "vahr_yn"), ("swapped_audio", "vahr_open"), ("swapped_audio", "invariance_yn"),
                 ("silent_video", "silent_hallucination_rate"), ("visual_presence", "own_accuracy"))


def frames_sweep(adapter, spec: dict, tasks: dict[str, Task], clips: ClipSet, counts: Sequence[int],
                 output: Path, seed: int = 0, limit: int | None = None, batch_size: int | None = None,
                 show_progress: bool = True) -> dict:
    """Evaluate at each frame count; write and return the curve document (``spec``: the model's name and adapter,
    as the command named them)."""
    output.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(output / "cache.sqlite", adapter.fingerprint())
    curve = []
    try:
        for count in counts:
            config = EvalConfig(media=MediaSpec(frames=count), seed=seed, limit=limit,
                                batch_size=batch_size or adapter.default_batch_size)
            outcome = evaluate(adapter, tasks, clips, config, cache, show_progress=show_progress)
            point = {"frames": count}
            for task, metric in CURVE_METRICS:
                if task in outcome.tasks:
                    value = outcome.tasks[task].summary.metrics.get(metric)
                    point[f"{task}.{metric}"] = value.to_json() if value else None
            curve.append(point)
    finally:
        cache.close()
    document = {"model": {**spec, "fingerprint": adapter.fingerprint()},
                "data": {"name": clips.name, "fingerprint": clips.head(limit).fingerprint()},
                "seed": seed, "curve": curve}
    atomic_write(output / CURVE_FILE, (json.dumps(document, indent=2) + "\n").encode())
    return document
