"""Re-scoring existing predictions without a model (``acpo-bench score``).

Two row formats: acpo-bench's own ``samples_<task>.jsonl`` (any task: each record is turned back into its probe and
scored again, e.g. under another answer rule), and a benchmark's released predictions file, read by the task's
``read_predictions`` (CMM's final_output.json, AVHBench {video_id, task, text, label, pred} lines). Either may be
gzipped (a name ending in ``.gz``, as the committed samples in leaderboard/results/ are).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from acpo_bench.clips import DatasetError, json_records
from acpo_bench.lexicon import Lexicon, surface_variants
from acpo_bench.metrics import N_RESAMPLES, ClipBootstrap
from acpo_bench.results import read_maybe_gzipped
from acpo_bench.schemas import AudioRecipe, Probe, Response, SampleRecord, error_record
from acpo_bench.task import Task, TaskSummary

SAMPLE_KEYS = ("probe_id", "prompt", "response", "kind", "clip_id")


@dataclass
class Rescored:
    probes: list[Probe]
    records: list[SampleRecord]
    summary: TaskSummary
    source_format: str
    fingerprint: str


def read_bytes(path: Path) -> bytes:
    """The file's plain bytes (a ``.gz`` decompressed: a damaged one is a ResultsError naming it)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the predictions ({exc.strerror or exc})") from None
    return read_maybe_gzipped(path, blob)


def read_rows(path: Path, blob: bytes) -> list[dict]:
    """JSON Lines (or a JSON list) of objects from the file's plain bytes; errors name the file and line."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    rows = json_records(path, text)
    if not rows:
        raise DatasetError(f"{path}: holds no predictions")
    if not all(isinstance(r, dict) for r in rows):
        raise DatasetError(f"{path}: every line must be a JSON object")
    return rows


def labels_lexicon(labels) -> Lexicon:
    """A lexicon of label names alone; a label whose surface forms another already claims ("balloons" beside
    "balloon") is left out rather than failing."""
    claimed: set[str] = set()
    kept = []
    for label in sorted(set(labels), key=lambda x: (len(x), x)):
        forms = surface_variants(label)
        if not forms & claimed:
            claimed |= forms
            kept.append(label)
    return Lexicon({label: [] for label in kept})


def probe_from_record(record: SampleRecord, task: str) -> Probe:
    """The probe a samples record was scored from (its stored probe id kept: paths and recipes are not stored)."""
    probe = Probe(task=task, clip_id=record.clip_id, video="", video_id=record.clip_id, audio=AudioRecipe("own"),
                  kind=record.kind, modality=record.modality, question=record.question, prompt=record.prompt,
                  paraphrase=record.paraphrase, visible=record.visible, audible=record.audible,
                  condition=record.condition, setting=record.setting, groups=record.groups, target=record.target,
                  expected=record.expected, references=tuple(record.extra.get("references", ())),
                  distractors=tuple(record.extra.get("distractors", ())))
    object.__setattr__(probe, "probe_id", record.probe_id)
    return probe


def _from_samples(rows: list[dict], task: Task, source: Path, lexicon: Lexicon
                  ) -> tuple[list[Probe], list[SampleRecord]]:
    probes, records = [], []
    for number, row in enumerate(rows, start=1):
        try:
            record = SampleRecord.from_json(row)
        except TypeError as exc:
            raise DatasetError(f"{source}: line {number} is not an acpo-bench sample record ({exc})") from None
        probe = probe_from_record(record, task.name)
        probes.append(probe)
        if record.error is not None or record.response is None:
            rescored = error_record(probe, record.error or "no response")
        else:
            rescored = task.score(probe, Response(record.response, record.scored_by or "generate"), lexicon)
        # the probe rebuilt from a record has no paths: the media the record names stay as they were
        records.append(replace(rescored, media=record.media))
    return probes, records


def rescore(task: Task, path: str | Path, lexicon: Lexicon | None = None, seed: int = 0,
            n_resamples: int = N_RESAMPLES) -> Rescored:
    source = Path(path).expanduser()
    blob = read_bytes(source)
    rows = read_rows(source, blob)
    if all(k in rows[0] for k in SAMPLE_KEYS):
        if lexicon is None:
            lexicon = labels_lexicon(x for r in rows for x in (*r.get("visible", ()), *r.get("audible", ()),
                                                               r.get("target")) if x)
        probes, records = _from_samples(rows, task, source, lexicon)
        fmt = "acpo-bench samples"
    elif task.read_predictions is not None:
        pairs = task.read_predictions(rows, str(source))
        lexicon = lexicon or Lexicon({})
        probes = [p for p, _ in pairs]
        records = [task.score(p, r, lexicon) for p, r in pairs]
        fmt = f"{task.name} predictions"
    else:
        raise DatasetError(f"{source}: rows are not acpo-bench sample records (keys {list(SAMPLE_KEYS)}), and task "
                           f"{task.name!r} reads no other predictions format (avhbench, cmm and their variants do)")
    bootstrap = ClipBootstrap([r.clip_id for r in records], seed, n_resamples)
    summary = task.aggregate(records, bootstrap)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()  # of the plain bytes: gzipped or not, the same id
    return Rescored(probes, records, summary, fmt, digest)
