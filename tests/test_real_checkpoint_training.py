"""A checkpoint that declares no world (a real model) trains on real media: `pairs build` draws its clips from the
real-media training world (seed 1000, apart from the evaluation world's 0), and ACPO runs on them (2 steps on the
tiny architecture: finite losses, weights move, resume is exact)."""

from __future__ import annotations

import json

import pytest
import torch

from acpo_bench.cli import main
from acpo_bench.cli.train_cmd import training_world
from acpo_bench.training.acpo import ACPOConfig, train
from acpo_bench.training.pairs import load_pairs


@pytest.fixture(scope="module")
def real_checkpoint(small_stamps_dir, tmp_path_factory):
    """A random tiny thinker over the real-media world's words whose acpo_bench.json names no world."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.clips import load_clips
    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.sft_tiny import VIDEO_KWARGS, vocabulary_texts

    path = tmp_path_factory.mktemp("real-ckpt")
    tokenizer = build_tokenizer(vocabulary_texts(load_clips(small_stamps_dir)))
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer, hidden=32)).save_pretrained(path)
    build_processor(tokenizer).save_pretrained(path)
    (path / "acpo_bench.json").write_text(json.dumps({"frames": 2, "videos_kwargs": VIDEO_KWARGS}))
    return path


def test_models_train_on_the_world_they_declare(real_checkpoint):
    assert training_world("qwen-omni", {"path": str(real_checkpoint)}) == "stamps"
    assert training_world("qwen-omni-tiny", {}) == "synth"
    assert training_world(None, {}) == "stamps"


@pytest.mark.slow
def test_pairs_from_the_real_media_training_world_train_and_resume(real_checkpoint, tmp_path):
    pairs = tmp_path / "pairs"
    assert main(["pairs", "build", "--output-dir", str(pairs), "--world-clips", "10", "--precompute-reference",
                 "qwen-omni", "--model-args", f"path={real_checkpoint}"]) == 0
    meta = json.loads((pairs / "pairs.json").read_text())
    assert meta["data"]["name"].startswith("stamps-v1-n10-")
    assert len(load_pairs(pairs)) > 0
    config = dict(steps=2, batch_size=2, replay_batch_size=2, learning_rate=1e-3, logging_steps=1,
                  reference="precomputed", kind_weights={"visible_silent": 0.5, "audible": 0.5})
    straight = train(real_checkpoint, pairs, tmp_path / "straight", ACPOConfig(**config), show_progress=False)
    log = json.loads((straight / "acpo.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    from safetensors.torch import load_file
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    base = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(real_checkpoint).state_dict()
    moved = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(straight / "policy").state_dict()
    assert any(not torch.equal(base[k], moved[k]) for k in base if k.startswith("model.language_model."))
    tuned = load_file(straight / "policy" / "model.safetensors")
    halfway = tmp_path / "resumed"
    train(real_checkpoint, pairs, halfway, ACPOConfig(**{**config, "steps": 1, "save_steps": 1}),
          show_progress=False)
    train(real_checkpoint, pairs, halfway, ACPOConfig(**{**config, "save_steps": 1}), resume=True,
          show_progress=False)
    resumed = load_file(halfway / "policy" / "model.safetensors")
    assert all(torch.allclose(tuned[k], resumed[k], atol=1e-6) for k in tuned)

    # y+'s reference log-probs under silence and the noise floor are precomputed too: a first step that plays them
    # gives the loss terms a frozen reference computes in the step
    assert {"ref_chosen_silence", "ref_chosen_noise"} <= set(load_pairs(pairs).column_names)
    mixed = {**config, "steps": 1, "batch_size": 6, "contrast_mix": {"swap": 0.2, "silence": 0.4, "noise": 0.4}}
    first = {}
    for reference in ("precomputed", "frozen"):
        run = train(real_checkpoint, pairs, tmp_path / reference, ACPOConfig(**{**mixed, "reference": reference}),
                    show_progress=False)
        first[reference] = json.loads((run / "acpo.json").read_text())["log_history"][0]
    terms = [k for k in first["frozen"] if k.startswith(("loss_in", "margin_in"))]
    assert any(k.endswith(("_silence", "_noise")) for k in terms)
    for key in terms:
        assert first["precomputed"][key] == pytest.approx(first["frozen"][key], abs=1e-4), key
