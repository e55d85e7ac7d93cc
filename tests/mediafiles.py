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
