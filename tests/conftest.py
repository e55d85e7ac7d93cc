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


@pytest.fixture(scope="session")
def tiny_model(small_world: ClipSet, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(--model, --model-args) of a tiny Qwen2.5-Omni thinker: the embedded qwen-omni-tiny when its checkpoint is in
    place, else a randomly initialised one of the same architecture over the small world's words, built offline."""
    from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT

    if (TINY_CHECKPOINT / "config.json").is_file():
        return "qwen-omni-tiny", ""
    import json

    import torch
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.sft_tiny import VIDEO_KWARGS, vocabulary_texts

    path = tmp_path_factory.mktemp("tiny-random")
    tokenizer = build_tokenizer(vocabulary_texts(small_world))
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer)).save_pretrained(path)
    build_processor(tokenizer).save_pretrained(path)
    (path / "acpo_bench.json").write_text(json.dumps({"frames": 2, "videos_kwargs": VIDEO_KWARGS}))
    return "qwen-omni", f"path={path}"


SMALL_STAMPS_CLIPS = 24


@pytest.fixture(scope="session")
def small_stamps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real-media world (needs Tux Paint's stamps: `make test` installs them with apt-get)."""
    from acpo_bench.stamps.generate import generate_stamps_world
    from acpo_bench.stamps.world import StampsConfig

    return generate_stamps_world(StampsConfig(clips=SMALL_STAMPS_CLIPS, seed=7),
                                 tmp_path_factory.mktemp("worlds") / "stamps", show_progress=False)
