"""The real-media world: scenes composed from Tux Paint's stamp drawings and their own recorded sounds.

A clip follows the synthetic world's semantics exactly (the same sampler: visible sources, most of them audible,
some silent, now and then an audible source off-screen, jittered position, scale, onset and gain, background noise
at a sampled SNR), with real pictures and real recordings, long and large enough for a real model: 4 s at 224x224.
Each clip is a pure function of (config, stamp collection, clip index), and its mp4 is encoded reproducibly, so
the same seed gives the same bytes on every run.
"""

from __future__ import annotations

import functools
import io
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from acpo_bench.media import decode_audio
from acpo_bench.schemas import stable_hash
from acpo_bench.stamps.catalog import CLASSES, Stamp, load_catalog
from acpo_bench.synth.world import ClipSpec, clip_rng, mix_events, sample_clip

STAMPS_VERSION = 1
SR = 16_000
STAMP_SCALE = (0.14, 0.22)  # half a stamp's longest side, as a share of the frame's side
PICTURE_SIDE = 256  # stamps are rasterised once at this longest side, then scaled per clip
MIN_TRACK_S = 1.2  # a recording shorter than this is repeated (with pauses) across its source's time window
# nouns for the visual caption where "a <label>" reads wrong
NOUN = {"fireworks": "fireworks", "scissors": "a pair of scissors", "lightning": "a lightning bolt",
        "big cat": "a big cat"}


@dataclass(frozen=True)
class StampsConfig:
    clips: int = 240
    seed: int = 0
    av_correlation: float = 0.9
    offscreen_prob: float = 0.3
    max_visible: int = 3
    duration: float = 4.0
    fps: int = 8
    size: int = 224
    snr_db: tuple[float, float] = (10.0, 20.0)
    classes: tuple[str, ...] = field(default_factory=lambda: tuple(c.name for c in CLASSES))

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"clips must be >= 1, got {self.clips}")
        if not 0.0 <= self.av_correlation <= 1.0:
            raise ValueError(f"av-correlation must lie in [0, 1], got {self.av_correlation}")
        if not 0.0 <= self.offscreen_prob <= 1.0:
            raise ValueError(f"offscreen-prob must lie in [0, 1], got {self.offscreen_prob}")
        if not 1 <= self.max_visible < len(self.classes):
            raise ValueError(f"max_visible must lie in [1, {len(self.classes) - 1}], got {self.max_visible}")
        unknown = set(self.classes) - {c.name for c in CLASSES}
        if unknown:
            raise ValueError(f"unknown stamp classes {sorted(unknown)}")
        if self.size < 224 or self.size % 2:
            raise ValueError(f"size must be even and at least 224 (a real model's input), got {self.size}")
        if not 3.0 <= self.duration <= 5.0:
            raise ValueError(f"duration must lie in [3, 5] s, got {self.duration}")

    def content_key(self, collection: str) -> str:
        """Identity of every clip-defining setting except the clip count, and of the stamp collection's bytes."""
        settings = asdict(self)
        settings.pop("clips")
        return stable_hash(STAMPS_VERSION, settings, collection)


def sample_scene(config: StampsConfig, index: int) -> tuple[ClipSpec, dict[str, int], dict[str, bool]]:
    """The scene (the synthetic world's sampler, with stamp-sized sources), and per source which of its class's
    stamps is drawn and whether it is mirrored."""
    spec = sample_clip(config, index, scale=STAMP_SCALE)
    rng = clip_rng(config, index, 3)
    by_name = {c.name: c for c in CLASSES}
    choice = {e.label: int(rng.integers(len(by_name[e.label].stamps))) for e in spec.events}
    mirrored = {e.label: bool(rng.random() < 0.5) for e in spec.events}
    return spec, choice, mirrored


@functools.cache
def _catalog(root: str) -> dict[str, tuple[Stamp, ...]]:
    from pathlib import Path

    return load_catalog(Path(root))


