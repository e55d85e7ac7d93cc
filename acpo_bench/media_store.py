"""Turns a probe's (video, audio recipe) into decoded :class:`Media`, decoding each file at most once per run."""

from __future__ import annotations

import functools
import threading
from collections import defaultdict

import numpy as np

from acpo_bench.media import (
    Media,
    MediaSpec,
    apply_gain,
    decode_audio,
    decode_video,
    fit_length,
    noise_floor,
    silence,
)
from acpo_bench.schemas import AudioRecipe, stable_hash


class MediaStore:
    """Per-run decode cache: video tracks and audio tracks by path, composed media by (video, recipe).

    The runner visits probes grouped by media key, so a bounded LRU keeps every file decoded once while memory stays
    flat on long runs. Thread-safe: concurrent loads of one file wait for a single decode.
    """

    def __init__(self, spec: MediaSpec, max_items: int = 256) -> None:
        self.spec = spec
        self._video_lru = functools.lru_cache(maxsize=max_items)(self._decode_video)
        self._audio_lru = functools.lru_cache(maxsize=max_items)(self._decode_audio)
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def _once(self, kind: str, path: str, decode):
        with self._guard:
            lock = self._locks[(kind, path)]
        with lock:
            return decode(path)

    def _video(self, path: str):
        return self._once("video", path, self._video_lru)

    def _audio(self, path: str) -> np.ndarray:
        return self._once("audio", path, self._audio_lru)

    def _decode_video(self, path: str):
        return decode_video(path, self.spec)

    def _decode_audio(self, path: str) -> np.ndarray:
        return decode_audio(path, self.spec.sample_rate)

    def load(self, video: str, video_id: str, recipe: AudioRecipe) -> Media:
        """Frames of ``video`` with the audio that ``recipe`` names, trimmed or looped to the video's duration."""
        track = self._video(video)
        length = int(round(track.duration * self.spec.sample_rate))
        if recipe.kind == "own":
            audio = fit_length(self._audio(video), length, loop=False)
        elif recipe.kind == "swap":
            audio = fit_length(self._audio(recipe.source), length, loop=True)
        elif recipe.kind == "silence":
            audio = silence(length)
        else:
            # noise is seeded by the probe's media identity: the same probe hears the same noise on every run
            rng = np.random.default_rng(int(stable_hash(video_id, recipe.key()), 16))
            audio = noise_floor(length, recipe.noise_dbfs, rng)
        if recipe.gain_db:
            audio = apply_gain(audio, recipe.gain_db)
        return Media(frames=track.frames, frame_times=track.times, audio=audio,
                     sample_rate=self.spec.sample_rate, duration=track.duration)
