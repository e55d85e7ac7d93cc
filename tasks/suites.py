"""Suites: named task lists with the data they run on when no --data is given."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Suite:
    tasks: tuple[str, ...]
    clips: int | None  # clips of the default synthetic world (None: all of it)
    description: str


SYNTHETIC = ("swapped_audio", "silent_video", "sound_presence", "visual_presence")
SUITES = {
    "all": Suite(SYNTHETIC, None, "every task whose data ships or is generated offline (the synthetic suite)"),
    "core": Suite(SYNTHETIC, 48, "the same four tasks on the first 48 clips, for CI and quick checks"),
}