@functools.lru_cache(maxsize=256)
def picture(stamp: Stamp) -> Image.Image:
    """The stamp as RGBA, its longest side PICTURE_SIDE (SVGs rasterised by cairosvg)."""
    if stamp.picture.suffix == ".svg":
        try:
            import cairosvg
        except (ImportError, OSError) as exc:  # OSError: the cairo library itself is missing
            raise RuntimeError(f"{stamp.picture}: rasterising SVG stamps needs cairosvg and the cairo library "
                               f"(pip install cairosvg; apt-get install libcairo2) ({exc})") from None
        png = cairosvg.svg2png(url=str(stamp.picture), output_width=PICTURE_SIDE)
        image = Image.open(io.BytesIO(png)).convert("RGBA")
    else:
        image = Image.open(stamp.picture).convert("RGBA")
    ratio = PICTURE_SIDE / max(image.size)
    return image.resize((max(1, round(image.width * ratio)), max(1, round(image.height * ratio))),
                        Image.Resampling.LANCZOS)


@functools.lru_cache(maxsize=256)
def recording(stamp: Stamp) -> np.ndarray:
    return decode_audio(stamp.sound, SR)


def render_frames(config: StampsConfig, spec: ClipSpec, stamps: dict[str, Stamp],
                  mirrored: dict[str, bool]) -> np.ndarray:
    rng = clip_rng(config, spec.index, 2)
    count, size = int(round(config.duration * config.fps)), config.size
    top, bottom = rng.uniform(150, 240, 3), rng.uniform(90, 200, 3)  # a soft two-colour backdrop
    backdrop = top + (bottom - top) * np.linspace(0, 1, size)[:, None, None]
    layers = []
    for e in sorted((e for e in spec.events if e.visible), key=lambda e: e.scale):  # small ones drawn last, on top
        image = picture(stamps[e.label])
        if mirrored[e.label] and stamps[e.label].flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        ratio = 2 * e.scale / max(image.size)
        image = image.resize((max(1, round(image.width * ratio)), max(1, round(image.height * ratio))),
                             Image.Resampling.LANCZOS)
        rgba = np.asarray(image, dtype=np.float32)
        drift = rng.uniform(-0.06, 0.06, 2) * size
        layers.append((rgba[..., :3], rgba[..., 3:] / 255.0, e.x, e.y, drift))
    frames = np.empty((count, size, size, 3), dtype=np.uint8)
    for k in range(count):
        t = (k + 0.5) / count - 0.5
        img = backdrop + rng.normal(0, 3, (size, size, 1))
        for rgb, alpha, x, y, drift in layers:
            _paste(img, rgb, alpha, x + drift[0] * t, y + drift[1] * t)
        frames[k] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def _paste(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> None:
    """Alpha-composite a picture centred at (cx, cy), clipped at the frame's edges."""
    h, w = alpha.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(img.shape[1], x0 + w), min(img.shape[0], y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    src = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    a = alpha[src]
    img[fy0:fy1, fx0:fx1] = img[fy0:fy1, fx0:fx1] * (1 - a) + rgb[src] * a


def render_audio(config: StampsConfig, spec: ClipSpec, stamps: dict[str, Stamp]) -> np.ndarray:
    rng = clip_rng(config, spec.index, 1)
    return mix_events(config.duration, spec, rng,
                      lambda e, n: _fill(_pitched(recording(stamps[e.label]), spec.pitch[e.label]), n, rng))


def _pitched(wave: np.ndarray, factor: float) -> np.ndarray:
    """Played ``factor`` times faster (pitch and tempo together, as a varispeed tape): the per-clip jitter."""
    positions = np.arange(0, len(wave) - 1, factor)
    return np.interp(positions, np.arange(len(wave)), wave)


def _fill(wave: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """``length`` samples of the recording: a random stretch of a long one; a short one repeated with pauses (a dog
    barks again), so every source sounds over its whole time window."""
    wave = _trim_silence(wave)
    if len(wave) >= length:
        start = int(rng.integers(0, len(wave) - length + 1))
        return wave[start:start + length]
    parts, total = [], 0
    while total < length:
        parts.append(wave)
        gap = np.zeros(int(rng.uniform(0.1, 0.4) * SR)) if len(wave) < MIN_TRACK_S * SR else np.zeros(0)
        parts.append(gap)
        total += len(wave) + len(gap)
    return np.concatenate(parts)[:length]


def _trim_silence(wave: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(wave) > threshold * max(float(np.abs(wave).max()), 1e-9))
    return wave[loud[0]:loud[-1] + 1] if len(loud) else wave
