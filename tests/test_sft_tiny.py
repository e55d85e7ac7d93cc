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


@pytest.mark.slow
def test_a_short_sft_run_trains_and_saves_a_loadable_checkpoint(tmp_path):
    from acpo_bench.training.sft_tiny import train
    from acpo_bench.workflows.evaluation import load_model

    config = TinySFTConfig(output_dir=str(tmp_path / "tiny"), world="synth", train_clips=16, world_seed=7,
                           steps=3, batch_size=8, questions_per_clip=4, align_steps=2, logging_steps=1,
                           check_questions=4)
    out = train(config, show_progress=False, command="test")
    record = json.loads((out / "training.json").read_text())
    assert math.isfinite(record["final_training_loss"]) and math.isfinite(record["final_alignment_loss"])
    assert record["recipe"]["questions_per_clip"] == 4
    checks = record["yes_no_checks"]  # yes/no accuracy at each of the 3 logging steps
    assert [c["step"] for c in checks] == [1, 2, 3]
    assert all(0 <= c[f"acc_yes_no_{kind}"] <= 1 for c in checks for kind in ("sound", "visible"))
    assert "flash_varlen_tower" not in (out / "config.json").read_text()  # the training-time routing is not saved
    assert load_model("qwen-omni", {"path": str(out)}, None).world == "synth"


class _OneAnswerScorer(torch.nn.Module):
    """Stands in for an AnswerScorer that always finds ``answer`` ("yes" or "no") the likelier reply."""

    def __init__(self, yes_id: int, answer: str) -> None:
        super().__init__()
        self.yes_id, self.answer = yes_id, answer
        self.device_anchor = torch.nn.Parameter(torch.zeros(1))  # the check asks a scorer for its device

    def forward(self, input_ids, attention_mask, labels, media):
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
