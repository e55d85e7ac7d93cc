"""One evaluation, start to files: the model, tasks and data named by the user, run through the runner, written
as results.json + samples_<task>.jsonl. The eval command and the before/after pipeline both call it."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from acpo_bench import provenance, registry
from acpo_bench.cache import ResponseCache
from acpo_bench.clips import ClipSet, load_clips
from acpo_bench.models import BUILTIN as BUILTIN_MODELS
from acpo_bench.results import SCHEMA_VERSION, task_block, write_results, write_samples
from acpo_bench.runner import EvalConfig, EvalOutcome, evaluate
from acpo_bench.task import Task
from acpo_bench.tasks import BUILTIN as BUILTIN_TASKS
from acpo_bench.tasks.suites import SUITES

CACHE_FILE = "cache.sqlite"


def resolve_tasks(spec: str) -> tuple[dict[str, Task], int | None]:
    """``all`` / ``core`` / ``t1,t2`` -> tasks by name, and the suite's clip count (None: the whole dataset)."""
    if spec in SUITES:
        suite = SUITES[spec]
        names, clips = suite.tasks, suite.clips
    else:
        names, clips = tuple(n.strip() for n in spec.split(",") if n.strip()), None
    if not names:
        raise ValueError("--tasks is empty; name a suite (all, core) or tasks separated by commas")
    tasks = {}
    for name in names:
        task = registry.load(registry.TASK_GROUP, name, BUILTIN_TASKS, "task")
        if not isinstance(task, Task):
            raise TypeError(f"task {name!r} resolves to {type(task).__name__}, not an acpo_bench.task.Task")
        tasks[name] = task
    return tasks, clips


def load_model(name: str, model_args: dict[str, str], adapter: str | None):
    if name.startswith("lmms:"):  # an lmms-eval model through the bridge (extra [lmms])
        return registry.resolve("acpo_bench.models.lmms_bridge:load_lmms")(name[5:], model_args, adapter)
    factory = registry.load(registry.MODEL_GROUP, name, BUILTIN_MODELS, "model")
    return factory(model_args, adapter)


def load_data(tasks: dict[str, Task], data: str | None, show_progress: bool = True,
              skip_missing: bool = False) -> ClipSet:
    """The data every task of one run reads: a task's own loader (benchmarks with their own files) or a clip
    dataset; without --data, the synthetic world. Tasks with different loaders cannot share a run."""
    loaders = {task.load_data for task in tasks.values()}
    if len(loaders) > 1:
        groups = sorted(name for name, task in tasks.items() if task.load_data is not None)
        raise ValueError(f"tasks {', '.join(groups)} read their own data format; evaluate them in a separate run")
    loader = loaders.pop()
    if loader is not None:
        if not data:
            raise ValueError(f"task(s) {', '.join(tasks)} need --data DIR (the benchmark's files; see README.md)")
        if skip_missing:
            if "skip_missing" not in inspect.signature(loader).parameters:
                raise ValueError(f"the data loader of {', '.join(tasks)} has no --skip-missing option")
            return loader(data, skip_missing=True)
        return loader(data)
    if skip_missing:
        raise ValueError("--skip-missing applies to benchmarks with their own files (avhbench, cmm); in a clip "
                         "dataset a missing or broken file already becomes a per-probe error record")
    if data:
        return load_clips(data)
    from acpo_bench.synth.generate import default_world

    return default_world(show_progress=show_progress)


@dataclass(frozen=True)
class ModelSpec:
    """How the user named a model: what the results file records about it."""

    name: str
    args: dict[str, str] = field(default_factory=dict)
    adapter: str | None = None


@dataclass
class Evaluation:
    results: dict[str, Any]
    outcome: EvalOutcome
    path: Path


def evaluate_to_dir(spec: ModelSpec, adapter, tasks: dict[str, Task], clips: ClipSet, config: EvalConfig,
                    output_dir: str | Path, use_cache: bool = True, show_progress: bool = True) -> Evaluation:
    """Run ``tasks`` on ``clips`` with ``adapter``, resuming from ``output_dir``'s answer cache, and write the files."""
    started_at, started = datetime.now(timezone.utc), time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(output_dir / CACHE_FILE, adapter.fingerprint()) if use_cache else None
    try:
        outcome = evaluate(adapter, tasks, clips, config, cache, show_progress=show_progress)
    finally:
        if cache is not None:
            cache.close()
    used = clips.head(config.limit)
    results = results_document(spec, adapter, config, used, outcome)
    for name, task_outcome in outcome.tasks.items():
        samples = write_samples(output_dir, name, task_outcome.records, task_outcome.summary.contributions)
        results["tasks"][name] = task_block(task_outcome, samples)
    results["run_info"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 3),
        "host": provenance.host(),
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "command": provenance.command_line(),
        "data_path": used.root,
        "answers": {k: round(v, 3) for k, v in outcome.stats.items()},
    }
    return Evaluation(results, outcome, write_results(output_dir, results))


def results_document(spec: ModelSpec, adapter, config: EvalConfig, clips: ClipSet, outcome: EvalOutcome) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": spec.name, "adapter": spec.adapter, "fingerprint": adapter.fingerprint(),
                  "parameters": adapter.parameter_count, "args": spec.args},
        "config": {"tasks": list(outcome.tasks), "scoring": config.scoring, "frames": config.media.frames,
                   "fps": config.media.fps, "sample_rate": config.media.sample_rate, "seed": config.seed,
                   "batch_size": config.batch_size, "limit": config.limit, "max_new_tokens": config.max_new_tokens,
                   "n_resamples": config.n_resamples,
                   "data": {"name": clips.name, "fingerprint": clips.fingerprint(), "clips": len(clips.clips)}},
        "tasks": {},
        "summary": {"audio_grounding_score": outcome.grounding},
    }
