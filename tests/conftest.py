from __future__ import annotations

import os
from pathlib import Path

import pytest

from acpo_bench.clips import ClipSet, load_clips
from acpo_bench.synth.generate import generate_world
from acpo_bench.synth.world import WorldConfig

SMALL_WORLD = WorldConfig(clips=24, seed=7)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the user's cache: the default world goes to a per-session directory."""
    os.environ["ACPO_BENCH_CACHE"] = str(tmp_path_factory.mktemp("acpo-cache"))


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_world(SMALL_WORLD, tmp_path_factory.mktemp("worlds") / "small", show_progress=False)


@pytest.fixture(scope="session")
def small_world(small_world_dir: Path) -> ClipSet:
    return load_clips(small_world_dir)
