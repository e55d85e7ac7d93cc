"""The embedded models' SFT: its loss (answer positions only, each clip encoded once) is the thinker's own causal-LM
loss on the same batch; questions come in runs about one clip and the Trainer keeps that order; a short run
trains and saves a checkpoint the adapter loads."""

import json
import math

import pytest
import torch

from acpo_bench.training.sft_tiny import SFTData, TinySFTConfig, make_collator, sample_examples


@pytest.fixture(scope="module")
def tiny_sft(small_world):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.sft_tiny import featurize, vocabulary_texts

    tokenizer = build_tokenizer(vocabulary_texts(small_world))
    processor = build_processor(tokenizer)
    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer)).eval()
    media = featurize(small_world, processor, frames=2, show_progress=False)
    return model, processor, tokenizer, media


def test_questions_come_in_runs_about_one_clip(small_world):
    config = TinySFTConfig(train_clips=16, questions_per_clip=4, batch_size=8, steps=1)
    examples = sample_examples(small_world, 24, config)
    runs = [examples[i:i + 4] for i in range(0, 24, 4)]
    assert all(len({e.clip for e in run}) == 1 for run in runs)
    assert len({run[0].clip for run in runs}) > 1
    # one question per clip draws the clips exactly as before the option existed: the glyph recipe is unchanged
    single = sample_examples(small_world, 24, TinySFTConfig(train_clips=16, steps=1))
    assert len({e.clip for e in single[:4]}) > 1
    with pytest.raises(ValueError, match="questions_per_clip"):
        TinySFTConfig(questions_per_clip=0)
    with pytest.raises(ValueError, match="vision_width"):
        TinySFTConfig(vision_width=1)
    with pytest.raises(ValueError, match="check_questions"):
        TinySFTConfig(check_questions=1)  # one question cannot ask about both sounds and sights


def test_sft_loss_equals_the_thinkers_own_causal_lm_loss(small_world, tiny_sft):
    from acpo_bench.models.qwen_omni.features import DistinctMedia, collate
    from acpo_bench.training.scorer import AnswerScorer
    from acpo_bench.training.sft_tiny import answer_nll

    model, processor, tokenizer, media = tiny_sft
    config = TinySFTConfig(train_clips=16, questions_per_clip=3, batch_size=6, steps=1)
    data = SFTData(sample_examples(small_world, 6, config), media, processor)
    items = list(data)
    assert [it["clip"] for it in items] == [e.clip for e in data.examples]  # iteration keeps the sampled order
    batch = make_collator(tokenizer.pad_token_id, model.config.audio_token_id)(items)
    assert len(batch["media"]["rows"].unique()) == 2  # six questions, two clips: each clip stacked once

    scorer = AnswerScorer(model, model.config.video_token_id, model.config.audio_token_id)
    with torch.no_grad():
        ours = answer_nll(scorer, batch)
        plain = collate([it["ids"] for it in items], [it["media"] for it in items], tokenizer.pad_token_id,
                        padding_side="right", labels=[it["labels"] for it in items])
        plain = {k: v.float() if v.is_floating_point() else v for k, v in plain.items()}
        theirs = model(**plain, use_audio_in_video=True).loss
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    assert DistinctMedia(**batch["media"]).pixel_values_videos.dtype == torch.float32


