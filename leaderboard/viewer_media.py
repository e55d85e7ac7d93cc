"""The media of a viewer page (``acpo-bench view``): where a run's data directory is, and each probe's input rebuilt
as the model got it, encoded small enough to embed in one HTML file.

A samples record names its input by a video path and an audio recipe, relative to the data directory
(``schemas.probe_media``). The input is rebuilt by the core's own path: ``MediaStore.load`` samples the frames as the
run sampled them (the run's ``MediaSpec``) and makes the recipe's track (own, swapped, silence, the seeded noise
floor, gain), so the page plays the very audio the model heard, not an approximation of it. Samples files are
untrusted: their paths are confined to the data directory (``clips.confined_path``), and a record whose recipe does
not hash to its probe id is not shown (the media would not be what that probe saw).
"""

from __future__ import annotations

import base64
import io
import math
import os
import typing
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from acpo_bench.clips import DatasetError, confined_path, load_clips
from acpo_bench.leaderboard.runs import Run
from acpo_bench.media import Media, MediaError, MediaSpec, content_id
from acpo_bench.media_store import MediaStore
from acpo_bench.results import ResultsError
from acpo_bench.schemas import AudioKind, AudioRecipe, SampleRecord, stable_hash

THUMBNAIL_SIDE = 160  # px, the longer side: enough to recognise what a frame shows, ~4-8 KB as JPEG
THUMBNAIL_QUALITY = 80
MAX_THUMBNAILS = 16  # a strip of more frames than this (fps sampling of a long clip) shows 16 of them, evenly spaced
AUDIO_KINDS = frozenset(typing.get_args(AudioKind))


@dataclass(frozen=True)
class ProbeInput:
    """What one probe saw and heard, as its samples record names it (paths relative to the data directory)."""

    video: str
    video_id: str
    recipe: AudioRecipe

    @property
    def key(self) -> tuple[str, str]:
        """The input's identity: probes that asked about the same frames and track share it (and its media)."""
        return (self.video_id, self.recipe.key())

    def heard(self) -> str:
        """The track in words: "the clip's own sound", "swapped in: clips/x.mp4", "noise floor at -40 dBFS"."""
        recipe = self.recipe
        if recipe.kind == "swap":
            text = f"swapped in: {recipe.source}"
        elif recipe.kind == "noise":
            text = f"noise floor at {recipe.noise_dbfs:g} dBFS"
        else:
            text = {"own": "the clip's own sound", "silence": "digital silence"}[recipe.kind]
        return text + (f", gain {recipe.gain_db:+g} dB" if recipe.gain_db else "")


