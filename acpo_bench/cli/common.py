"""Helpers the commands share: resolving task and model names, loading data."""

from __future__ import annotations

import inspect
import re

from acpo_bench import registry
from acpo_bench.clips import ClipSet, load_clips
from acpo_bench.models import BUILTIN as BUILTIN_MODELS
from acpo_bench.task import Task
from acpo_bench.tasks import BUILTIN as BUILTIN_TASKS
from acpo_bench.tasks.suites import SUITES


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


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"
