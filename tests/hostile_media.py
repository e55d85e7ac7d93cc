"""A hostile-media corpus, written by the tests themselves (no committed binaries).

Each case is a file (or a thing at a path) that real collections contain sooner or later, with what acpo-bench must
make of it: a correct decode (checked against what the writer put in: frame indices, sizes, orientation, audio
level and length) or a MediaError whose message names the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acpo_bench.media import VideoTrack, rms_dbfs
from tests.mediafiles import frames, index_frame, read_index, tone, write, write_timed

FPS = 8
LONG_SECONDS = 600.0  # the 10-minute clip
LONG_FPS = 2
LONG_GOP = 8  # keyframe every 4 s: a sampled frame costs at most one group of pictures
TONE_DBFS = rms_dbfs(tone(1.0))  # the level every decodable audio track below carries
AAC_FRAME = 1024  # samples an encoder may pad the last frame with


@dataclass(frozen=True)
class Case:
    """``error`` / ``audio_error``: the reason a decode of the video / of its audio track must give; otherwise the
    ``check`` functions get the decoded video track / audio and assert what the writer put in."""

    name: str
    path: Path
    error: str | None = None
    audio_error: str | None = None
    check_video: Callable[[VideoTrack], None] | None = None
    check_audio: Callable[[np.ndarray], None] | None = None


def _indexed(count: int, fps: float) -> tuple[np.ndarray, list[float]]:
    return np.stack([index_frame(i) for i in range(count)]), [i / fps for i in range(count)]


def _frames_at(times: list[float]) -> Callable[[VideoTrack], None]:
    """The sampled frames are the ones on screen at the sampled times (their written index says which)."""
    def check(track: VideoTrack) -> None:
        expected = [int(np.searchsorted(times, t, side="right")) - 1 for t in track.times]
        assert [read_index(f) for f in track.frames] == expected
    return check


def _audio(seconds: float) -> Callable[[np.ndarray], None]:
    def check(audio: np.ndarray) -> None:
        assert 0 <= len(audio) - seconds * 16_000 <= AAC_FRAME, f"{len(audio)} samples for {seconds} s"
        middle = audio[len(audio) // 4: 3 * len(audio) // 4]
        assert abs(rms_dbfs(middle) - TONE_DBFS) < 1.0, "channel count and rate must not change the level"
    return check


def _shape(height: int, width: int, colour: int) -> Callable[[VideoTrack], None]:
    def check(track: VideoTrack) -> None:
        assert track.frames.shape[1:] == (height, width, 3)
        assert abs(float(track.frames.mean()) - colour) < 3
    return check


def _marker_at(corner: str, height: int, width: int) -> Callable[[VideoTrack], None]:
    """A white square written at the top left shows up in ``corner`` once the frame is turned upright."""
    def check(track: VideoTrack) -> None:
        frame = track.frames[0]
        assert frame.shape[:2] == (height, width)
        means = {"top-left": frame[:8, :8].mean(), "top-right": frame[:8, -8:].mean(),
                 "bottom-left": frame[-8:, :8].mean(), "bottom-right": frame[-8:, -8:].mean()}
        assert max(means, key=means.get) == corner
    return check


def build(root: Path) -> list[Case]:
    """Write every case under ``root`` and return them (one clip, or one thing at a path, each)."""
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    video, times = _indexed(2 * FPS, FPS)

    # --- broken files -------------------------------------------------------------------------------------------
    path = write(root / "truncated.mp4", frames(16), tone(2.0))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])  # the moov atom (at the end) is gone
    cases.append(Case("truncated mp4 (index lost)", path, error="cannot open", audio_error="cannot open"))

    path = write_timed(root / "truncated_faststart.mp4", video, times, audio=tone(2.0), faststart=True, gop=4)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # index first, half of the data
    cases.append(Case("truncated mp4 (index kept)", path, check_video=_frames_at(times)))

    (root / "empty.mp4").write_bytes(b"")
    cases.append(Case("zero-byte file", root / "empty.mp4", error="empty", audio_error="empty"))

    (root / "garbage.mp4").write_bytes(b"\x00\x01 this is not a video " * 200)
    cases.append(Case("not media at all", root / "garbage.mp4", error="cannot open", audio_error="cannot open"))

    (root / "playlist.mp4").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n"
                                       "#EXT-X-ENDLIST\n")
    cases.append(Case("network playlist disguised as mp4", root / "playlist.mp4", error="cannot open",
                      audio_error="cannot open"))

    blob = write(root / "codec_source.mp4", frames(8), tone(1.0)).read_bytes()
    (root / "codec_source.mp4").unlink()
    (root / "unsupported_codec.mp4").write_bytes(blob.replace(b"avc1", b"zzz9"))  # a codec no decoder knows
    cases.append(Case("unsupported codec", root / "unsupported_codec.mp4", error="not supported",
                      check_audio=_audio(1.0)))  # its AAC track is fine

    (root / "folder.mp4").mkdir()
    cases.append(Case("directory given as a file", root / "folder.mp4", error="is a directory",
                      audio_error="is a directory"))

    cases.append(Case("missing file", root / "missing.mp4", error="not found", audio_error="not found"))

    # --- missing or misplaced streams ---------------------------------------------------------------------------
    path = write_timed(root / "no_audio.mp4", video, times)
    cases.append(Case("video with no audio stream", path, audio_error="has no audio stream",
                      check_video=_frames_at(times)))

    path = write(root / "sound_only.m4a", None, tone(1.0))
    cases.append(Case("audio-only file given as video", path, error="no video stream", check_audio=_audio(1.0)))

    # --- lengths ------------------------------------------------------------------------------------------------
    path = write_timed(root / "blink.mp4", video[:1], times[:1], audio=tone(0.1))
    cases.append(Case("0.1 s clip", path, check_video=_frames_at(times[:1]), check_audio=_audio(0.1)))

    long_video, long_times = _indexed(int(LONG_SECONDS * LONG_FPS), LONG_FPS)
    path = write_timed(root / "ten_minutes.mkv", long_video, long_times, audio=tone(LONG_SECONDS), acodec="flac",
                       gop=LONG_GOP)
    cases.append(Case("10 min clip", path, check_video=_frames_at(long_times), check_audio=_audio(LONG_SECONDS)))

    # --- audio formats ------------------------------------------------------------------------------------------
    path = write(root / "surround.mkv", frames(8), tone(1.0, sr=48_000), sr=48_000, channels=8, acodec="flac")
    cases.append(Case("8-channel audio", path, check_audio=_audio(1.0)))
    path = write(root / "hires.mkv", frames(8), tone(1.0, sr=96_000), sr=96_000, acodec="pcm_s24le")
    cases.append(Case("96 kHz audio", path, check_audio=_audio(1.0)))

    # --- timing and geometry ------------------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    gaps = rng.choice([0.02, 0.1, 0.45, 1.3], size=24)
    vfr_times = [0.0, *np.cumsum(gaps)[:-1].round(3).tolist()]
    path = write_timed(root / "vfr.mp4", np.stack([index_frame(i) for i in range(24)]), vfr_times, gop=5,
                       audio=tone(vfr_times[-1]))
    cases.append(Case("variable frame rate", path, check_video=_frames_at(vfr_times)))

    path = write(root / "one_pixel.mkv", np.full((8, 1, 1, 3), 200, np.uint8), tone(1.0), pix_fmt="yuv444p")
    cases.append(Case("1x1 frames", path, check_video=_shape(1, 1, 200)))
    path = write(root / "sliver.mkv", np.full((8, 3, 4000, 3), 90, np.uint8), tone(1.0), pix_fmt="yuv444p")
    cases.append(Case("4000x3 frames", path, check_video=_shape(3, 4000, 90)))

    marked = np.zeros((4, 48, 64, 3), np.uint8)
    marked[:, :16, :16] = 255
    quarter = [0.0, 0.25, 0.5, 0.75]
    path = write_timed(root / "rotated_matrix.mp4", marked, quarter, rotation=90, audio=tone(1.0))  # matrix: ccw
    cases.append(Case("rotated (display matrix)", path, check_video=_marker_at("bottom-left", 64, 48)))
    path = write_timed(root / "rotated_tag.mkv", marked, quarter, metadata={"rotate": "90"}, audio=tone(1.0))  # cw
    cases.append(Case("rotated ('rotate' tag)", path, check_video=_marker_at("top-right", 64, 48)))

    # --- names --------------------------------------------------------------------------------------------------
    name = os.fsdecode(b"clip-\xff\xfe-latin1-\xe9.mp4")  # not UTF-8: Python carries the bytes as surrogates
    path = write_timed(root / name, video, times, audio=tone(2.0))
    cases.append(Case("path with non-UTF-8 bytes", path, check_video=_frames_at(times), check_audio=_audio(2.0)))
    return cases
