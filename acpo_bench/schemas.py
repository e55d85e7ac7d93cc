"""The small frozen types every room passes around: clips, audio recipes, probes, responses, sample records.

Tasks and adapters never import each other; they meet only through these types.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ProbeKind = Literal["yes_no", "open", "caption"]
Modality = Literal["audio", "visual"]
AudioKind = Literal["own", "swap", "silence", "noise"]
ScoredBy = Literal["loglik", "generate"]

YES_NO_CHOICES = ("yes", "no")


def stable_hash(*parts: object, length: int = 16) -> str:
    """A short sha256 over a JSON rendering of ``parts``: identical on every machine and Python version."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Clip:
    """One audio-visual clip with its labels. ``content_id`` identifies the media independently of its path."""

    clip_id: str
    video: str
    visible: tuple[str, ...]
    audible: tuple[str, ...]
    content_id: str
    audio_caption: str | None = None
    visual_caption: str | None = None


@dataclass(frozen=True)
class AudioRecipe:
    """Which audio a probe plays under the clip's frames.

    own: the clip's own track; swap: another clip's (or audio file's) track, looped or trimmed to the video's length;
    silence: digital silence; noise: white noise at ``noise_dbfs`` RMS. ``gain_db`` applies to the result.
    """

    kind: AudioKind = "own"
    source: str | None = None
    source_id: str | None = None
    noise_dbfs: float | None = None
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if self.kind == "swap" and not (self.source and self.source_id):
            raise ValueError("a swap recipe needs source (path) and source_id (content id)")
        if self.kind == "noise" and self.noise_dbfs is None:
            raise ValueError("a noise recipe needs noise_dbfs")

    def key(self) -> str:
        """Path-free identity of the recipe (paths differ between machines, content ids do not)."""
        parts = [self.kind]
        if self.kind == "swap":
            parts.append(f"src={self.source_id}")
        if self.kind == "noise":
            parts.append(f"dbfs={self.noise_dbfs:g}")
        if self.gain_db:
            parts.append(f"gain={self.gain_db:g}")
        return ":".join(parts)


@dataclass(frozen=True)
class Probe:
    """One question put to a model about one (frames, audio recipe) pair, with the truth needed to score it.

    ``visible`` is what the frames show and ``audible`` what the recipe's audio contains, so reference adapters and
    scorers need nothing else. ``probe_id`` hashes (clip content, recipe, prompt, kind): stable across runs and
    machines, shared by tasks that ask the very same question (the cache then answers it once).
    """

    task: str
    clip_id: str
    video: str
    video_id: str
    audio: AudioRecipe
    kind: ProbeKind
    modality: Modality
    question: str
    prompt: str
    paraphrase: int
    visible: tuple[str, ...]
    audible: tuple[str, ...]
    condition: str
    setting: str | None = None
    groups: tuple[str, ...] = ()
    target: str | None = None
    expected: str | None = None
    references: tuple[str, ...] = ()
    distractors: tuple[str, ...] = ()
    probe_id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind == "yes_no" and self.expected not in YES_NO_CHOICES:
            raise ValueError(f"yes/no probe {self.prompt!r} needs expected 'yes' or 'no', got {self.expected!r}")
        object.__setattr__(self, "probe_id", stable_hash(self.video_id, self.audio.key(), self.prompt, self.kind))

    @property
    def media_key(self) -> tuple[str, str]:
        return (self.video_id, self.audio.key())


@dataclass(frozen=True)
class Response:
    """What an adapter answered. For log-likelihood scoring ``text`` is the best choice and ``choice_logprobs`` holds
    every choice's log-prob; for generation it is the decoded text."""

    text: str
    scored_by: ScoredBy
    choice_logprobs: dict[str, float] | None = None


@dataclass(frozen=True)
class SampleRecord:
    """One scored probe, as written to samples_<task>.jsonl. Self-contained: it can be re-scored without the data."""

    probe_id: str
    task: str
    clip_id: str
    condition: str
    setting: str | None
    groups: tuple[str, ...]
    kind: ProbeKind
    modality: Modality
    question: str
    paraphrase: int
    prompt: str
    target: str | None
    expected: str | None
    visible: tuple[str, ...]
    audible: tuple[str, ...]
    response: str | None
    scored_by: ScoredBy | None
    answer: str | tuple[str, ...] | None
    correct: bool | None
    why: str
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    media: dict[str, Any] | None = None  # what the probe saw and heard (probe_media); None in older files

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> SampleRecord:
        row = {k: v for k, v in row.items() if k != "metrics"}  # per-metric contributions live beside the record
        for key in ("visible", "audible", "groups"):
            row[key] = tuple(row[key])
        if isinstance(row.get("answer"), list):
            row["answer"] = tuple(row["answer"])
        return cls(**row)


def _probe_fields(probe: Probe) -> dict[str, Any]:
    names = ("probe_id", "task", "clip_id", "condition", "setting", "groups", "kind", "modality", "question",
             "paraphrase", "prompt", "target", "expected", "visible", "audible")
    return {name: getattr(probe, name) for name in names}


def error_record(probe: Probe, reason: str) -> SampleRecord:
    """The record of a probe that could not be answered (bad media, adapter failure): counted, never scored."""
    return SampleRecord(**_probe_fields(probe), response=None, scored_by=None, answer=None, correct=None,
                        why=f"error: {reason}", error=reason)


def scored_record(probe: Probe, response: Response, answer: str | tuple[str, ...] | None, correct: bool | None,
                  why: str, **extra: Any) -> SampleRecord:
    return SampleRecord(**_probe_fields(probe), response=response.text, scored_by=response.scored_by, answer=answer,
                        correct=correct, why=why, extra=dict(extra))


def probe_media(probe: Probe, root: str | None) -> dict[str, Any]:
    """The probe's media as a samples file records it, so the very track the model heard can be rebuilt (``acpo-bench
    view``): the video's content id and the audio recipe, with paths relative to the data directory ``root`` (None
    for a file outside it), so two runs of the same data on two machines write the same samples."""
    recipe = probe.audio
    return {"video_id": probe.video_id, "video": _relative(probe.video, root),
            "audio": {"kind": recipe.kind, "source": _relative(recipe.source, root), "source_id": recipe.source_id,
                      "noise_dbfs": recipe.noise_dbfs, "gain_db": recipe.gain_db}}


def _relative(path: str | None, root: str | None) -> str | None:
    if not path or not root:
        return None
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return None if relative == ".." or relative.startswith(".." + os.sep) else Path(relative).as_posix()


def probe_to_json(probe: Probe) -> str:
    """A probe as one JSON string (for documents handed to other harnesses, e.g. the lmms-eval bridge)."""
    return json.dumps(asdict(probe), sort_keys=True)


def probe_from_json(text: str) -> Probe:
    """The inverse of :func:`probe_to_json` (the probe id is recomputed, so it is the same)."""
    data = json.loads(text)
    data.pop("probe_id", None)
    data["audio"] = AudioRecipe(**data["audio"])
    for key in ("visible", "audible", "groups", "references", "distractors"):
        data[key] = tuple(data[key])
    return Probe(**data)
