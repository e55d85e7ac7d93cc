"""Media I/O on PyAV: decode frames and a mono 16 kHz audio track, manipulate audio, write h264 + AAC mp4.

Every failure becomes a :class:`MediaError` whose message names the file and the reason, so the runner can turn it
into a per-sample error record instead of a crash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

try:
    import av
except ImportError:  # media files cannot be read or written, but inputs built in memory still work (GPU image)
    av = None

SAMPLE_RATE = 16_000
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus")


class MediaError(RuntimeError):
    """A file that cannot be decoded as asked; the message says which file and why."""


SAMPLINGS = ("centre", "qwen-utils")
# qwen-omni-utils' video rule (vision_process.smart_nframes): frames come in pairs, at least 4, at most 768
QWEN_FRAME_FACTOR, QWEN_MIN_FRAMES, QWEN_MAX_FRAMES = 2, 4, 768


@dataclass(frozen=True)
class MediaSpec:
    """How frames are sampled: ``frames`` evenly spaced over the clip, or ``fps`` frames per second (not both).

    ``sampling``: "centre" takes the frame on screen at the centre of each of the clip's equal parts; "qwen-utils"
    is Qwen's published inference rule (qwen-omni-utils, used by the model cards): ``fps`` per second of video,
    rounded down to an even count of at least 4, at the frame indices round(linspace(0, frames - 1, count)).
    """

    frames: int | None = 2
    fps: float | None = None
    sample_rate: int = SAMPLE_RATE
    sampling: str = "centre"

    def __post_init__(self) -> None:
        if (self.frames is None) == (self.fps is None):
            raise ValueError("give exactly one of frames (a count) or fps (a rate)")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if self.sampling == "qwen-utils" and self.fps is None:
            raise ValueError("qwen-utils sampling is by rate: give fps (Qwen's default is 2)")
        if self.frames is not None and self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    def key(self) -> str:
        key = f"frames={self.frames}" if self.frames is not None else f"fps={self.fps:g}"
        return key if self.sampling == "centre" else f"{key},sampling={self.sampling}"


@dataclass(frozen=True)
class VideoTrack:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    times: np.ndarray  # (T,) seconds
    duration: float
    decoded_frames: int = 0  # frames the decoder produced to sample these (seeking keeps it far below the total)


@dataclass(frozen=True)
class Media:
    """Decoded input of one probe: the sampled frames and the recipe's audio at ``sample_rate``."""

    frames: np.ndarray
    frame_times: np.ndarray
    audio: np.ndarray
    sample_rate: int
    duration: float


