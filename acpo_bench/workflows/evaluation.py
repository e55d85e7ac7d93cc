"""One evaluation, start to files: the model, tasks and data named by the user, run through the runner, written
as results.json + samples_<task>.jsonl. The eval command and the before/after pipeline both call it."""

from __future__ import annotations

import inspect
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from acpo_bench import provenance, registry, worldgen, worlds
from acpo_bench.cache import ResponseCache
from acpo_bench.clips import ClipSet, load_clips
from acpo_bench.distributed import Shard
from acpo_bench.models import BUILTIN as BUILTIN_MODELS
from acpo_bench.results import (
    RESULTS_FILE,
    SCHEMA_VERSION,
    samples_block,
    task_block,
    write_results,
    write_samples,
)
from acpo_bench.runner import EvalConfig, EvalOutcome, evaluate
from acpo_bench.schemas import AudioRecipe
from acpo_bench.task import Task
from acpo_bench.tasks import BUILTIN as BUILTIN_TASKS
from acpo_bench.tasks.suites import SUITES

CACHE_FILE = "cache.sqlite"
RANK_CACHE_FILE = "cache.rank{rank}.sqlite"


def task_tokens(spec: str) -> list[str]:
    """The names in a ``--tasks`` value (suites and tasks, comma-separated), each once, in the order given."""
    tokens = list(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))
    if not tokens:
        raise ValueError("--tasks is empty; name a suite (all, core) or tasks separated by commas")
    return tokens


def resolve_tasks(spec: str) -> tuple[dict[str, Task], int | None]:
    """``all`` / ``core`` / ``t1,t2`` / ``core,t3`` -> tasks by name, and the clip count of the suites named (None:
    the whole dataset). A suite inside a comma list expands to its tasks; a task named twice runs once."""
    names: list[str] = []
    suite_clips = {}
    for token in task_tokens(spec):
        if token in SUITES:
            names += SUITES[token].tasks
            suite_clips[token] = SUITES[token].clips
        else:
            names.append(token)
    if len(set(suite_clips.values())) > 1:
        counts = ", ".join(f"{name}: {'all' if n is None else n} clips" for name, n in suite_clips.items())
        raise ValueError(f"--tasks {spec!r} names suites that run on different numbers of clips ({counts}); name "
                         "one of them, and --limit N for another clip count")
    tasks = {}
    for name in dict.fromkeys(names):
        task = registry.load(registry.TASK_GROUP, name, BUILTIN_TASKS, "task")
        if not isinstance(task, Task):
            raise TypeError(f"task {name!r} resolves to {type(task).__name__}, not an acpo_bench.task.Task")
        tasks[name] = task
    return tasks, next(iter(suite_clips.values()), None)


def load_model(name: str, model_args: dict[str, str], adapter: str | None):
    if name.startswith("lmms:"):  # an lmms-eval model through the bridge (extra [lmms])
        return registry.resolve("acpo_bench.models.lmms_bridge:load_lmms")(name[5:], model_args, adapter)
    factory = registry.load(registry.MODEL_GROUP, name, BUILTIN_MODELS, "model")
    return factory(model_args, adapter)


def load_data(tasks: dict[str, Task], data: str | None, show_progress: bool = True,
              skip_missing: bool = False, world: str | None = None) -> ClipSet:
    """The data every task of one run reads: a task's own loader (benchmarks with their own files), a clip dataset
    directory, or a generated world by name (``synth``, ``stamps``); without --data, the world the model declares
    (``world``), else the real-media world. Tasks with different loaders cannot share a run."""
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
    if data and data not in worlds.WORLDS:
        return load_clips(data)
    return worlds.build(worlds.WorldSpec(data or worlds.world_for(world)), show_progress=show_progress)


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


def cache_files(output_dir: Path, shard: Shard | None) -> tuple[Path, list[Path]]:
    """The cache file this process writes (one per rank in a data-parallel run: no two writers share a file, which
    also holds on network file systems) and every other cache file of the directory, whose answers it reuses."""
    own = output_dir / (CACHE_FILE if shard is None else RANK_CACHE_FILE.format(rank=shard.rank))
    others = sorted(p for p in [output_dir / CACHE_FILE, *output_dir.glob(RANK_CACHE_FILE.format(rank="*"))]
                    if p != own and p.is_file())
    return own, others


def evaluate_to_dir(spec: ModelSpec, adapter, tasks: dict[str, Task], clips: ClipSet, config: EvalConfig,
                    output_dir: str | Path, use_cache: bool = True, show_progress: bool = True,
                    shard: Shard | None = None) -> Evaluation:
    """Run ``tasks`` on ``clips`` with ``adapter``, resuming from ``output_dir``'s answer cache, and write the files.

    Data-parallel (``shard``): every rank answers its share and caches it in its own file; the answers are
    gathered and rank 0 alone writes results and samples (the other ranks return the same Evaluation, unwritten).
    """
    started_at, started = datetime.now(timezone.utc), time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    used = clips.head(config.limit)
    cache = None
    try:
        if use_cache:  # first: a cache of another model's answers is refused with its own message
            own, others = cache_files(output_dir, shard)
            cache = ResponseCache(own, adapter.fingerprint(), also_read=others)
        check_output_dir(output_dir, {"model": model_block(spec, adapter),
                                      "config": config_block(config, used, list(tasks))})
        outcome = evaluate(adapter, tasks, clips, config, cache, show_progress=show_progress, shard=shard)
    finally:
        if cache is not None:
            cache.close()
    results = results_document(spec, adapter, config, used, outcome)
    writes = shard is None or shard.is_main
    for name, task_outcome in outcome.tasks.items():
        samples = (write_samples(output_dir, name, task_outcome.records, task_outcome.summary.contributions)
                   if writes else samples_block(task_outcome.records, task_outcome.summary.contributions, name))
        results["tasks"][name] = task_block(task_outcome, samples)
    results["run_info"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 3),
        "host": provenance.host(),
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "command": provenance.command_line(),
        "data_path": used.root,
        "device": str(getattr(adapter, "device", None) or "cpu"),
        "processes": shard.world if shard else 1,
        "answers": _rounded(outcome.stats),
    }
    path = write_results(output_dir, results) if writes else output_dir / RESULTS_FILE
    return Evaluation(results, outcome, path)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def results_document(spec: ModelSpec, adapter, config: EvalConfig, clips: ClipSet, outcome: EvalOutcome) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": model_block(spec, adapter),
        "config": {**config_block(config, clips, list(outcome.tasks)), "audio": audio_recipes(outcome)},
        "tasks": {},
        "summary": {"audio_grounding_score": outcome.grounding},
    }


