"""The evaluator, as named stages: build probes -> plan jobs -> answer (cache, decode, adapter) -> score ->
aggregate -> results. Each stage is a plain function; ``evaluate`` only calls them in order."""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

from acpo_bench.adapter import Adapter, Request
from acpo_bench.cache import ResponseCache
from acpo_bench.clips import ClipSet
from acpo_bench.distributed import Shard, gather
from acpo_bench.grounding import audio_grounding_score
from acpo_bench.media import MediaError, MediaSpec
from acpo_bench.media_store import MediaStore
from acpo_bench.metrics import N_RESAMPLES, ClipBootstrap
from acpo_bench.schemas import YES_NO_CHOICES, Probe, Response, SampleRecord, error_record, probe_media
from acpo_bench.task import Task, TaskSummary

Scoring = Literal["auto", "loglik", "generate"]
Mode = Literal["loglik", "generate"]


@dataclass(frozen=True)
class EvalConfig:
    scoring: Scoring = "auto"
    media: MediaSpec = field(default_factory=MediaSpec)
    seed: int = 0
    batch_size: int | None = None
    limit: int | None = None
    max_new_tokens: int = 64
    n_resamples: int = N_RESAMPLES
    workers: int | None = None  # threads decoding/featurizing ahead of the model (None: min(4, CPUs); 0: inline)

    def __post_init__(self) -> None:
        # a slice would take -1 as "all clips but the last" and 0 as none: both are mistakes, not requests
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ValueError(f"limit must be a positive number of clips (or None for all), got {self.limit!r}")


@dataclass(frozen=True)
class Job:
    probe: Probe
    mode: Mode


@dataclass
class TaskOutcome:
    task: Task
    probes: list[Probe]
    records: list[SampleRecord]
    summary: TaskSummary
    skipped: int
    skipped_reasons: dict[str, int] = field(default_factory=dict)  # why each skipped clip got no probe: counts

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.records)


@dataclass
class EvalOutcome:
    tasks: dict[str, TaskOutcome]
    grounding: dict | None
    stats: dict[str, float]


class ScoringError(ValueError):
    pass


# --- stages ---------------------------------------------------------------------------------------------------

def build_probes(tasks: dict[str, Task], clips: ClipSet, seed: int) -> dict[str, tuple[list[Probe], Counter[str]]]:
    """Each task's probes, and why it asked nothing about the clips it could not use (reason -> clips skipped)."""
    out = {}
    for name, task in tasks.items():
        probes = task.build(clips, seed)
        used = {p.clip_id for p in probes}
        out[name] = (probes, Counter(task.why_skipped(clips, index, seed)
                                     for index, clip in enumerate(clips.clips) if clip.clip_id not in used))
    return out


def choose_mode(probe: Probe, scoring: Scoring, adapter: Adapter) -> Mode:
    if probe.kind != "yes_no" or scoring == "generate":
        return "generate"
    if scoring == "loglik" and not adapter.supports_loglik:
        raise ScoringError(f"{adapter.name} cannot score choices by log-likelihood; use --scoring auto or generate")
    return "loglik" if adapter.supports_loglik else "generate"


def plan_jobs(probes: Sequence[Probe], scoring: Scoring, adapter: Adapter) -> list[Job]:
    """One job per distinct probe id (tasks that ask the very same question share its answer)."""
    jobs: dict[str, Job] = {}
    for probe in probes:
        jobs.setdefault(probe.probe_id, Job(probe, choose_mode(probe, scoring, adapter)))
    return list(jobs.values())


def job_settings(job: Job, config: EvalConfig) -> dict:
    """Everything besides the model and the probe that changes an answer: part of the cache key."""
    settings = {"mode": job.mode, "media": config.media.key(), "sample_rate": config.media.sample_rate}
    if job.mode == "loglik":
        settings["choices"] = list(YES_NO_CHOICES)
    else:
        settings["max_new_tokens"] = config.max_new_tokens
    return settings


def _ask(adapter: Adapter, mode: Mode, requests: list[Request], config: EvalConfig) -> list[Response]:
    if mode == "loglik":
        scores = adapter.score_choices(requests, YES_NO_CHOICES)
        return [Response(text=max(s, key=s.get), scored_by="loglik", choice_logprobs=s) for s in scores]
    texts = adapter.generate(requests, config.max_new_tokens)
    return [Response(text=t, scored_by="generate") for t in texts]


