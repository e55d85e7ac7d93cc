from __future__ import annotations

import os
import shutil
import tempfile
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


@pytest.fixture(scope="session")
def qwen3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Qwen3-Omni (MoE) thinker at a tiny size, with Qwen3's 16-pixel patches and deepstack features."""
    import json

    import torch
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        Qwen3OmniMoeProcessor,
        Qwen3OmniMoeThinkerConfig,
        Qwen3OmniMoeThinkerForConditionalGeneration,
        WhisperFeatureExtractor,
    )

    from acpo_bench.models.qwen_omni.tiny import CHAT_TEMPLATE, OMNI_TOKENS, build_tokenizer

    tokenizer = build_tokenizer(["Answer yes or no. Is there a sound of dog? What sounds can you hear?"])
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in OMNI_TOKENS.items()}
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                          num_mel_bins=128, output_dim=64, downsample_hidden_size=16, n_window=50),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                           out_hidden_size=64, num_position_embeddings=64, deepstack_visual_indexes=[1]),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, moe_intermediate_size=32, num_experts=4,
                         num_experts_per_tok=2, pad_token_id=tokenizer.pad_token_id,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]}),
        audio_token_id=ids["audio_token"], image_token_id=ids["image_token"], video_token_id=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"])
    config.vision_start_token_id, config.vision_end_token_id = ids["vision_bos_token"], ids["vision_eos_token"]
    config.audio_end_token_id = ids["audio_eos_token"]
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("qwen3-tiny")
    Qwen3OmniMoeThinkerForConditionalGeneration(config).save_pretrained(path)
    size = {"shortest_edge": 32 * 32, "longest_edge": 128 * 128}
    Qwen3OmniMoeProcessor(image_processor=Qwen2VLImageProcessor(size=size, patch_size=16),
                          video_processor=Qwen2VLVideoProcessor(size=size, patch_size=16),
                          feature_extractor=WhisperFeatureExtractor(feature_size=128, chunk_length=2),
                          tokenizer=tokenizer, chat_template=CHAT_TEMPLATE).save_pretrained(path)
    (path / "acpo_bench.json").write_text(json.dumps({"frames": 2, "videos_kwargs": {"size": size}}))
    return path


# --- a real headless Chromium for the HTML pages (leaderboard, viewer) -------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# Chromium tries to reach Google services on start; with no network it waits on them unless these are off.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,900")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium + chromedriver through selenium, logging the console and every network request."""
    if not (CHROMIUM and CHROMEDRIVER):
        from tests.requires import unavailable

        unavailable("chromium and chromedriver", "apt-get install -y chromium chromium-driver (make test does: "
                                                 "tools/system_deps.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="acpo-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # an explicit driver: no download
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