def test_rope_positions_and_frozen_tower_outputs_give_the_same_loss(small_world, tiny_sft):
    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex
    from acpo_bench.training.scorer import AnswerScorer
    from acpo_bench.training.sft_tiny import answer_nll, encode_clips

    model, processor, tokenizer, media = tiny_sft
    config = TinySFTConfig(train_clips=16, questions_per_clip=2, batch_size=8, steps=1)
    items = list(SFTData(sample_examples(small_world, 8, config), media, processor))
    plain = make_collator(tokenizer.pad_token_id, model.config.audio_token_id)(items)
    rope = RopeIndex(model.model)
    with_rope = make_collator(tokenizer.pad_token_id, model.config.audio_token_id, rope)(items)
    per_row = DistinctMedia(**plain["media"]).per_row()
    own, _ = model.model.get_rope_index(  # the model's own per-row walk over the right-padded batch
        plain["input_ids"], None, per_row["video_grid_thw"], plain["attention_mask"], True,
        per_row["feature_attention_mask"].sum(-1), per_row["video_second_per_grid"])
    real = plain["attention_mask"].bool()
    assert torch.equal(with_rope["position_ids"][:, real], own[:, real])
    encodings = encode_clips(model, media, batch_size=5)  # chunks that do not divide the clips
    frozen = make_collator(tokenizer.pad_token_id, model.config.audio_token_id, rope, encodings, 1)(items)
    assert len(frozen["encoded"][0]) == len(frozen["media"]["rows"].unique())  # one entry per distinct clip
    scorer = AnswerScorer(model, model.config.video_token_id, model.config.audio_token_id)
    with torch.no_grad():
        losses = [answer_nll(scorer, batch).item() for batch in (plain, with_rope, frozen)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-6) and losses[2] == pytest.approx(losses[0], rel=1e-5)
    with pytest.raises(ValueError, match="frozen_tower_steps"):
        TinySFTConfig(frozen_tower_steps=10)  # no warm-up: the towers would be frozen at random weights
    limited = make_collator(tokenizer.pad_token_id, model.config.audio_token_id, rope, encodings, encoded_batches=1)
    assert "encoded" in limited(items) and "encoded" not in limited(items)  # the first batch only


@pytest.mark.slow
def test_a_short_sft_run_trains_and_saves_a_loadable_checkpoint(tmp_path):
    from acpo_bench.training.sft_tiny import train
    from acpo_bench.workflows.evaluation import load_model

    config = TinySFTConfig(output_dir=str(tmp_path / "tiny"), world="synth", train_clips=16, world_seed=7,
                           steps=3, batch_size=8, questions_per_clip=4, align_steps=2, logging_steps=1,
                           check_questions=4, vision_width=64)
    out = train(config, show_progress=False, command="test")
    vision = json.loads((out / "config.json").read_text())["vision_config"]
    assert (vision["hidden_size"], vision["intermediate_size"], vision["num_heads"]) == (64, 128, 2)
    record = json.loads((out / "training.json").read_text())
    assert math.isfinite(record["final_training_loss"]) and math.isfinite(record["final_alignment_loss"])
    assert record["recipe"]["questions_per_clip"] == 4
    checks = record["yes_no_checks"]  # yes/no accuracy at each of the 3 logging steps
    assert [c["step"] for c in checks] == [1, 2, 3]
    assert all(0 <= c[f"acc_yes_no_{kind}"] <= 1 for c in checks for kind in ("sound", "visible"))
    assert "flash_varlen_tower" not in (out / "config.json").read_text()  # the training-time routing is not saved
    assert load_model("qwen-omni", {"path": str(out)}, None).world == "synth"


@pytest.mark.slow
@pytest.mark.parametrize("frozen_steps", [3, 2])
def test_towers_train_only_after_the_frozen_tower_steps(tmp_path, monkeypatch, frozen_steps):
    from acpo_bench.training import tower_alignment
    from acpo_bench.training.sft_tiny import train

    warmed = {}

    def warm_up_and_keep(model, *args, **kwargs):
        loss = warm_up(model, *args, **kwargs)
        warmed.update({k: v.clone() for k, v in model.state_dict().items()})
        return loss

    warm_up = tower_alignment.warm_up_towers
    monkeypatch.setattr(tower_alignment, "warm_up_towers", warm_up_and_keep)
    config = TinySFTConfig(output_dir=str(tmp_path / "tiny"), world="synth", train_clips=16, world_seed=7, steps=3,
                           batch_size=8, align_steps=2, frozen_tower_steps=frozen_steps, logging_steps=1,
                           check_questions=4)
    record = json.loads((train(config, show_progress=False) / "training.json").read_text())
    assert math.isfinite(record["final_training_loss"]) and len(record["yes_no_checks"]) == 3
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    saved = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tmp_path / "tiny").state_dict()
    assert saved.keys() == warmed.keys()
    towers = [k for k in warmed if "visual." in k or "audio_tower." in k]
    unchanged = [torch.equal(saved[k], warmed[k]) for k in towers]
    if frozen_steps == config.steps:
        assert towers and all(unchanged)  # the warmed-up towers, kept
    else:
        first_layers = [k for k in towers if "patch_embed" in k or "conv1" in k]  # one per tower at least
        assert len(first_layers) >= 2 and not any(torch.equal(saved[k], warmed[k]) for k in first_layers)
    text = [k for k in warmed if ".layers." in k and "audio_tower" not in k]
    assert text and all(not torch.equal(saved[k], warmed[k]) for k in text if k.endswith("up_proj.weight"))