def content_id(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """A fast identity of a media file: size plus the first and last MiB, hashed.

    Reading whole multi-GB videos just to name them would dominate start-up; size + both ends tells real files apart.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        digest = hashlib.sha256(str(size).encode())
        with open(p, "rb") as fh:
            digest.update(fh.read(chunk))
            if size > 2 * chunk:
                fh.seek(-chunk, os.SEEK_END)
                digest.update(fh.read(chunk))
    except IsADirectoryError:
        raise MediaError(f"{p}: is a directory, expected a media file") from None
    except OSError as exc:
        raise MediaError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return "file:" + digest.hexdigest()[:24]


def _require_av() -> None:
    if av is None:
        raise MediaError("PyAV is not installed: media files cannot be decoded or written (pip install av)")


def _open(path: str | os.PathLike[str]) -> av.container.InputContainer:
    _require_av()
    p = Path(path)
    if p.is_dir():
        raise MediaError(f"{p}: is a directory, expected a media file")
    if not p.exists():
        raise MediaError(f"{p}: file not found")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: file is empty (0 bytes)")
    try:
        # only the file protocol: a playlist disguised as media (HLS, concat) cannot make FFmpeg reach the network
        return av.open(os.fsdecode(p), metadata_errors="ignore", options={"protocol_whitelist": "file"})
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"{p}: cannot open as media ({exc})") from None


def _target_times(duration: float, spec: MediaSpec, rate: float | None = None) -> np.ndarray:
    if spec.sampling == "qwen-utils":
        return _qwen_utils_times(duration, spec.fps, rate or 25.0)
    if spec.frames is not None:
        return (np.arange(spec.frames) + 0.5) * duration / spec.frames
    count = max(1, int(np.floor(duration * spec.fps + 1e-6)))
    return (np.arange(count) + 0.5) / spec.fps


def _stream_duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _qwen_utils_times(duration: float, fps: float, rate: float) -> np.ndarray:
    """The times of the frames qwen-omni-utils picks (smart_nframes, then linspace over frame indices), just past
    each frame's timestamp so the frame on screen is that frame."""
    total = max(1, int(round(duration * rate)))
    floor_even = lambda n: int(n // QWEN_FRAME_FACTOR * QWEN_FRAME_FACTOR)
    low = int(np.ceil(QWEN_MIN_FRAMES / QWEN_FRAME_FACTOR) * QWEN_FRAME_FACTOR)
    count = floor_even(min(max(total / rate * fps, low), floor_even(min(QWEN_MAX_FRAMES, total)), total))
    if count < QWEN_FRAME_FACTOR:
        raise MediaError(f"a {total}-frame video is too short for qwen-utils sampling (needs {QWEN_FRAME_FACTOR})")
    indices = np.round(np.linspace(0, total - 1, count))
    return (indices + 1e-3) / rate


SEEK_GAP_S = 2.0  # a sampled time this far past the decoder's position is reached by seeking, not by decoding on
TRUNCATION_SLACK_S = 1.0  # a header duration longer than the decodable frames by more than this is a truncated file


class _Walker:
    """One video stream decoded forward, seeking ahead when the next wanted time is far away.

    ``frame_at(t)`` is the frame on screen at absolute time t: the last one whose timestamp is <= t (the first frame
    for times before it). Times must be asked in increasing order. A decode error after the first frame ends the
    stream there (a truncated tail, kept as players do).
    """

    def __init__(self, container, stream, path, seek: bool) -> None:
        self.container, self.stream, self.path = container, stream, path
        self.rate = float(stream.average_rate or stream.guessed_rate or 25)
        self.decoded = 0
        self.eof = False
        self.prev = self.pending = None
        self._it = self._frames()
        first = next(self._it, None)
        if first is None:
            raise MediaError(f"{path}: no decodable video frames")
        self.start = first[0]
        self.pending = first
        # without timestamps there is nothing to seek by: decode in order, timing frames by their index
        self.can_seek = seek and first[1].time is not None and stream.time_base is not None

    def _frames(self):
        try:
            for index, frame in enumerate(self.container.decode(self.stream)):
                self.decoded += 1
                yield (float(frame.time) if frame.time is not None else index / self.rate), frame
        except av.error.FFmpegError as exc:
            if self.decoded == 0:
                raise MediaError(f"{self.path}: cannot decode video ({exc})") from None

    def _next(self):
        if self.pending is None and not self.eof:
            self.pending = next(self._it, None)
            self.eof = self.pending is None
        return self.pending

    def _seek(self, t: float) -> None:
        """Position the decoder at the keyframe before t (further back if the demuxer lands past t)."""
        back = 0.0
        while True:
            target = max(self.start, t - back)
            try:
                self.container.seek(int(target / self.stream.time_base), stream=self.stream, backward=True)
            except av.error.FFmpegError:
                self.can_seek = False
                target = self.start
                self.container.seek(0, stream=self.stream, backward=True)
            self._it = self._frames()
            self.prev = self.pending = None
            self.eof = False
            first = self._next()
            if target <= self.start or (first is not None and first[0] <= t):
                return
            back = max(SEEK_GAP_S, 2 * back)

    def frame_at(self, t: float):
        position = (self.pending or self.prev or (None, None))[0]
        if self.can_seek and position is not None and t - position > SEEK_GAP_S:
            self._seek(t)
        while (nxt := self._next()) is not None and nxt[0] <= t:
            self.prev, self.pending = nxt, None
        found = self.prev or self.pending
        if found is None:
            raise MediaError(f"{self.path}: no decodable video frame at {t:.3f} s")
        return found[1]

    def last_time(self) -> float:
        """The last frame's timestamp: decodes to the end from the current position."""
        while self._next() is not None:
            self.prev, self.pending = self.pending, None
        return self.prev[0] if self.prev else self.start


def _upright(frame: av.VideoFrame, stream: av.stream.Stream) -> np.ndarray:
    """The frame as RGB, turned as players show it: the display matrix, else a legacy 'rotate' tag (clockwise)."""
    array = frame.to_ndarray(format="rgb24")
    degrees = frame.rotation  # counterclockwise, from the display matrix (0 without one)
    if not degrees:
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), "0")
        try:
            degrees = -float(tag)
        except ValueError:
            degrees = 0
    turns = round(degrees / 90) % 4
    return np.ascontiguousarray(np.rot90(array, k=turns)) if turns else array


