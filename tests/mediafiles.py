"""Writers for test media in many containers and codecs (no committed binaries: tests make what they read)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SR = 16_000


def tone(seconds: float, freq: float = 440.0, sr: int = SR, onset: float | None = None) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wave = 0.3 * np.sin(2 * np.pi * freq * t)
    if onset is not None:  # silent until onset: lets a test check alignment
        wave[t < onset] = 0
    return wave.astype(np.float32)


def frames(count: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """Frame k is filled with grey level 20*k, so tests can tell which frame was sampled."""
    w, h = size
    return np.stack([np.full((h, w, 3), min(255, 20 * k), dtype=np.uint8) for k in range(count)])


def write(path: Path, video: np.ndarray | None, audio: np.ndarray | None, fps: int = 8, sr: int = SR,
          vcodec: str = "libx264", acodec: str = "aac", channels: int = 1, pix_fmt: str = "yuv420p") -> Path:
    """Write any mix of a video stream and an audio stream (audio duplicated to ``channels``)."""
    with av.open(str(path), "w") as out:
        vs = as_ = None
        if video is not None:
            vs = out.add_stream(vcodec, rate=fps)
            vs.height, vs.width = video.shape[1:3]
            vs.pix_fmt = pix_fmt
        if audio is not None:
            layout = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[channels]
            as_ = out.add_stream(acodec, rate=sr, layout=layout)
        if vs is not None:
            for array in video:
                for packet in vs.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                    out.mux(packet)
            for packet in vs.encode():
                out.mux(packet)
        if as_ is not None:
            fmt = as_.codec_context.codec.audio_formats[0].name
            data = np.repeat(audio.reshape(1, -1), channels, axis=0)
            planar = fmt.endswith("p")
            if fmt.startswith("s16"):
                data = (data * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                data = (data * 2**31 * 0.99).astype(np.int32)
            if not planar:
                data = data.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt,
                                               layout={1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[channels])
            frame.sample_rate, frame.pts, frame.time_base = sr, 0, Fraction(1, sr)
            for packet in as_.encode(frame):
                out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path


# --- hostile media: frames that carry their own index, arbitrary timestamps, odd containers ------------------------

INDEX_BITS = 12
BLOCK = 16  # pixels per bit block: large enough to survive h264 at the default quality


def index_frame(index: int, width: int = 4 * BLOCK, height: int = 4 * BLOCK) -> np.ndarray:
    """A frame whose 4x4 grid of black/white blocks spells ``index`` in binary (bit 0 at the top left)."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    for bit in range(INDEX_BITS):
        if index >> bit & 1:
            row, col = divmod(bit, 4)
            frame[row * BLOCK:(row + 1) * BLOCK, col * BLOCK:(col + 1) * BLOCK] = 255
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index :func:`index_frame` wrote, read back from block means (robust to lossy coding)."""
    out = 0
    for bit in range(INDEX_BITS):
        row, col = divmod(bit, 4)
        block = frame[row * BLOCK:(row + 1) * BLOCK, col * BLOCK:(col + 1) * BLOCK]
        out |= int(block.mean() > 127) << bit
    return out


def write_timed(path: Path, video: np.ndarray, times: list[float], audio: np.ndarray | None = None,
                container: str | None = None, gop: int | None = None, rotation: int | None = None,
                metadata: dict[str, str] | None = None, faststart: bool = False, sr: int = SR,
                acodec: str = "aac") -> Path:
    """h264 frames shown at the given times (variable frame rate when they are irregular), with optional keyframe
    interval, display rotation, stream tags, moov-first layout and an audio track."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        vs = out.add_stream("libx264", rate=1000)
        vs.height, vs.width = video.shape[1:3]
        vs.pix_fmt = "yuv420p"
        vs.time_base = Fraction(1, 1000)
        vs.codec_context.time_base = Fraction(1, 1000)
        x264 = {"threads": "1"}
        if gop:
            x264.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
        vs.options = x264
        if rotation is not None:
            vs.set_display_rotation(rotation)
        if metadata:
            vs.metadata.update(metadata)
        as_ = out.add_stream(acodec, rate=sr, layout="mono") if audio is not None else None
        for array, t in zip(video, times, strict=True):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            fmt = as_.codec_context.codec.audio_formats[0].name
            data = audio.reshape(1, -1)
            if fmt.startswith("s16"):
                data = (data * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = sr, 0, Fraction(1, sr)
            for packet in as_.encode(frame):
                out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path
