"""AVHBench (ICLR 2025): the benchmark's own questions on its own videos, under each video's own audio.

Data (``--data``): the annotation file (a JSON list of {video_id, task, text, label}: QA.json, AVH_val.json, or the
v0 release's per-video ``json/{video_id}.json``) and ``{video_id}.mp4`` beside it or in ``video/`` / ``videos/``.
``--data`` names the directory (QA.json is read) or the annotation file itself. Optional
``modality_captions.jsonl`` beside it ({video_id, audio_caption, visual_caption} per line) enables the ACPO paper's
swapped-audio captioning protocol (task ``avhbench_swap_captions``).

Subtasks and metrics (prefix): video-driven audio hallucination ``audio_hallucination_*``, audio-driven video
hallucination ``video_hallucination_*``, AV matching ``matching_*`` (accuracy, precision, recall, F1, yes-ratio,
invalid rate each) and AV captioning ``captioning_cider`` (CIDEr-D x 100) and ``captioning_meteor`` (METEOR x 100,
where Java is present). ``avhbench`` reads answers with the project's strict parser; ``avhbench_lenient`` with the
popular third-party rule (label word anywhere) so numbers compare with papers. Both ask the very same probes, so one
run of both costs the model nothing extra.

Truth sets given to reference adapters come from each item's label: a hallucination question's object is visible
(video-driven audio) or audible (audio-driven video) by the benchmark's construction, and audible / visible when the
label is Yes; AV matching encodes "the audio carries the video's scene" as the pseudo-source ``video scene``
(audible when the label is Yes). So ``audio-oracle`` is exact on the QA subtasks and ``visual-prior`` (hears what it
sees) says yes to every video-driven audio question and to every matching question. Captions have no truth sets.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from acpo_bench.captioning import cider_scores, meteor_available, meteor_scores
from acpo_bench.clips import ClipSet, DatasetError, confined_path
from acpo_bench.lexicon import Lexicon
from acpo_bench.metrics import ClipBootstrap, RatioMetric, binary_metrics, rate
from acpo_bench.schemas import Clip, Probe, Response, SampleRecord, stable_hash
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
from acpo_bench.tasks._probes import OWN, swapped

ANNOTATION = "QA.json"
CAPTIONS = "modality_captions.jsonl"
VIDEO_DIRS = (".", "video", "videos")
VIDEO_SCENE = "video scene"
# the benchmark's task names -> (our key, probe kind, modality)
SUBTASKS = {
    "Video-driven Audio Hallucination": ("audio_hallucination", "yes_no", "audio"),
    "Audio-driven Video Hallucination": ("video_hallucination", "yes_no", "visual"),
    "AV Matching": ("matching", "yes_no", "audio"),
    "AV Captioning": ("captioning", "caption", "audio"),
}
_OBJECT = re.compile(r"^is the (.+?) (?:making sound in the audio|visible in the video)\??$", re.IGNORECASE)


# --- data ------------------------------------------------------------------------------------------------------

def _annotation_file(path: Path) -> tuple[Path, list[dict]]:
    if path.is_file():
        return path, read_records(path)
    if (path / ANNOTATION).is_file():
        return path / ANNOTATION, read_records(path / ANNOTATION)
    per_video = sorted((path / "json").glob("*.json")) if (path / "json").is_dir() else []
    if per_video:
        return path / "json", [row for f in per_video for row in read_records(f)]
    raise DatasetError(f"{path}: no AVHBench annotations: expected {ANNOTATION} (a JSON list of "
                       "{video_id, task, text, label}), a json/ folder of per-video files, or --data naming the "
                       "annotation file itself (e.g. AVH_val.json)")


def _find_video(root: Path, video_id: str) -> Path | None:
    for folder in VIDEO_DIRS:
        candidate = root / folder / f"{video_id}.mp4"
        if candidate.is_file():
            return candidate.resolve()
    return None


def _captions(root: Path) -> dict[str, dict]:
    path = root / CAPTIONS
    if not path.is_file():
        return {}
    out = {}
    for i, row in enumerate(read_records(path)):
        require(path, f"record {i}", row, ("video_id", "audio_caption", "visual_caption"))
        out[str(row["video_id"])] = row
    return out


def load_data(directory: str, skip_missing: bool = False) -> ClipSet:
    """AVHBench items and one clip per video. Missing videos are an error naming them, or with ``skip_missing`` the
    clips stay (so the run counts them as skipped) while their items are dropped."""
    path = Path(directory).expanduser().resolve()
    source, rows = _annotation_file(path)
    root = source.parent if source.is_file() or source.name == "json" else source
    items = []
    for i, row in enumerate(rows):
        require(source, f"item {i}", row, ("video_id", "task", "text", "label"))
        if row["task"] not in SUBTASKS:
            raise DatasetError(f"{source}: item {i} has task {row['task']!r}; known: {sorted(SUBTASKS)}")
        key, kind, _ = SUBTASKS[row["task"]]
        if kind == "yes_no" and str(row["label"]).strip().lower() not in ("yes", "no"):
            raise DatasetError(f"{source}: item {i} ({row['task']}) has label {row['label']!r}; expected Yes or No")
        confined_path(root, f"{row['video_id']}.mp4", source, f"item {i}", "video_id")  # ids name files: no "../"
        items.append({"index": i, "video_id": str(row["video_id"]), "task": row["task"], "text": str(row["text"]),
                      "label": str(row["label"]).strip()})
    video_ids = list(dict.fromkeys(item["video_id"] for item in items))
    found = {v: _find_video(root, v) for v in video_ids}
    missing = [v for v in video_ids if found[v] is None]
    looked_in = "looked for {video_id}.mp4 in " + ", ".join(str(root / d) for d in VIDEO_DIRS)
    if missing and (not skip_missing or len(missing) == len(video_ids)):
        raise DatasetError(missing_message(missing, len(video_ids), source, looked_in))
    captions = _captions(root)
    clips = []
    for video_id in video_ids:
        video = found[video_id]
        cap = captions.get(video_id, {})
        clips.append(Clip(clip_id=video_id, video=str(video or root / f"{video_id}.mp4"), visible=(), audible=(),
                          content_id=(media_id("avhbench", video_id, video) if video
                                      else f"avhbench:{video_id}{MISSING_SUFFIX}"),
                          audio_caption=cap.get("audio_caption"), visual_caption=cap.get("visual_caption")))
    kept = tuple(item for item in items if found[item["video_id"]] is not None)
    return ClipSet(name=f"avhbench-{source.stem}", clips=tuple(clips), lexicon=Lexicon({}), root=str(root),
                   annotations=kept)


# --- probes ----------------------------------------------------------------------------------------------------

def item_probe(task: str, clip: Clip, item: dict, repeat: int = 0) -> Probe:
    """One AVHBench item as a probe; ``repeat`` > 0 marks a repeated (video, question) pair of the annotation file,
    which stays its own probe so every item counts once (QA.json repeats 7 questions, 2 with opposite labels)."""
    key, kind, modality = SUBTASKS[item["task"]]
    label = item["label"].lower()
    target, visible, audible = None, (), ()
    match = _OBJECT.match(item["text"].strip())
    if key in ("audio_hallucination", "video_hallucination") and match:
        target = match.group(1)
        if key == "audio_hallucination":  # the object is on screen; the question is whether it sounds
            visible, audible = (target,), ((target,) if label == "yes" else ())
        else:  # the object sounds; the question is whether it is on screen
            audible, visible = (target,), ((target,) if label == "yes" else ())
    elif key == "matching":
        visible, audible = (VIDEO_SCENE,), ((VIDEO_SCENE,) if label == "yes" else ())
    video_id = clip.content_id if not repeat else f"{clip.content_id}#repeat{repeat}"
    return Probe(task=task, clip_id=clip.clip_id, video=clip.video, video_id=video_id, audio=OWN, kind=kind,
                 modality=modality, question=key, prompt=item["text"], paraphrase=0, visible=visible,
                 audible=audible, condition="own", setting=key, groups=(key,), target=target,
                 expected=label if kind == "yes_no" else None,
                 references=(item["label"],) if kind == "caption" else ())


def _builder(task: str):
    def build(clips: ClipSet, seed: int) -> list[Probe]:
        by_id = {c.clip_id: c for c in clips.clips}
        seen: Counter[tuple[str, str, str]] = Counter()
        probes = []
        for item in clips.annotations:
            clip = by_id.get(item["video_id"])
            if clip is None:  # outside --limit
                continue
            key = (item["video_id"], item["task"], item["text"])
            probes.append(item_probe(task, clip, item, seen[key]))
            seen[key] += 1
        return probes
    return build


# --- metrics ---------------------------------------------------------------------------------------------------

def caption_metrics(records: Sequence[SampleRecord], prefix: str = "captioning") -> tuple[list[RatioMetric], dict]:
    """CIDEr-D (and METEOR where Java runs) per caption record, as ratio metrics; notes say what was not computed."""
    caps = [r for r in records if r.kind == "caption" and r.extra.get("references")]
    if not caps:
        return [], {}
    candidates = {r.probe_id: r.response or "" for r in caps}
    references = {r.probe_id: list(r.extra["references"]) for r in caps}
    per_metric = {f"{prefix}_cider": cider_scores(candidates, references)}
    notes = {}
    reason = meteor_available()
    if reason is None:
        try:
            per_metric[f"{prefix}_meteor"] = meteor_scores(candidates, references)
        except RuntimeError as exc:
            reason = str(exc)
    if reason:
        notes[f"{prefix}_meteor"] = f"not computed: {reason}"
    metrics = [RatioMetric(name, True, lambda r, s=scores: (s[r.probe_id], 1.0) if r.probe_id in s else None)
               for name, scores in per_metric.items()]
    return metrics, notes


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    records = [r for r in records if r.error is None]
    metrics = [rate("accuracy", True, lambda r: r.kind == "yes_no", lambda r: bool(r.correct))]
    for key in ("audio_hallucination", "video_hallucination", "matching"):
        metrics += binary_metrics(key, lambda r, k=key: r.question == k)
    captions, notes = caption_metrics(records)
    metrics += captions
    per_object = [m for m in metrics if m.name in ("audio_hallucination_accuracy", "video_hallucination_accuracy")]
    extra = {"notes": notes} if notes else {}
    return summarize(records, metrics, bootstrap, class_metrics=per_object, **extra)


# --- re-scoring predictions files ------------------------------------------------------------------------------

def read_predictions(task: str):
    """Rows {video_id, task, text, label, pred} (an AVHBench item plus the model's reply) -> probes and answers."""
    def read(rows: list[dict], source: str) -> list[tuple[Probe, Response]]:
        seen: Counter[tuple[str, str, str]] = Counter()
        out = []
        for i, row in enumerate(rows):
            require(Path(source), f"record {i}", row, ("video_id", "task", "text", "label"))
            if "pred" not in row:
                raise DatasetError(f"{source}: record {i} has no 'pred' (the model's reply); an AVHBench "
                                   "predictions file holds {video_id, task, text, label, pred} per line")
            if row["task"] not in SUBTASKS:
                raise DatasetError(f"{source}: record {i} has task {row['task']!r}; known: {sorted(SUBTASKS)}")
            confined_path(Path(source).parent, f"{row['video_id']}.mp4", source, f"record {i}", "video_id")
            item = {"video_id": str(row["video_id"]), "task": row["task"], "text": str(row["text"]),
                    "label": str(row["label"]).strip()}
            clip = Clip(clip_id=item["video_id"], video="", visible=(), audible=(),
                        content_id=f"avhbench:{item['video_id']}")
            key = (item["video_id"], item["task"], item["text"])
            out.append((item_probe(task, clip, item, seen[key]), Response(str(row["pred"] or ""), "generate")))
            seen[key] += 1
        return out
    return read


HEADLINE = ("audio_hallucination_accuracy", "audio_hallucination_f1", "video_hallucination_accuracy",
            "video_hallucination_f1", "matching_accuracy", "captioning_cider")


def skip_reason(clips: ClipSet, index: int, seed: int) -> str:
    if clips.clips[index].content_id.endswith(MISSING_SUFFIX):
        return MISSING_MEDIA
    return "no item of the annotation file names this video"


def _task(name: str, rule: str, what: str) -> Task:
    return Task(name=name, version=1, description=f"AVHBench QA + captioning, yes/no read by the {what}",
                build=_builder(name), aggregate=aggregate, headline=HEADLINE, score=rule_scorer(rule),
                load_data=load_data, read_predictions=read_predictions(name), skip_reason=skip_reason)


TASK = _task("avhbench", "strict", "project's strict parser")
LENIENT = _task("avhbench_lenient", "lenient", "third-party lenient rule (label word anywhere)")


# --- the ACPO paper's swapped-audio captioning protocol ---------------------------------------------------------

SWAP_PROMPTS = {"describe_audio": "Describe what you hear.", "describe_visual": "Describe what you see."}


def _swap_partner(clips: Sequence[Clip], index: int, seed: int) -> Clip | None:
    """A deterministic partner whose audio caption differs (AVHBench clips carry no label sets to check)."""
    target = clips[index]
    pool = [c for c in clips if c.clip_id != target.clip_id and c.audio_caption != target.audio_caption]
    if not pool:
        return None
    rng = np.random.default_rng(int(stable_hash("avhbench-swap", seed, target.content_id), 16))
    return pool[int(rng.integers(len(pool)))]


def build_swap_captions(clips: ClipSet, seed: int) -> list[Probe]:
    captioned = [c for c in clips.clips if c.audio_caption and c.visual_caption and not c.content_id.endswith(
        MISSING_SUFFIX)]
    if not captioned:
        raise DatasetError(f"avhbench_swap_captions needs per-modality reference captions: {CAPTIONS} beside the "
                           "annotation file, one JSON object per line: {\"video_id\", \"audio_caption\", "
                           "\"visual_caption\"} (README.md, 'Real benchmarks')")
    probes = []
    for index, clip in enumerate(captioned):
        partner = _swap_partner(captioned, index, seed)
        if partner is None:
            continue
        audio = swapped(partner)
        for question, modality, refs, distractors in (
                ("describe_audio", "audio", partner.audio_caption, clip.audio_caption),
                ("describe_visual", "visual", clip.visual_caption, partner.audio_caption)):
            probes.append(Probe(task="avhbench_swap_captions", clip_id=clip.clip_id, video=clip.video,
                                video_id=clip.content_id, audio=audio, kind="caption", modality=modality,
                                question=question, prompt=SWAP_PROMPTS[question], paraphrase=0, visible=(),
                                audible=(), condition="swapped", references=(refs,), distractors=(distractors,)))
    return probes


def skip_reason_swap_captions(clips: ClipSet, index: int, seed: int) -> str:
    clip = clips.clips[index]
    if clip.content_id.endswith(MISSING_SUFFIX):
        return MISSING_MEDIA
    if not (clip.audio_caption and clip.visual_caption):
        return f"no audio and visual reference captions ({CAPTIONS})"
    return "no swap partner (every other captioned clip has the same audio caption)"


def aggregate_swap_captions(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    from acpo_bench.tasks.swapped_audio import _caption_metrics

    records = [r for r in records if r.error is None]
    return summarize(records, _caption_metrics(records), bootstrap, class_metrics=[])


SWAP_CAPTIONS = Task(
    name="avhbench_swap_captions",
    version=1,
    description="the ACPO paper's swapped-audio captioning (T-/D-CIDEr) on AVHBench clips with user captions",
    build=build_swap_captions,
    aggregate=aggregate_swap_captions,
    headline=("t_cider_audio", "d_cider_audio", "t_cider_visual", "d_cider_visual"),
    load_data=load_data,
    skip_reason=skip_reason_swap_captions,
)