def decode_video(path: str | os.PathLike[str], spec: MediaSpec, seek: bool = True) -> VideoTrack:
    """Sample frames at evenly spaced times (the frame on screen at each time) as upright RGB uint8.

    A far-away sampled time is reached by seeking to the keyframe before it and decoding forward, so a long clip
    costs a few groups of pictures per sampled frame rather than a decode of every frame, and only the sampled
    frames are kept in memory (``seek=False`` decodes every frame in order; the samples are the same).
    """
    try:
        return _decode_video(path, spec, seek)
    except av.error.FFmpegError as exc:  # anything FFmpeg refuses midway (seek, conversion) is this file's error
        raise MediaError(f"{path}: cannot decode video ({exc})") from None


def _decode_video(path: str | os.PathLike[str], spec: MediaSpec, seek: bool) -> VideoTrack:
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise MediaError(f"{path}: its video codec is not supported by this FFmpeg build (no decoder); "
                             "re-encode the file, e.g. to h264")
        stream.thread_type = "AUTO"
        walker = _Walker(container, stream, path, seek)
        duration = _stream_duration(container, stream)
        if duration is None or not np.isfinite(duration) or duration <= 0:
            duration = walker.last_time() - walker.start + 1.0 / walker.rate
            _rewind(container, stream)
            walker = _Walker(container, stream, path, seek)
        targets = _target_times(duration, spec, walker.rate)
        chosen = [walker.frame_at(walker.start + t) for t in targets]
        if walker.eof:
            last = walker.last_time() - walker.start + 1.0 / walker.rate
            if duration > last + TRUNCATION_SLACK_S:  # the header promises more than the file holds: truncated
                duration = last
                _rewind(container, stream)
                walker = _Walker(container, stream, path, seek)
                targets = _target_times(duration, spec, walker.rate)
                chosen = [walker.frame_at(walker.start + t) for t in targets]
        frames = np.stack([_upright(frame, stream) for frame in chosen])
    return VideoTrack(frames=frames, times=targets, duration=float(duration), decoded_frames=walker.decoded)


def _rewind(container: av.container.InputContainer, stream: av.stream.Stream) -> None:
    try:
        container.seek(0, stream=stream, backward=True)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{container.name}: cannot rewind to sample frames ({exc})") from None


