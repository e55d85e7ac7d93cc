"""The sound sources of the synthetic world: a name, synonyms, a visual glyph and a synthesized sound signature.

Every sound is a small procedure over numpy (harmonic stacks, noise bands, AM/FM, rhythm) whose pitch, timing and
gain are jittered per clip by the caller's generator, so no two clips of a class sound exactly alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SR = 16_000


@dataclass(frozen=True)
class Glyph:
    shape: str  # circle, square, triangle, diamond, cross, ring, hbar, vbar
    hue: float  # 0..1
    texture: str  # solid, stripes, checker, dots
    motion: str  # static, drift, bob, pulse


@dataclass(frozen=True)
class Source:
    name: str
    synonyms: tuple[str, ...]
    glyph: Glyph
    sound: Callable[[int, np.random.Generator, float], np.ndarray]  # (n samples, rng, pitch factor) -> wave
    audio_phrases: tuple[str, ...]


def _t(n: int) -> np.ndarray:
    return np.arange(n) / SR


def _harmonics(f0: np.ndarray | float, n: int, count: int, rolloff: float = 1.0) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(f0, (n,))) / SR
    return sum(np.sin(k * phase) / k**rolloff for k in range(1, count + 1))


def _band_noise(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spec[(freqs < lo) | (freqs > hi)] = 0
    return np.fft.irfft(spec, n)


def _pulses(n: int, period: float, width: float, phase: float = 0.0, decay: float | None = None) -> np.ndarray:
    """An envelope of repeating pulses (width seconds every period seconds), optionally decaying within a pulse."""
    pos = (_t(n) + phase) % period
    if decay is None:
        return (pos < width).astype(float)
    return np.where(pos < width, np.exp(-pos / decay), 0.0)


def dog(n, rng, p):
    env = _pulses(n, rng.uniform(0.22, 0.3), 0.13, decay=0.05)
    return env * (_harmonics(380 * p, n, 6, 0.8) + 0.3 * _band_noise(n, rng, 300, 2500))


def cat(n, rng, p):
    t = _t(n)
    f0 = 550 * p * (1 + 0.35 * np.sin(np.pi * t / max(t[-1], 1e-3)))
    return _harmonics(f0 * (1 + 0.01 * np.sin(2 * np.pi * 6 * t)), n, 4)


def bird(n, rng, p):
    pos = _t(n) % rng.uniform(0.1, 0.16)
    f = 3200 * p + 9000 * pos
    return (pos < 0.06) * np.sin(2 * np.pi * np.cumsum(f) / SR)


def car(n, rng, p):
    t = _t(n)
    return (0.7 + 0.3 * np.sin(2 * np.pi * 8 * t)) * _harmonics(65 * p, n, 14, 0.7) + 0.4 * _band_noise(n, rng, 40, 400)


def bell(n, rng, p):
    t = _t(n)
    partials = [1.0, 2.76, 5.40, 8.93]
    return np.exp(-t / 0.35) * sum(np.sin(2 * np.pi * 700 * p * r * t) / (i + 1) for i, r in enumerate(partials))


def drum(n, rng, p):
    env = _pulses(n, rng.uniform(0.18, 0.25), 0.12, decay=0.03)
    return env * (np.sin(2 * np.pi * 90 * p * _t(n)) + 0.6 * _band_noise(n, rng, 60, 1200))


def guitar(n, rng, p):
    # Karplus-Strong plucked string: a noise burst through a decaying delay line, re-plucked every note
    period = int(SR / (196 * p))
    out = np.zeros(n)
    note = int(rng.uniform(0.25, 0.35) * SR)
    for start in range(0, n, note):
        length = min(note, n - start)
        buf = rng.uniform(-1, 1, period)
        seg = np.empty(length)
        for i in range(length):
            seg[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
        out[start:start + length] = seg
    return out


def piano(n, rng, p):
    pos = _t(n) % rng.uniform(0.3, 0.45)
    f0 = 262 * p
    return np.exp(-pos / 0.25) * sum(np.sin(2 * np.pi * f0 * k * (1 + 0.0005 * k * k) * _t(n)) / k
                                     for k in range(1, 7))


def siren(n, rng, p):
    t = _t(n)
    f = 900 * p + 350 * np.sin(2 * np.pi * 1.8 * t + rng.uniform(0, 6.28))
    return np.sin(2 * np.pi * np.cumsum(f) / SR)


def phone(n, rng, p):
    t = _t(n)
    tone = np.sin(2 * np.pi * 440 * p * t) + np.sin(2 * np.pi * 480 * p * t)
    return tone * (0.6 + 0.4 * np.sign(np.sin(2 * np.pi * 20 * t))) * _pulses(n, 0.4, 0.25)


def clock(n, rng, p):
    env = _pulses(n, 0.25, 0.012, decay=0.003)
    return env * np.sin(2 * np.pi * 2200 * p * _t(n))


def water(n, rng, p):
    t = _t(n)
    return (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3, 7) * t)) * _band_noise(n, rng, 600 * p, 3500 * p)


def train(n, rng, p):
    t = _t(n)
    chord = sum(np.sin(2 * np.pi * f * p * t) for f in (554, 698, 831))
    return chord + 0.5 * _band_noise(n, rng, 30, 250)


def baby(n, rng, p):
    t = _t(n)
    f0 = 430 * p * (1 + 0.04 * np.sin(2 * np.pi * 6 * t))
    return _pulses(n, 0.5, 0.38) * _harmonics(f0, n, 5, 0.6)


def hammer(n, rng, p):
    env = _pulses(n, rng.uniform(0.28, 0.34), 0.05, decay=0.01)
    return env * (np.sin(2 * np.pi * 180 * p * _t(n)) + 0.8 * _band_noise(n, rng, 1000, 6000))


def wind(n, rng, p):
    t = _t(n)
    return (0.5 + 0.5 * np.sin(2 * np.pi * 0.9 * t + rng.uniform(0, 6.28)) ** 2) * _band_noise(n, rng, 80 * p, 700 * p)


_SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "hbar", "vbar")
_TEXTURES = ("solid", "stripes", "checker", "dots")
_MOTIONS = ("static", "drift", "bob", "pulse")

_TABLE = [
    # name, synonyms, sound, caption phrases
    ("dog", ("dog", "bark", "barks", "barking", "woof", "puppy"), dog, ("a dog barks", "a dog is barking")),
    ("cat", ("cat", "meow", "meowing", "kitten"), cat, ("a cat meows", "a cat is meowing")),
    ("bird", ("bird", "chirp", "chirping", "tweet", "tweeting", "birdsong"), bird, ("a bird chirps", "birds chirp")),
    ("car", ("car", "engine", "motor", "vehicle"), car, ("a car engine hums", "an engine is running")),
    ("bell", ("bell", "chime", "chiming", "ding", "tolling"), bell, ("a bell rings", "a bell chimes")),
    ("drum", ("drum", "drumming", "drumbeat", "percussion"), drum, ("a drum beats", "someone plays a drum")),
    ("guitar", ("guitar", "strum", "strumming", "plucking"), guitar, ("a guitar is strummed", "a guitar plays")),
    ("piano", ("piano", "keyboard"), piano, ("a piano plays", "piano notes sound")),
    ("siren", ("siren", "ambulance", "wailing"), siren, ("a siren wails", "a siren is sounding")),
    ("phone", ("phone", "telephone", "ringtone", "ringing"), phone, ("a phone is ringing", "a telephone rings")),
    ("clock", ("clock", "tick", "ticking", "tock"), clock, ("a clock ticks", "a clock is ticking")),
    ("water", ("water", "stream", "splash", "splashing", "flowing", "trickling"), water,
     ("water flows", "water is splashing")),
    ("train", ("train", "locomotive", "whistle"), train, ("a train whistle blows", "a train passes")),
    ("baby", ("baby", "cry", "crying", "infant"), baby, ("a baby cries", "a baby is crying")),
    ("hammer", ("hammer", "hammering", "pounding", "knocking"), hammer, ("a hammer pounds", "someone is hammering")),
    ("wind", ("wind", "breeze", "gust", "howling"), wind, ("wind blows", "the wind is howling")),
]

SOURCES: tuple[Source, ...] = tuple(
    Source(name=name, synonyms=syn, sound=fn, audio_phrases=phrases,
           glyph=Glyph(shape=_SHAPES[k % 8], hue=k / len(_TABLE), texture=_TEXTURES[(k // 2) % 4],
                       motion=_MOTIONS[(k // 4 + k) % 4]))
    for k, (name, syn, fn, phrases) in enumerate(_TABLE)
)
SOURCE_BY_NAME = {s.name: s for s in SOURCES}


def synonyms() -> dict[str, list[str]]:
    return {s.name: list(s.synonyms) for s in SOURCES}
