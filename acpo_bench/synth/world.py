"""Sample, render and write synthetic clips: 1-3 visible glyph sources, most of them audible, some silent, and now
and then an audible source off-screen. The visible->audible correlation is what teaches a model the visual shortcut.

Each clip is a pure function of (world config, clip index), so a clip's content id does not depend on how many clips
were generated, and the first N clips of any world of the same settings are the same clips.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from acpo_bench.media import ENCODING_VERSION
from acpo_bench.schemas import stable_hash
from acpo_bench.synth.sources import SOURCE_BY_NAME, SOURCES, SR, Glyph

GENERATOR_VERSION = 1


@dataclass(frozen=True)
class WorldConfig:
    clips: int = 240
    seed: int = 0
    av_correlation: float = 0.9
    offscreen_prob: float = 0.3
    max_visible: int = 3
    duration: float = 1.0
    fps: int = 8
    size: int = 112
    snr_db: tuple[float, float] = (10.0, 20.0)
    classes: tuple[str, ...] = field(default_factory=lambda: tuple(s.name for s in SOURCES))

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"clips must be >= 1, got {self.clips}")
        if not 0.0 <= self.av_correlation <= 1.0:
            raise ValueError(f"av-correlation must lie in [0, 1], got {self.av_correlation}")
        if not 1 <= self.max_visible < len(self.classes):
            raise ValueError(f"max_visible must lie in [1, {len(self.classes) - 1}], got {self.max_visible}")
        unknown = set(self.classes) - set(SOURCE_BY_NAME)
        if unknown:
            raise ValueError(f"unknown source classes {sorted(unknown)}; known: {sorted(SOURCE_BY_NAME)}")
        if self.size % 2:
            raise ValueError(f"size must be even (h264), got {self.size}")

    def content_key(self) -> str:
        """Identity of every clip-defining setting except the clip count, and of the clips' encoding (the
        sampling and rendering RNG take GENERATOR_VERSION alone, so a new encoding leaves the content as it was)."""
        settings = asdict(self)
        settings.pop("clips")
        return stable_hash(GENERATOR_VERSION, settings, {"encoding": ENCODING_VERSION})


@dataclass(frozen=True)
class Event:
    label: str
    visible: bool
    audible: bool
    onset: float
    offset: float
    x: float
    y: float
    scale: float


@dataclass(frozen=True)
class ClipSpec:
    index: int
    events: tuple[Event, ...]
    pitch: dict[str, float]
    gain_db: dict[str, float]
    snr_db: float
    phrase: dict[str, int]

    @property
    def visible(self) -> tuple[str, ...]:
        return tuple(sorted(e.label for e in self.events if e.visible))

    @property
    def audible(self) -> tuple[str, ...]:
        return tuple(sorted(e.label for e in self.events if e.audible))

    def manifest_fields(self) -> dict:
        """The scene's labels as a clip dataset's manifest stores them."""
        return {"visible": list(self.visible), "audible": list(self.audible),
                "offscreen": sorted(e.label for e in self.events if e.audible and not e.visible),
                "silent_visible": sorted(e.label for e in self.events if e.visible and not e.audible),
                "events": [asdict(e) for e in self.events]}


def clip_rng(config: WorldConfig, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, index, stream, GENERATOR_VERSION])


GLYPH_SCALE = (0.11, 0.2)  # a visible source's radius, as a share of the frame's side


def sample_clip(config: WorldConfig, index: int, scale: tuple[float, float] = GLYPH_SCALE) -> ClipSpec:
    """Which sources a clip shows and plays, where and when. Any config with the fields WorldConfig's sampling reads
    (seed, classes, max_visible, av_correlation, offscreen_prob, duration, size) samples the same way; the
    real-media world uses it with its own classes and a larger ``scale``."""
    rng = clip_rng(config, index, 0)
    classes = list(config.classes)
    n_visible = int(rng.integers(1, config.max_visible + 1))
    visible = list(rng.choice(classes, size=n_visible, replace=False))
    events, placed = [], []
    for label in visible:
        x, y, radius = _place(rng, placed, config.size, scale)
        events.append(_event(rng, config, label, True, bool(rng.random() < config.av_correlation), x, y, radius))
    if rng.random() < config.offscreen_prob:
        label = str(rng.choice([c for c in classes if c not in visible]))
        events.append(_event(rng, config, label, False, True, -1.0, -1.0, 0.0))
    labels = [e.label for e in events]
    return ClipSpec(index=index, events=tuple(events),
                    pitch={k: float(rng.uniform(0.95, 1.05)) for k in labels},
                    gain_db={k: float(rng.uniform(-6, 0)) for k in labels},
                    snr_db=float(rng.uniform(*config.snr_db)),
                    phrase={k: int(rng.integers(0, 2)) for k in labels})


def _event(rng, config, label, visible, audible, x, y, scale) -> Event:
    length = rng.uniform(0.45, 1.0) * config.duration
    onset = rng.uniform(0, config.duration - length)
    return Event(str(label), visible, audible, float(onset), float(onset + length), x, y, scale)


def _place(rng, placed, size, share) -> tuple[float, float, float]:
    scale = float(rng.uniform(*share) * size)
    for _ in range(20):
        x, y = (float(v) for v in rng.uniform(scale, size - scale, 2))
        if all((x - px) ** 2 + (y - py) ** 2 > (scale + ps) ** 2 for px, py, ps in placed):
            break
    placed.append((x, y, scale))
    return x, y, scale


# --- rendering ------------------------------------------------------------------------------------------------

def render_audio(config: WorldConfig, spec: ClipSpec) -> np.ndarray:
    rng = clip_rng(config, spec.index, 1)
    return mix_events(config.duration, spec, rng,
                      lambda e, n: SOURCE_BY_NAME[e.label].sound(n, rng, spec.pitch[e.label]))


def mix_events(duration: float, spec: ClipSpec, rng: np.random.Generator,
               wave_for: Callable[[Event, int], np.ndarray]) -> np.ndarray:
    """Each audible source's wave (``wave_for(event, samples)``) over its time window at unit RMS, with short ramps
    and its gain, plus background noise at the clip's SNR, peak-normalised to 0.5."""
    n = int(round(duration * SR))
    mix = np.zeros(n)
    for event in spec.events:
        if not event.audible:
            continue
        start, stop = int(event.onset * SR), min(n, int(event.offset * SR))
        wave = wave_for(event, stop - start)
        wave = wave / (np.sqrt(np.mean(wave**2)) + 1e-9)
        ramp = np.minimum(1.0, np.minimum(np.arange(len(wave)), np.arange(len(wave))[::-1]) / (0.01 * SR))
        mix[start:stop] += wave * ramp * 10 ** (spec.gain_db[event.label] / 20)
    signal_rms = np.sqrt(np.mean(mix**2)) if mix.any() else 0.1
    mix += rng.standard_normal(n) * signal_rms * 10 ** (-spec.snr_db / 20)
    return (0.5 * mix / (np.abs(mix).max() + 1e-9)).astype(np.float32)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (ax <= 0.8 * r) & (ay <= 0.8 * r)
    if shape == "triangle":
        return (dy <= 0.8 * r) & (dy >= -r + 2 * ax)
    if shape == "diamond":
        return ax + ay <= r
    if shape == "cross":
        return ((ax <= 0.3 * r) & (ay <= r)) | ((ay <= 0.3 * r) & (ax <= r))
    if shape == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if shape == "hbar":
        return (ax <= r) & (ay <= 0.4 * r)
    if shape == "vbar":
        return (ax <= 0.4 * r) & (ay <= r)
    raise ValueError(shape)