def decode_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio stream of a video or audio file, as mono float32 at ``sample_rate``.

    Channels are averaged (as librosa's to_mono does) rather than mixed by FFmpeg's default matrix, which adds
    +3 dB for stereo and more for 5.1/7.1, so the level of a track does not depend on its channel count.
    """
    try:
        return _decode_audio(path, sample_rate)
    except av.error.FFmpegError as exc:  # e.g. a resampler that refuses the stream's layout
        raise MediaError(f"{path}: cannot decode audio ({exc})") from None


def _decode_audio(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: has no audio stream")
        stream = container.streams.audio[0]
        resampler = None
        chunks: list[np.ndarray] = []
        start: float | None = None
        try:
            for frame in container.decode(stream):
                if start is None:
                    start = float(frame.time) if frame.time is not None else 0.0
                frame.pts = None  # let the resampler run on sample counts, not on (possibly broken) timestamps
                if resampler is None:
                    channels = frame.layout.nb_channels
                    resampler = av.AudioResampler(format="flt", layout=frame.layout, rate=sample_rate)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1, channels).mean(axis=1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise MediaError(f"{path}: cannot decode audio ({exc})") from None
        for out in resampler.resample(None) if resampler else ():
            chunks.append(out.to_ndarray().reshape(-1, channels).mean(axis=1))
    if not chunks:
        raise MediaError(f"{path}: audio stream holds no samples")
    audio = np.concatenate(chunks).astype(np.float32, copy=False)
    # Align sample 0 with time 0: a track that starts late is padded, one that starts early is cut.
    offset = int(round((start or 0.0) * sample_rate))
    if offset > 0:
        audio = np.concatenate([np.zeros(offset, dtype=np.float32), audio])
    elif offset < 0:
        audio = audio[-offset:]
    return audio


def fit_length(audio: np.ndarray, length: int, loop: bool = True) -> np.ndarray:
    """Trim to ``length`` samples, or extend a shorter track by looping it (or by zeros with ``loop=False``)."""
    if length <= 0:
        return np.zeros(0, dtype=np.float32)
    if len(audio) >= length:
        return audio[:length].astype(np.float32, copy=False)
    if not loop or len(audio) == 0:
        return np.concatenate([audio, np.zeros(length - len(audio), dtype=np.float32)])
    reps = int(np.ceil(length / len(audio)))
    return np.tile(audio, reps)[:length].astype(np.float32, copy=False)


def silence(length: int) -> np.ndarray:
    return np.zeros(length, dtype=np.float32)


def noise_floor(length: int, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """White noise whose RMS is ``dbfs`` relative to full scale (1.0)."""
    return (rng.standard_normal(length) * 10 ** (dbfs / 20)).astype(np.float32)


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    return (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)


def rms_dbfs(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


# The clip encoding's version, part of a generated world's identity: 2 = h264 with x264's macroblock tree off
# (byte-reproducible, write_mp4), 1 = the earlier encoding whose bytes depended on what the process encoded before.
ENCODING_VERSION = 2


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: float, audio: np.ndarray | None,
              sample_rate: int = SAMPLE_RATE, crf: int = 23, audio_bitrate: int | None = None) -> None:
    """Write RGB frames as h264 (yuv420p) and mono float audio as AAC (at the encoder's default bitrate, or
    ``audio_bitrate`` bits/s) into one mp4; the same arrays give the same bytes in any process.

    x264's macroblock tree is off (``mbtree=0``, ENCODING): with it on, libx264 here (PyAV 18.1, FFmpeg 8.1.2)
    encoded a clip differently depending on what the process had encoded before (a fresh process encoding one clip
    three times gave A, A, B), so a world generated in a process pool differed from run to run. Single-threaded
    encoding alone did not fix that; ``mbtree=0`` did (tests/test_worlds_reproducible.py)."""
    _require_av()
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got shape {frames.shape}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"h264 with yuv420p needs even frame sizes, got {width}x{height}")
    with av.open(os.fsdecode(path), "w", format="mp4") as out:
        vstream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=sample_rate, layout="mono")
            if audio_bitrate:
                astream.bit_rate = audio_bitrate
        for array in frames:
            for packet in vstream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in vstream.encode():
            out.mux(packet)
        if astream is not None:
            samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            # With a timestamp the muxer writes an edit list for the AAC priming samples, so decoders trim them.
            frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)
            for packet in astream.encode(frame):
                out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)


def write_media(path: str | os.PathLike[str], media: Media, crf: int = 23, audio_bitrate: int | None = None) -> None:
    """One probe's decoded media as an mp4 whose audio track is the recipe's audio: the sampled frames, each shown
    over its share of the clip (so frame k still covers its sampled time), and the audio as the video's own sound.
    Odd frame sizes are padded by repeating the last row/column (h264 4:2:0 needs even sizes)."""
    frames = np.asarray(media.frames, dtype=np.uint8)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    duration = media.duration if media.duration > 0 else len(frames)
    write_mp4(path, frames, len(frames) / duration, media.audio, media.sample_rate, crf=crf,
              audio_bitrate=audio_bitrate)