def probe_input(record: SampleRecord) -> ProbeInput | str:
    """The record's input, or why it has none that can be shown (a one-line reason for the page)."""
    media = record.media
    if media is None:
        return ("no media recorded (the samples were written before acpo-bench recorded each probe's media; "
                "re-run `acpo-bench eval` to see frames and audio)")
    if not isinstance(media, dict) or not isinstance(media.get("audio"), dict):
        return "the samples record's media field is damaged"
    video, video_id, audio = media.get("video"), media.get("video_id"), media["audio"]
    if not isinstance(video_id, str):
        return "the samples record's media field is damaged (no video_id)"
    if not isinstance(video, str):
        return "the video lies outside the data directory, so the samples record names no path for it"
    kind, source = audio.get("kind"), audio.get("source")
    if kind not in AUDIO_KINDS:
        return f"unknown audio recipe {str(kind)[:40]!r}"
    if kind == "swap" and not isinstance(source, str):
        return "the swapped-in track lies outside the data directory, so the samples record names no path for it"
    try:
        recipe = AudioRecipe(kind=kind, source=source if kind == "swap" else None,
                             source_id=_text_or_none(audio.get("source_id")),
                             noise_dbfs=_number_or_none(audio.get("noise_dbfs")),
                             gain_db=_number_or_none(audio.get("gain_db")) or 0.0)
    except (ValueError, TypeError) as exc:
        return f"the samples record's audio recipe is damaged ({exc})"
    # the probe id hashes (video id, recipe, prompt, kind): a recipe that does not reproduce it is not this probe's
    if stable_hash(video_id, recipe.key(), record.prompt, record.kind) != record.probe_id:
        return "the recorded media does not match the probe id (the samples file was edited?)"
    return ProbeInput(video=video, video_id=video_id, recipe=recipe)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number_or_none(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


# --- the data directory ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataDir:
    """The run's data directory on this machine (None: not found, ``notice`` says which and what to do), and the
    content id of every clip its manifest lists (relative path -> id), to check it holds the clips the run saw."""

    root: Path | None
    notice: str | None = None
    content_ids: dict[str, str] = field(default_factory=dict)


def locate_data(runs: list[Run], override: str | None) -> DataDir:
    """``--data`` when given, else the directory the first run recorded (``run_info.data_path``), else the
    second's."""
    if override is not None:
        root = Path(override).expanduser()
        if not root.is_dir():
            return DataDir(None, f"media not shown: --data {override} is not a directory; pass the directory the "
                                 "run was evaluated on")
        return _with_manifest(root.resolve())
    recorded = [(run, run.results["run_info"].get("data_path")) for run in runs]
    for _, path in recorded:
        if isinstance(path, str) and path and Path(path).is_dir():
            return _with_manifest(Path(path).resolve())
    run, path = recorded[0]
    if not isinstance(path, str) or not path:
        return DataDir(None, f"media not shown: {run.path} records no data directory; pass --data DIR (the "
                             "directory the run was evaluated on) to see frames and audio")
    return DataDir(None, f"media not shown: the data directory {path} recorded in {run.path} is not on this "
                         "machine; pass --data DIR (a copy of it) to see frames and audio")


def _with_manifest(root: Path) -> DataDir:
    try:
        clips = load_clips(root)
    except DatasetError:  # a benchmark's own layout (no manifest): files are checked by their own content ids
        return DataDir(root)
    ids = {}
    for clip in clips.clips:
        relative = os.path.relpath(clip.video, root)
        if not relative.startswith(".."):
            ids[Path(relative).as_posix()] = clip.content_id
    return DataDir(root, content_ids=ids)


# --- rebuilding and encoding -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbeddedMedia:
    """One input as data: URIs: the sampled frames as JPEG thumbnails and the track as 16-bit PCM WAV."""

    frames: tuple[str, ...]
    audio: str
    frame_count: int  # frames the model saw (the strip shows at most MAX_THUMBNAILS of them)
    duration: float

    @property
    def size(self) -> int:
        """Bytes this input adds to the page."""
        return sum(len(f) for f in self.frames) + len(self.audio)


def run_media_spec(run: Run) -> MediaSpec:
    """How the run sampled frames and audio (results.json config), so the page shows what the model got."""
    config = run.results["config"]
    try:
        return MediaSpec(frames=config.get("frames"), fps=config.get("fps"),
                         sample_rate=int(config.get("sample_rate") or MediaSpec.sample_rate),
                         sampling=config.get("sampling") or "centre")
    except (TypeError, ValueError) as exc:
        raise ResultsError(f"{run.path}: config frames/fps/sampling/sample_rate do not describe a frame sampling "
                           f"({exc}); the file is damaged: re-run `acpo-bench eval`") from None


class MediaBuilder:
    """Rebuilds inputs through one MediaStore, so a video shared by many inputs is decoded once."""

    def __init__(self, data: DataDir, spec: MediaSpec) -> None:
        if data.root is None:
            raise ValueError("no data directory to read media from")
        self.data, self.store = data, MediaStore(spec)
        self._file_ids: dict[Path, str] = {}

    def build(self, item: ProbeInput) -> EmbeddedMedia | str:
        """The input embedded, or a one-line reason it cannot be (a missing, foreign or undecodable file)."""
        root = self.data.root
        try:
            video = confined_path(root, item.video, "samples", "media", "video")
            source = (confined_path(root, item.recipe.source, "samples", "media", "audio.source")
                      if item.recipe.kind == "swap" else None)
        except DatasetError:
            return "refused: a media path in the samples file leaves the data directory"
        for path, relative, expected in ((video, item.video, item.video_id.split("#repeat")[0]),
                                         (source, item.recipe.source, item.recipe.source_id)):
            if path is not None and (reason := self._foreign(path, relative, expected)):
                return reason
        recipe = AudioRecipe(kind=item.recipe.kind, source=None if source is None else str(source),
                             source_id=item.recipe.source_id, noise_dbfs=item.recipe.noise_dbfs,
                             gain_db=item.recipe.gain_db)
        try:
            media = self.store.load(str(video), item.video_id, recipe)
        except MediaError as exc:
            return f"media could not be decoded: {exc}"
        return encode(media)

    def _foreign(self, path: Path, relative: str, expected: str | None) -> str | None:
        """Why the file at ``path`` is not the clip the run saw, or None when it is (or cannot be told)."""
        if not path.is_file():
            return f"media file missing: {relative} (not in {self.data.root})"
        known = self.data.content_ids.get(Path(os.path.normpath(relative)).as_posix())
        if known is None and expected and expected.startswith("file:"):
            if path not in self._file_ids:  # a file shared by many inputs is read once
                try:
                    self._file_ids[path] = content_id(path)
                except MediaError as exc:
                    return f"media could not be read: {exc}"
            known = self._file_ids[path]
        if known is not None and expected is not None and known != expected:
            return (f"{relative} in {self.data.root} is another clip than the run saw (content id {known}, the run's "
                    f"{expected}): is --data the run's data directory?")
        return None


def encode(media: Media) -> EmbeddedMedia:
    frames = media.frames
    shown = (frames if len(frames) <= MAX_THUMBNAILS
             else frames[np.round(np.linspace(0, len(frames) - 1, MAX_THUMBNAILS)).astype(int)])
    return EmbeddedMedia(frames=tuple(jpeg_uri(f) for f in shown), audio=wav_uri(media.audio, media.sample_rate),
                         frame_count=len(frames), duration=float(media.duration))


def jpeg_uri(frame: np.ndarray) -> str:
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8))
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def wav_uri(audio: np.ndarray, sample_rate: int) -> str:
    """Mono float audio as 16-bit PCM WAV: lossless at the model's own rate (16-bit keeps a -40 dBFS noise floor ~50
    dB above its quantisation noise), and every browser plays it."""
    pcm = np.round(np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