def _texture(texture: str, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    if texture == "stripes":
        return np.where((dx // 3) % 2 == 0, 1.0, 0.45)
    if texture == "checker":
        return np.where(((dx // 4) + (dy // 4)) % 2 == 0, 1.0, 0.45)
    if texture == "dots":
        return np.where(((dx % 5) - 2) ** 2 + ((dy % 5) - 2) ** 2 <= 2, 0.45, 1.0)
    return np.ones_like(dx, dtype=float)


def _glyph_position(glyph: Glyph, event: Event, t: float, phase: float) -> tuple[float, float, float]:
    x, y, r = event.x, event.y, event.scale
    if glyph.motion == "drift":
        x += 10 * np.cos(phase) * (t - 0.5)
        y += 10 * np.sin(phase) * (t - 0.5)
    elif glyph.motion == "bob":
        y += 5 * np.sin(2 * np.pi * t + phase)
    elif glyph.motion == "pulse":
        r *= 1 + 0.15 * np.sin(2 * np.pi * t + phase)
    return x, y, r


def render_frames(config: WorldConfig, spec: ClipSpec) -> np.ndarray:
    rng = clip_rng(config, spec.index, 2)
    count, size = int(round(config.duration * config.fps)), config.size
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    base = rng.uniform(12, 40)
    phases = {e.label: float(rng.uniform(0, 2 * np.pi)) for e in spec.events}
    colours = {}
    for e in spec.events:
        hue = (SOURCE_BY_NAME[e.label].glyph.hue + rng.uniform(-0.012, 0.012)) % 1.0
        colours[e.label] = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))) * 255
    frames = np.empty((count, size, size, 3), dtype=np.uint8)
    for k in range(count):
        t = (k + 0.5) / config.fps
        img = base + rng.normal(0, 6, (size, size, 1)) + np.zeros((1, 1, 3))
        for e in spec.events:
            if not e.visible:
                continue
            glyph = SOURCE_BY_NAME[e.label].glyph
            x, y, r = _glyph_position(glyph, e, t / config.duration, phases[e.label])
            dx, dy = xx - x, yy - y
            mask = _shape_mask(glyph.shape, dx, dy, r)
            shade = _texture(glyph.texture, dx, dy)
            img[mask] = colours[e.label] * shade[mask][:, None]
        frames[k] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


# --- captions -------------------------------------------------------------------------------------------------

def audio_caption(spec: ClipSpec, phrases_of: Mapping[str, Sequence[str]] | None = None) -> str:
    """What is heard, in onset order (``phrases_of``: each class's caption phrases; default the synthetic ones)."""
    heard = sorted((e for e in spec.events if e.audible), key=lambda e: e.onset)
    if not heard:
        return "only faint background hiss, no distinct sound source"
    phrases_of = phrases_of or {s.name: s.audio_phrases for s in SOURCES}
    phrases = [phrases_of[e.label][spec.phrase[e.label]] for e in heard]
    if len(phrases) == 1:
        return phrases[0]
    overlap = heard[1].onset < heard[0].offset
    joiner = " while " if overlap else ", then "
    return joiner.join(phrases[:2]) + "".join(f" and {p}" for p in phrases[2:])


def _where(e: Event, size: int) -> str:
    col = "left" if e.x < size / 3 else "right" if e.x > 2 * size / 3 else "centre"
    row = "top" if e.y < size / 3 else "bottom" if e.y > 2 * size / 3 else ""
    if row:
        return f"at the {row} {col}"
    return "in the centre" if col == "centre" else f"on the {col}"


_MASS_NOUN = {"water": "water", "wind": "wind"}


def visual_caption(config: WorldConfig, spec: ClipSpec, noun_of: Mapping[str, str] | None = None) -> str:
    """What is seen, left to right (``noun_of``: a class's noun phrase, default "a <label>")."""
    seen = sorted((e for e in spec.events if e.visible), key=lambda e: e.x)
    noun_of = noun_of or _MASS_NOUN
    items = [f"{noun_of.get(e.label, 'a ' + e.label)} {_where(e, config.size)}" for e in seen]
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"the video shows {listed}"