class _OneAnswerScorer(torch.nn.Module):
    """Stands in for an AnswerScorer that always finds ``answer`` ("yes" or "no") the likelier reply."""

    def __init__(self, yes_id: int, answer: str) -> None:
        super().__init__()
        self.yes_id, self.answer = yes_id, answer
        self.device_anchor = torch.nn.Parameter(torch.zeros(1))  # the check asks a scorer for its device

    def forward(self, input_ids, attention_mask, labels, media, **precomputed):
        answered_yes = (labels == self.yes_id).any(1)
        sums = (answered_yes == (self.answer == "yes")).float()
        return sums, torch.ones_like(sums)


def test_the_yes_no_check_scores_the_likelier_answer(small_world, tiny_sft):
    from acpo_bench.training.yes_no_check import YesNoCheck

    model, processor, tokenizer, media = tiny_sft
    check = YesNoCheck(small_world, media, processor, make_collator(tokenizer.pad_token_id,
                                                                    model.config.audio_token_id), 80, seed=3)
    yes_id = tokenizer.convert_tokens_to_ids("yes")
    truth, sound = check.truth_is_yes, torch.tensor([k == "sound_of" for k in check.kinds])
    assert 0.2 < truth.float().mean() < 0.8 and sound.sum() == 40  # both answers, both kinds, half each
    always_yes = check(_OneAnswerScorer(yes_id, "yes"))
    assert always_yes["acc_yes_no_sound"] == pytest.approx(truth[sound].float().mean().item())
    assert always_yes["acc_yes_no_visible"] == pytest.approx(truth[~sound].float().mean().item())
    always_no = check(_OneAnswerScorer(yes_id, "no"))
    assert always_no["acc_yes_no_sound"] == pytest.approx(1 - always_yes["acc_yes_no_sound"])


def test_the_yes_no_check_on_the_real_scorer_restores_training_mode(small_world, tiny_sft):
    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.training.scorer import AnswerScorer
    from acpo_bench.training.yes_no_check import YesNoCheck

    model, processor, tokenizer, media = tiny_sft
    check = YesNoCheck(small_world, media, processor, make_collator(tokenizer.pad_token_id,
                                                                    model.config.audio_token_id), 6, seed=0)
    scorer = AnswerScorer(model, model.config.video_token_id, model.config.audio_token_id).train()
    result = check(scorer)
    assert scorer.training and set(result) == {"acc_yes_no_sound", "acc_yes_no_visible"}
    with torch.no_grad():  # question by question, the same verdicts
        verdicts = []
        for q in range(6):
            batch = check.collator(check.items[2 * q:2 * q + 2])
            sums, _ = scorer(batch["input_ids"], batch["attention_mask"], batch["labels"],
                             DistinctMedia(**batch["media"]))
            verdicts.append(bool(sums[0] > sums[1]) == bool(check.truth_is_yes[q]))
    sound = [v for v, k in zip(verdicts, check.kinds, strict=True) if k == "sound_of"]
    assert result["acc_yes_no_sound"] == pytest.approx(sum(sound) / len(sound))
    model.eval()