class BatchLimit:
    """The batch size the answer loop uses: it starts at the requested size and halves on an out-of-memory error,
    for the rest of the run. Counts the sizes of the batches that answered (recorded in run_info)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"batch size must be >= 1, got {size}")
        self.requested = self.size = size
        self.used: Counter[int] = Counter()
        self.halvings = 0

    def shrink(self, size: int) -> None:
        if size < self.size:
            self.size, self.halvings = size, self.halvings + 1

    def stats(self) -> dict:
        return {"requested": self.requested, "final": self.size, "halvings": self.halvings,
                "batches": {str(k): v for k, v in sorted(self.used.items(), reverse=True)}}


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError (torch.OutOfMemoryError), MemoryError, or a RuntimeError saying a device ran
    out of memory. Told by class name and message, so the core never imports torch."""
    if any(cls.__name__ in ("OutOfMemoryError", "MemoryError") for cls in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _release_device_memory() -> None:
    """Hand cached blocks back to the device allocator after an OOM (only if the adapter already loaded torch)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def shard_jobs(jobs: Sequence[Job], rank: int, world: int) -> list[Job]:
    """This rank's share of the jobs for data-parallel evaluation: whole media groups (every question about one
    (video, audio) pair stays on one rank, decoded and encoded once), largest first to the least loaded rank. The
    split depends only on the jobs, so every rank computes the same one without talking to the others."""
    sizes = Counter(job.probe.media_key for job in jobs)
    loads = [0] * world
    owner = {}
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        owner[key] = min(range(world), key=lambda r: (loads[r], r))
        loads[owner[key]] += sizes[key]
    return [job for job in jobs if owner[job.probe.media_key] == rank]


def answer_jobs(jobs: Sequence[Job], adapter: Adapter, cache: ResponseCache | None, config: EvalConfig,
                vocabulary: tuple[str, ...], advance: Callable[[int], None] = lambda n: None
                ) -> tuple[dict[str, Response | str], dict]:
    """probe_id -> Response, or an error string. Cached answers are reused; new ones are committed per batch."""
    fingerprint = adapter.fingerprint()
    keys = {j.probe.probe_id: ResponseCache.key(fingerprint, j.probe.probe_id, job_settings(j, config)) for j in jobs}
    cached = cache.get_many(list(keys.values())) if cache is not None else {}
    answers: dict[str, Response | str] = {}
    for job in jobs:
        if keys[job.probe.probe_id] in cached:
            answers[job.probe.probe_id] = cached[keys[job.probe.probe_id]]
    advance(len(answers))
    todo = sorted((j for j in jobs if j.probe.probe_id not in answers),
                  key=lambda j: (j.mode, j.probe.media_key, j.probe.probe_id))
    store = MediaStore(config.media)
    limit = BatchLimit(config.batch_size or adapter.default_batch_size)
    computed = errors = 0
    ordered = [j for mode in ("loglik", "generate") for j in todo if j.mode == mode]
    loaded = prefetch(ordered, adapter, store, config, vocabulary, lambda: 2 * limit.size)
    for mode in ("loglik", "generate"):
        group = [j for j in todo if j.mode == mode]
        start = 0
        while start < len(group):
            batch = group[start:start + limit.size]
            start += len(batch)
            requests: list[Request] = []
            for job, request in itertools.islice(loaded, len(batch)):
                if isinstance(request, str):
                    answers[job.probe.probe_id] = request
                    errors += 1
                else:
                    requests.append(request)
            responses = _answer_batch(adapter, mode, requests, config, limit)
            new = []
            for request, response in zip(requests, responses, strict=True):
                answers[request.probe.probe_id] = response
                if isinstance(response, Response):
                    new.append((keys[request.probe.probe_id], request.probe.probe_id, response))
                else:
                    errors += 1
            if cache is not None and new:
                cache.put_many(new)
            computed += len(new)
            advance(len(batch))
    return answers, {"cached": len(cached), "computed": computed, "errors": errors, "batch_size": limit.stats()}


def _media_failure(probe: Probe, exc: Exception) -> str:
    if isinstance(exc, MediaError):
        return str(exc)
    # a file no rule foresaw must not end an hours-long run: record it
    return f"{probe.video}: cannot load media ({type(exc).__name__}: {exc})"


def _load_group(jobs: Sequence[Job], adapter: Adapter, store: MediaStore, config: EvalConfig,
                vocabulary: tuple[str, ...]) -> list[Request | str]:
    """The requests of jobs that share one (video, audio) pair: decoded once, and prepared once by an adapter with
    a ``prepare`` method (its features). Each failure is a per-probe error string."""
    probe = jobs[0].probe
    media = []

    def load():
        if not media:
            media.append(store.load(probe.video, probe.video_id, probe.audio))
        return media[0]

    prepare = getattr(adapter, "prepare", None)
    prepared = None
    try:
        if prepare is not None:
            try:
                prepared = prepare(probe, config.media, load)
            except Exception:
                if not media:  # the media itself failed: that is the probe's error, as without prepare
                    raise
                # the adapter's own preparation failed: it answers from the media and reports per batch as before
        current = load() if prepared is None else None
    except Exception as exc:
        return [_media_failure(job.probe, exc) for job in jobs]
    return [Request(job.probe, current, vocabulary, prepared) for job in jobs]


def prefetch(jobs: Sequence[Job], adapter: Adapter, store: MediaStore, config: EvalConfig,
             vocabulary: tuple[str, ...], window: Callable[[], int] = lambda: 64
             ) -> Iterator[tuple[Job, Request | str]]:
    """(job, request or error string) for every job, in order. Decoding and the adapter's preparation run in
    ``config.workers`` threads, up to ``window()`` jobs ahead of the consumer, so they overlap the model; the
    requests and their order are the same as loading each job when its batch comes (``workers=0`` does that)."""
    groups = [list(g) for _, g in itertools.groupby(jobs, key=lambda j: j.probe.media_key)]
    workers = config.workers if config.workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 0:
        for group in groups:
            yield from zip(group, _load_group(group, adapter, store, config, vocabulary), strict=True)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acpo-media") as pool:
        pending: deque = deque()
        ahead = 0
        next_group = iter(groups)
        try:
            while True:
                while ahead < max(window(), 1) or not pending:
                    group = next(next_group, None)
                    if group is None:
                        break
                    pending.append((group, pool.submit(_load_group, group, adapter, store, config, vocabulary)))
                    ahead += len(group)
                if not pending:
                    return
                group, future = pending.popleft()
                ahead -= len(group)
                yield from zip(group, future.result(), strict=True)
        finally:
            for _, future in pending:
                future.cancel()


def _answer_batch(adapter: Adapter, mode: Mode, requests: list[Request], config: EvalConfig,
                  limit: BatchLimit | None = None) -> list[Response | str]:
    """Answer a batch. Out of memory: halve it and answer the halves (later batches start at the smaller size).
    Any other failure: retry one by one, so one bad request costs only itself."""
    if not requests:
        return []
    limit = limit or BatchLimit(len(requests))
    try:
        out = list(_ask(adapter, mode, requests, config))
        limit.used[len(requests)] += 1
        return out
    except Exception as exc:  # an adapter may fail in any way; the run must go on and say why
        out_of_memory, reason = is_out_of_memory(exc), f"{type(exc).__name__}: {exc}"
    # retried only here, once the exception (and the activations its traceback holds) has been released
    if out_of_memory:
        _release_device_memory()
        if len(requests) == 1:
            return [f"{adapter.name} ran out of memory on a single request ({reason})"]
        half = (len(requests) + 1) // 2
        limit.shrink(half)
        return (_answer_batch(adapter, mode, requests[:half], config, limit)
                + _answer_batch(adapter, mode, requests[half:], config, limit))
    if len(requests) == 1:
        return [f"{adapter.name} failed: {reason}"]
    return [out for request in requests for out in _answer_batch(adapter, mode, [request], config, limit)]


def score_records(task: Task, probes: Sequence[Probe], answers: dict[str, Response | str], clips: ClipSet
                  ) -> list[SampleRecord]:
    records = []
    for probe in probes:
        answer = answers[probe.probe_id]
        record = error_record(probe, answer) if isinstance(answer, str) else task.score(probe, answer, clips.lexicon)
        records.append(replace(record, media=probe_media(probe, clips.root)))
    return records


# --- the whole evaluation -------------------------------------------------------------------------------------

def evaluate(adapter: Adapter, tasks: dict[str, Task], clips: ClipSet, config: EvalConfig,
             cache: ResponseCache | None = None, show_progress: bool = True, shard: Shard | None = None
             ) -> EvalOutcome:
    """The whole evaluation. With a ``shard`` (data-parallel, torchrun) this process answers its share of the jobs
    and every rank then holds every answer, so scoring and aggregation are those of a single process."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    clips = clips.head(config.limit)
    built = build_probes(tasks, clips, config.seed)
    jobs = plan_jobs([p for probes, _ in built.values() for p in probes], config.scoring, adapter)
    mine = shard_jobs(jobs, shard.rank, shard.world) if shard else jobs
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        label = f"{adapter.name}: answering" + (f" (rank {shard.rank} of {shard.world})" if shard else "")
        bar = progress.add_task(label, total=len(mine))
        answers, stats = answer_jobs(mine, adapter, cache, config, clips.lexicon.classes,
                                     lambda n: progress.advance(bar, n))
    stats["answer_s"] = time.perf_counter() - started
    if shard:
        answers, stats = _merge_ranks(gather(shard, (answers, stats)))
    bootstrap = ClipBootstrap([c.clip_id for c in clips.clips], config.seed, config.n_resamples)
    outcomes = {}
    for name, task in tasks.items():
        probes, skip_reasons = built[name]
        records = score_records(task, probes, answers, clips)
        outcomes[name] = TaskOutcome(task, probes, records, task.aggregate(records, bootstrap),
                                     sum(skip_reasons.values()), dict(skip_reasons.most_common()))
    summaries = {name: o.summary for name, o in outcomes.items()}
    return EvalOutcome(outcomes, audio_grounding_score(summaries), stats)


def _merge_ranks(parts: list[tuple[dict, dict]]) -> tuple[dict[str, Response | str], dict]:
    """Every rank's answers in one dict; counts summed, each rank's own stats kept."""
    answers: dict[str, Response | str] = {}
    for rank_answers, _ in parts:
        answers.update(rank_answers)
    totals = {key: sum(stats[key] for _, stats in parts) for key in ("cached", "computed", "errors")}
    totals["answer_s"] = max(stats["answer_s"] for _, stats in parts)
    totals["ranks"] = [stats for _, stats in parts]
    return answers, totals
