"""The embedded model's card: build command, recipe and scores, and `zoo card` on a directory it cannot read."""

import json

import pytest

from acpo_bench.cli import main as cli_main
from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT, TINY_STAMPS_CHECKPOINT
from acpo_bench.training.model_card import model_card

TRAINING = {"command": "acpo-bench zoo build tiny steps=7200",
            "recipe": {"train_clips": 4000, "world_seed": 1000, "av_correlation": 0.95, "steps": 7200,
                       "batch_size": 64, "learning_rate": 0.001, "warmup_steps": 200, "seed": 0,
                       "yes_no_share": 0.75, "hidden": 128, "layers": 2, "frames": 2},
            "train_world": "synth-v1-n4000-x", "train_data_fingerprint": "sha256:" + "ab" * 32,
            "final_training_loss": 0.3011}
RESULTS = {"config": {"data": {"name": "synth-v1-n240-y"}},
           "run_info": {"started": "2026-11-26T20:00:00+00:00", "git_commit": "abc123", "host": "vm",
                        "device": "cpu", "command": "acpo-bench zoo card"},
           "tasks": {"swapped_audio": {"metrics": {"vahr_yn": {"value": 0.6374, "ci95": [0.597, 0.677]}}}},
           "summary": {"audio_grounding_score": {"value": 0.4331, "ci95": [0.406, 0.459]}}}


def test_card_states_command_recipe_and_where_the_scores_were_measured():
    card = model_card("qwen-omni-tiny", TRAINING, RESULTS, 749_792)
    assert "749,792 parameters" in card
    assert "- command: `acpo-bench zoo build tiny steps=7200`" in card
    assert "SFT: 7200 steps x batch 64" in card and "final training loss: 0.3011" in card
    assert "Measured 2026-11-26 at commit abc123 (vm, cpu) by `acpo-bench zoo card`." in card
    assert "| swapped_audio.vahr_yn | 0.637 | [0.597, 0.677] |" in card
    assert "| audio grounding score | 0.433 | [0.406, 0.459] |" in card
    assert "silent_hallucination_rate" not in card  # a metric the run did not measure has no row


def test_card_without_a_recorded_command_or_scores_says_so():
    card = model_card("qwen-omni-tiny", {k: v for k, v in TRAINING.items() if k != "command"}, None, 10)
    assert "command: not recorded" in card and "## Scores" not in card


def test_zoo_card_names_the_missing_training_json(tmp_path, capsys):
    assert cli_main(["zoo", "card", str(tmp_path), "--quiet"]) == 2
    assert f"{tmp_path}/training.json not found" in capsys.readouterr().err


@pytest.mark.parametrize("checkpoint, world", [(TINY_CHECKPOINT, "synth"), (TINY_STAMPS_CHECKPOINT, "stamps")])
def test_shipped_models_record_how_they_were_built(checkpoint, world):
    training = json.loads((checkpoint / "training.json").read_text())
    card = (checkpoint / "README.md").read_text()
    assert training["command"].startswith("acpo-bench zoo build") and f"`{training['command']}`" in card
    assert f"SFT: {training['recipe']['steps']} steps" in card and training["recipe"].get("world", "synth") == world
    assert json.loads((checkpoint / "acpo_bench.json").read_text())["world"] == world  # what it is evaluated on
    assert sum(f.stat().st_size for f in checkpoint.iterdir()) < 10 * 2**20  # embedded models stay under 10 MB


def test_card_of_the_real_media_model_names_its_world_and_warm_up():
    recipe = {**TRAINING["recipe"], "world": "stamps", "align_steps": 800, "align_learning_rate": 0.002,
              "frozen_tower_steps": 1500, "frame_side": 224, "vision_width": 64}
    card = model_card("qwen-omni-tiny-stamps", {**TRAINING, "recipe": recipe, "final_alignment_loss": 0.19},
                      RESULTS, 10)
    assert card.startswith("# qwen-omni-tiny-stamps") and "trained from scratch on the real-media world" in card
    assert "tower warm-up before SFT: 800 steps x batch 64, lr 0.002" in card and "final loss 0.19" in card
    assert "`acpo-bench eval --model qwen-omni-tiny-stamps --tasks all`" in card and "70 stamp classes" in card
    assert "towers frozen for the first 1500 steps" in card and "2 frames of 224x224" in card
    assert "a vision tower of width 64" in card
    glyphs = model_card("qwen-omni-tiny", TRAINING, None, 10)
    assert "tower warm-up" not in glyphs and "frozen" not in glyphs
    assert "a vision tower of width 32" in glyphs  # recipes from before the option had the width fixed at 32