def model_block(spec: ModelSpec, adapter) -> dict[str, Any]:
    return {"name": spec.name, "adapter": spec.adapter, "fingerprint": adapter.fingerprint(),
            "parameters": adapter.parameter_count, "args": spec.args}


def config_block(config: EvalConfig, clips: ClipSet, task_names: list[str]) -> dict[str, Any]:
    """The results file's ``config`` (without the audio recipes, which follow from the probes): ``clips`` are the
    clips the run uses (after --limit)."""
    return {"tasks": task_names, "scoring": config.scoring, "frames": config.media.frames,
            "fps": config.media.fps, "sampling": config.media.sampling, "sample_rate": config.media.sample_rate,
            "seed": config.seed, "batch_size": config.batch_size, "limit": config.limit,
            "max_new_tokens": config.max_new_tokens, "n_resamples": config.n_resamples,
            "data": {"name": clips.name, "world": worldgen.world_kind(clips.root),
                     "fingerprint": clips.fingerprint(), "clips": len(clips.clips)}}


# What makes two runs' results differ, as (label, path in results.json); batch size, workers and the like change
# only how fast the answers come, and run_info only records what happened.
RUN_SETTINGS = (("model", ("model", "name")), ("adapter", ("model", "adapter")), ("model args", ("model", "args")),
                ("tasks", ("config", "tasks")), ("data", ("config", "data", "fingerprint")),
                ("limit", ("config", "limit")), ("scoring", ("config", "scoring")), ("frames", ("config", "frames")),
                ("fps", ("config", "fps")), ("frame sampling", ("config", "sampling")),
                ("sample rate", ("config", "sample_rate")), ("seed", ("config", "seed")),
                ("max new tokens", ("config", "max_new_tokens")))
_ABSENT = object()


class OutputDirInUse(ValueError):
    """The output directory holds the results of a run with other settings; the message names each difference."""


def check_output_dir(output_dir: Path, planned: dict[str, Any]) -> None:
    """Refuse to overwrite the results of a run made with other settings (``planned``: the model and config blocks
    this run will write). A rerun with the same settings passes: that is how a run resumes from its answer cache.
    Fields an older results file lacks are not compared."""
    path = output_dir / RESULTS_FILE
    if not path.is_file():
        return
    try:
        done = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise OutputDirInUse(f"{path} exists but cannot be read as a results file ({exc}); give a new "
                             "--output-dir, or delete that file to start over") from None
    planned = json.loads(json.dumps(planned))  # compared as the file stores them: lists, not tuples
    changes = []
    for label, keys in RUN_SETTINGS:
        recorded, now = _lookup(done, keys), _lookup(planned, keys)
        if recorded is not _ABSENT and recorded != now:
            there, here = ((_data_label(done), _data_label(planned)) if label == "data"
                           else (json.dumps(recorded), json.dumps(now)))
            changes.append(f"{label} {there} there, {here} now")
    if changes:
        raise OutputDirInUse(f"{output_dir} holds the results of a run with other settings ({'; '.join(changes)}). "
                             f"Give a new --output-dir for this run (or delete {path} to replace that run)")


def _lookup(document: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return _ABSENT
        document = document[key]
    return document


def _data_label(document: dict) -> str:
    data = _lookup(document, ("config", "data"))
    data = data if isinstance(data, dict) else {}
    clips = f"{data['clips']} clips, " if data.get("clips") is not None else ""
    return f"{data.get('name')} ({clips}{str(data.get('fingerprint')).removeprefix('sha256:')[:10]})"


def audio_recipes(outcome: EvalOutcome) -> dict[str, Any]:
    """How the audio each probe heard was made: the decode rule, and per task the recipes with their parameters
    (noise level, gain) and how many probes heard each. Swap partners follow from the seed and the data."""
    per_task = {}
    for name, task_outcome in outcome.tasks.items():
        counts = Counter(_recipe_name(probe.audio) for probe in task_outcome.probes)
        per_task[name] = dict(sorted(counts.items()))
    return {"decode": "first audio stream, channels averaged to mono, resampled to sample_rate; own audio cut or "
                      "zero-padded and swapped audio cut or looped to the video's duration",
            "recipes": per_task}


def _recipe_name(recipe: AudioRecipe) -> str:
    """A recipe without the swap source (which differs per clip): "swap", "noise:dbfs=-40", "own:gain=-20"."""
    parts = [recipe.kind]
    if recipe.noise_dbfs is not None:
        parts.append(f"dbfs={recipe.noise_dbfs:g}")
    if recipe.gain_db:
        parts.append(f"gain={recipe.gain_db:g}")
    return ":".join(parts)
