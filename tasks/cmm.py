"""CMM, "The Curse of Multi-Modalities": yes/no probes of objects and events that are (answer yes) or are not
(answer no) in a clip, in six subcategories of unimodal dominance and spurious inter-modality correlation.

Data (``--data``): the benchmark's JSON Lines file (records {category, sub_category, modality, granularity,
correlation_type, video_path, audio_path, question, answer, ...}; a JSON list works too) with the media paths
relative to the file's directory (``./raw_files/...``). ``--data`` names the file, or a directory holding exactly
one ``*.jsonl`` / ``*.json`` file. A record with a video plays its frames with the video's own audio, or with
``audio_path``'s track when both are given; audio-only records (no ``video_path``) cannot be played by adapters that
take video, and count as skipped clips.

Metrics: ``pa`` (perception accuracy: accuracy on "yes" probes), ``hr`` (hallucination resistance: accuracy on
"no" probes), ``accuracy``, and the same three per subcategory (``visual_dominance_pa``, ...), plus precision,
recall, F1 and yes-ratio. ``cmm`` reads answers with the project's strict parser; ``cmm_official`` with CMM's own
rule (the label within the first five characters of the reply), the numbers CMM's leaderboard reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from acpo_bench.clips import ClipSet, DatasetError, confined_path
from acpo_bench.lexicon import Lexicon
from acpo_bench.metrics import ClipBootstrap, RatioMetric, binary_metrics, breakdown, rate
from acpo_bench.schemas import AudioRecipe, Clip, Probe, Response, SampleRecord
from acpo_bench.task import Task, TaskSummary, summarize
from acpo_bench.tasks._benchmark import (
    MISSING_MEDIA,
    MISSING_SUFFIX,
    media_id,
    missing_message,
    read_records,
    require,
    rule_scorer,
)
from acpo_bench.tasks._probes import OWN

FIELDS = ("sub_category", "question", "answer")
_TARGET = re.compile(r"^did you (?:see|hear) (.+?) in the (?:video|audio)\b", re.IGNORECASE)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _source(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("*.jsonl")) or sorted(path.glob("*.json"))
    if len(found) != 1:
        raise DatasetError(f"{path}: expected exactly one CMM annotation file (*.jsonl, or *.json) in it, found "
                           f"{[f.name for f in found] or 'none'}; pass --data FILE to name it")
    return found[0]


def _check(source: Path, i: int, row: dict) -> None:
    require(source, f"record {i}", row, FIELDS)
    if str(row["answer"]).strip().lower() not in ("yes", "no"):
        raise DatasetError(f"{source}: record {i} has answer {row['answer']!r}; expected yes or no")


def record_probe(task: str, clip: Clip, row: dict, audio: AudioRecipe = OWN) -> Probe:
    """One CMM record as a probe. Truth for reference adapters: the probed object is in the asked modality's set
    when the answer is yes."""
    expected = str(row["answer"]).strip().lower()
    question = str(row["question"]).strip().lower()
    if question.startswith(("did you hear", "do you hear")):
        modality = "audio"
    elif question.startswith(("did you see", "do you see")):
        modality = "visual"
    else:
        modality = "audio" if str(row.get("modality", "")).lower().startswith("audio") else "visual"
    match = _TARGET.match(str(row["question"]).strip())
    target = match.group(1) if match else None
    present = (target,) if target and expected == "yes" else ()
    sub = slug(str(row["sub_category"]))
    return Probe(task=task, clip_id=clip.clip_id, video=clip.video, video_id=clip.content_id, audio=audio,
                 kind="yes_no", modality=modality, question=sub, prompt=str(row["question"]), paraphrase=0,
                 visible=present if modality == "visual" else (), audible=present if modality == "audio" else (),
                 condition="own", setting=sub, groups=(sub, slug(str(row.get("granularity") or "unknown"))),
                 target=target, expected=expected)


def load_data(directory: str, skip_missing: bool = False) -> ClipSet:
    path = Path(directory).expanduser().resolve()
    source = _source(path)
    root = source.parent
    rows = read_records(source)
    for i, row in enumerate(rows):
        _check(source, i, row)
    clips: dict[str, Clip] = {}
    items, missing = [], []
    for i, row in enumerate(rows):
        key = row.get("video_path") or row.get("audio_path")
        if not key:
            raise DatasetError(f"{source}: record {i} has neither video_path nor audio_path")
        video, audio = (confined_path(root, row[field], source, f"record {i}", field).resolve() if row.get(field)
                        else None for field in ("video_path", "audio_path"))
        absent = [p for p in (video, audio) if p is not None and not p.is_file()]
        if absent:
            missing += [str(p) for p in absent if str(p) not in missing]
        if key not in clips:
            cid = media_id("cmm", key, video) if video and not absent else f"cmm:{key}{MISSING_SUFFIX}"
            clips[key] = Clip(clip_id=key, video=str(video or audio), visible=(), audible=(), content_id=cid)
        if video is not None and not absent:  # audio-only records stay clips without probes: skipped
            items.append({**row, "index": i, "clip": key})
    total = len({p for r in rows for p in (r.get("video_path"), r.get("audio_path")) if p})
    if missing and (not skip_missing or not items):
        raise DatasetError(missing_message(missing, total, source, f"paths relative to {root}", "media files"))
    return ClipSet(name=f"cmm-{source.stem}", clips=tuple(clips.values()), lexicon=Lexicon({}), root=str(root),
                   annotations=tuple(items))


def _builder(task: str):
    def build(clips: ClipSet, seed: int) -> list[Probe]:
        by_id = {c.clip_id: c for c in clips.clips}
        probes = []
        for item in clips.annotations:
            clip = by_id.get(item["clip"])
            if clip is None:  # outside --limit
                continue
            audio = OWN
            if item.get("audio_path"):
                track = str(confined_path(Path(clips.root or "."), item["audio_path"], clips.name,
                                          f"record {item['index']}", "audio_path").resolve())
                audio = AudioRecipe("swap", source=track, source_id=media_id("cmm", item["audio_path"], Path(track)))
            probes.append(record_probe(task, clip, item, audio))
        return probes
    return build


def _pa_hr(prefix: str, applies) -> list[RatioMetric]:
    p = f"{prefix}_" if prefix else ""
    return [rate(f"{p}pa", True, lambda r: applies(r) and r.expected == "yes", lambda r: bool(r.correct)),
            rate(f"{p}hr", True, lambda r: applies(r) and r.expected == "no", lambda r: bool(r.correct)),
            rate(f"{p}accuracy", True, applies, lambda r: bool(r.correct))]


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    records = [r for r in records if r.error is None]
    metrics = _pa_hr("", lambda r: True)
    for sub in sorted({r.setting for r in records if r.setting}):
        metrics += _pa_hr(sub, lambda r, s=sub: r.setting == s)
    metrics += [m for m in binary_metrics("", lambda r: True) if m.name != "accuracy"]
    granularity = breakdown(records, metrics[:3], lambda r: "/".join(r.groups))
    return summarize(records, metrics, bootstrap, class_metrics=metrics[:3], granularity=granularity)


def read_predictions(task: str):
    """CMM's released predictions (final_output.json: its records plus the model's ``pred``) -> probes, answers."""
    def read(rows: list[dict], source: str) -> list[tuple[Probe, Response]]:
        out = []
        for i, row in enumerate(rows):
            _check(Path(source), i, row)
            if "pred" not in row:
                raise DatasetError(f"{source}: record {i} has no 'pred' (the model's reply)")
            for field in ("video_path", "audio_path"):  # never opened here, but refused as in load_data
                if row.get(field):
                    confined_path(Path(source).parent, row[field], source, f"record {i}", field)
            key = str(row.get("video_path") or row.get("audio_path") or f"record-{i}")
            clip = Clip(clip_id=key, video="", visible=(), audible=(), content_id=f"cmm:{key}")
            out.append((record_probe(task, clip, row), Response(str(row["pred"] or ""), "generate")))
        return out
    return read


def skip_reason(clips: ClipSet, index: int, seed: int) -> str:
    clip = clips.clips[index]
    if not clip.content_id.endswith(MISSING_SUFFIX):
        return "no record of the file plays this video"
    if not Path(clip.video).is_file():
        return MISSING_MEDIA
    # the clip's file is there: its records play no video (audio-only), or a video under an absent audio track
    return "audio-only record, or its audio track missing (nothing to play as video + audio)"


def _task(name: str, rule: str, what: str) -> Task:
    return Task(name=name, version=1, description=f"CMM yes/no probes: PA / HR per subcategory, read by the {what}",
                build=_builder(name), aggregate=aggregate, headline=("pa", "hr", "accuracy"), score=rule_scorer(rule),
                load_data=load_data, read_predictions=read_predictions(name), skip_reason=skip_reason)


TASK = _task("cmm", "strict", "project's strict parser")
OFFICIAL = _task("cmm_official", "first5", "official first-5-characters rule")
