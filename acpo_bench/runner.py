"""The evaluator, as named stages: build probes -> plan jobs -> answer (cache, decode, adapter) -> score ->
aggregate -> results. Each stage is a plain function; ``evaluate`` only calls them in order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from acpo_bench.adapter import Adapter, Request
from acpo_bench.cache import ResponseCache
from acpo_bench.clips import ClipSet
from acpo_bench.grounding import audio_grounding_score
from acpo_bench.media import MediaError, MediaSpec
from acpo_bench.media_store import MediaStore
from acpo_bench.metrics import N_RESAMPLES, ClipBootstrap
from acpo_bench.schemas import YES_NO_CHOICES, Probe, Response, SampleRecord, error_record
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

def build_probes(tasks: dict[str, Task], clips: ClipSet, seed: int) -> dict[str, tuple[list[Probe], int]]:
    """Each task's probes and the number of clips it could not use (skipped)."""
    out = {}
    for name, task in tasks.items():
        probes = task.build(clips, seed)
        used = {p.clip_id for p in probes}
        out[name] = (probes, sum(c.clip_id not in used for c in clips.clips))
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


def answer_jobs(jobs: Sequence[Job], adapter: Adapter, cache: ResponseCache | None, config: EvalConfig,
                vocabulary: tuple[str, ...], advance: Callable[[int], None] = lambda n: None
                ) -> tuple[dict[str, Response | str], dict[str, int]]:
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
    batch_size = config.batch_size or adapter.default_batch_size
    computed = errors = 0
    for mode in ("loglik", "generate"):
        group = [j for j in todo if j.mode == mode]
        for start in range(0, len(group), batch_size):
            batch = group[start:start + batch_size]
            requests: list[Request] = []
            for job in batch:
                probe = job.probe
                try:
                    media = store.load(probe.video, probe.video_id, probe.audio)
                except MediaError as exc:
                    answers[probe.probe_id] = str(exc)
                    errors += 1
                    continue
                requests.append(Request(probe, media, vocabulary))
            responses = _answer_batch(adapter, mode, requests, config)
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
    return answers, {"cached": len(cached), "computed": computed, "errors": errors}


def _answer_batch(adapter: Adapter, mode: Mode, requests: list[Request], config: EvalConfig
                  ) -> list[Response | str]:
    """Answer a batch; if the adapter fails on it, retry one by one so one bad request costs only itself."""
    if not requests:
        return []
    try:
        return list(_ask(adapter, mode, requests, config))
    except Exception as exc:  # an adapter may fail in any way; the run must go on and say why
        if len(requests) == 1:
            return [f"{adapter.name} failed: {type(exc).__name__}: {exc}"]
    return [out for request in requests for out in _answer_batch(adapter, mode, [request], config)]


def score_records(task: Task, probes: Sequence[Probe], answers: dict[str, Response | str], clips: ClipSet
                  ) -> list[SampleRecord]:
    records = []
    for probe in probes:
        answer = answers[probe.probe_id]
        if isinstance(answer, str):
            records.append(error_record(probe, answer))
        else:
            records.append(task.score(probe, answer, clips.lexicon))
    return records


# --- the whole evaluation -------------------------------------------------------------------------------------

def evaluate(adapter: Adapter, tasks: dict[str, Task], clips: ClipSet, config: EvalConfig,
             cache: ResponseCache | None = None, show_progress: bool = True) -> EvalOutcome:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    clips = clips.head(config.limit)
    built = build_probes(tasks, clips, config.seed)
    jobs = plan_jobs([p for probes, _ in built.values() for p in probes], config.scoring, adapter)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        bar = progress.add_task(f"{adapter.name}: answering", total=len(jobs))
        answers, stats = answer_jobs(jobs, adapter, cache, config, clips.lexicon.classes,
                                     lambda n: progress.advance(bar, n))
    stats["answer_s"] = time.perf_counter() - started
    bootstrap = ClipBootstrap([c.clip_id for c in clips.clips], config.seed, config.n_resamples)
    outcomes = {}
    for name, task in tasks.items():
        probes, skipped = built[name]
        records = score_records(task, probes, answers, clips)
        outcomes[name] = TaskOutcome(task, probes, records, task.aggregate(records, bootstrap), skipped)
    summaries = {name: o.summary for name, o in outcomes.items()}
    return EvalOutcome(outcomes, audio_grounding_score(summaries), stats)
