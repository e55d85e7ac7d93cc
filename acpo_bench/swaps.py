"""Swap partners: for clip i, a clip j whose audible set is non-empty, disjoint from V_i and different from A_i.

The partner is drawn from a generator seeded by (seed, clip content), so every task and the training pair builders
pick the same partner for the same clip, on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from acpo_bench.schemas import Clip, stable_hash

_TRIES = 256


def valid_swap(target: Clip, source: Clip) -> bool:
    audible = set(source.audible)
    return (bool(target.visible) and bool(audible) and source.clip_id != target.clip_id
            and not audible & set(target.visible) and audible != set(target.audible))


def swap_partner(clips: Sequence[Clip], index: int, seed: int) -> Clip | None:
    """A deterministic valid partner for ``clips[index]``, or None when the collection has none."""
    target = clips[index]
    if not target.visible or len(clips) < 2:
        return None
    rng = np.random.default_rng(int(stable_hash("swap", seed, target.content_id), 16))
    # rejection sampling keeps large collections O(1) per clip; a full scan settles the rare hard cases
    for candidate in rng.integers(0, len(clips), size=_TRIES):
        if valid_swap(target, clips[candidate]):
            return clips[candidate]
    valid = [c for c in clips if valid_swap(target, c)]
    return valid[int(rng.integers(len(valid)))] if valid else None
