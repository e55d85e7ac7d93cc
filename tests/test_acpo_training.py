"""ACPO training: pairs, the TRL anchor for the DPO term, the trainer end to end (steps, resume, DDP)."""

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from acpo_bench.schemas import AudioRecipe
from acpo_bench.tasks._probes import NOISE_FLOOR, SILENCE
from acpo_bench.training.acpo import OWN_AUDIO, ACPOConfig, PairCollator, PairSampler, train
from acpo_bench.training.losses import dpo_sigmoid
from acpo_bench.training.pairs import (
    contrast_kinds,
    draw_contrasts,
    label_pairs,
    load_pairs,
    recipe_from_json,
    recipe_json,
    save_pairs,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pairs_dir(small_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    save_pairs(label_pairs(small_world, seed=0), out, {"data": small_world.name})
    return out


def test_label_pairs_are_dual_axis_and_correct(small_world):
    pairs = label_pairs(small_world, seed=0)
    counts = Counter(p.kind for p in pairs)
    assert counts["audible"] and counts["visible_silent"] and counts["absent"] and counts["open_masquerade"]
    assert len({p.pair_id for p in pairs}) == len(pairs)
    by_id = {c.content_id: c for c in small_world.clips}
    for pair in pairs:
        clip = by_id[pair.video_id]
        contrast = recipe_from_json(pair.contrast_audio)
        assert recipe_from_json(pair.audio).kind == "own" and contrast.kind == "swap"
        source = by_id[contrast.source_id]
        target = next((c for c in small_world.lexicon.classes if pair.prompt.rstrip("?").endswith(c)), None)
        if pair.kind == "visible_silent":
            assert (pair.chosen, pair.rejected) == ("no", "yes")
            assert target in clip.visible and target not in clip.audible
            assert target in source.audible, "under a' the faithful 'no' would be wrong"
        elif pair.kind == "audible":
            assert (pair.chosen, pair.rejected) == ("yes", "no")
            assert target in clip.audible and target not in source.audible
        elif pair.kind == "absent":
            assert (pair.chosen, pair.rejected) == ("no", "yes")
            assert target not in clip.visible and target not in clip.audible
            assert target in source.audible, "under a' the faithful 'no' would be wrong"
        elif pair.kind == "open_masquerade":
            silent = set(clip.visible) - set(clip.audible)
            assert silent and all(label in pair.rejected for label in silent)
            assert not any(label in pair.chosen.split(" and ") for label in silent)


def test_pairs_roundtrip_through_datasets(pairs_dir, small_world):
    data = load_pairs(pairs_dir)
    meta = json.loads((pairs_dir / "pairs.json").read_text())
    assert len(data) == meta["total"] == sum(meta["counts"].values())
    assert set(data.column_names) >= {"pair_id", "kind", "prompt", "chosen", "rejected", "audio", "contrast_audio"}


def test_our_dpo_equals_trl_dpotrainer_sigmoid_loss(tmp_path):
    """The same causal LM, pairs and reference: our dpo_sigmoid on summed completion log-probs == TRL's loss."""
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl import DPOConfig, DPOTrainer

    from acpo_bench.models.qwen_omni.tiny import build_tokenizer

    tokenizer = build_tokenizer(["Is there a sound of dog? yes no a dog and a bell"])
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    reference = Qwen2ForCausalLM(config)
    policy = copy.deepcopy(reference)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))  # policy != reference, so the loss is not log 2
    data = Dataset.from_list([
        {"prompt": "Is there a sound of dog?", "chosen": " yes", "rejected": " no"},
        {"prompt": "Is there a sound of bell?", "chosen": " no", "rejected": " yes a dog"},
        {"prompt": "What sounds can you hear?", "chosen": " a dog", "rejected": " a dog and a bell"},
    ])
    args = DPOConfig(output_dir=str(tmp_path), beta=0.5, loss_type=["sigmoid"], per_device_train_batch_size=3,
                     report_to=[], use_cpu=True, max_steps=1, activation_checkpointing=False)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=data,
                         processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, batch).item()

        def completion_logps(model):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            logps = logits.log_softmax(-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
            return (logps * batch["completion_mask"][:, 1:]).sum(-1)

        pol, ref = completion_logps(policy), completion_logps(reference)
    n = len(data)
    ours = dpo_sigmoid(pol[:n], pol[n:], ref[:n], ref[n:], beta=0.5).losses.mean().item()
    assert abs(trl_loss - 0.6931) > 1e-3
    assert ours == pytest.approx(trl_loss, abs=1e-5)


@pytest.fixture(scope="module")
def tiny_checkpoint(small_world, tmp_path_factory):
    """A random thinker (text hidden 32) over the small world's words, saved like a real checkpoint."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.sft_tiny import VIDEO_KWARGS, vocabulary_texts

    path = tmp_path_factory.mktemp("tiny-acpo")
    tokenizer = build_tokenizer(vocabulary_texts(small_world))
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer, hidden=32)).save_pretrained(path)
    build_processor(tokenizer).save_pretrained(path)
    (path / "acpo_bench.json").write_text(json.dumps({"frames": 2, "videos_kwargs": VIDEO_KWARGS}))
    return path


def small_config(**kw) -> ACPOConfig:
    base = dict(steps=4, batch_size=4, replay_batch_size=4, learning_rate=1e-3, logging_steps=1,
                kind_weights={"visible_silent": 0.5, "audible": 0.5})
    return ACPOConfig(**{**base, **kw})


def weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path / "policy" / "model.safetensors")


def test_collator_builds_three_sequences_plus_replay(tiny_checkpoint, pairs_dir):
    from transformers import Qwen2_5OmniProcessor

    processor = Qwen2_5OmniProcessor.from_pretrained(tiny_checkpoint)
    pairs = load_pairs(pairs_dir)
    rows = [pairs[i] for i in range(3)]
    collator = PairCollator(processor, small_config(), [dict(r) for r in rows], seed=0)
    batch = collator(rows)
    packing = batch["packing"]
    assert int(packing["n_rows"]) == 3 * 3 + 4
    assert int(batch["n_pairs"]) == 3
    # y+|a and y-|a share clip, audio and prompt: one packed sequence holds both answers; y+|a' has its own
    sequence_of = dict(zip(packing["target_owner"].tolist(), packing["target_rows"].tolist(), strict=False))
    for i in range(3):
        assert sequence_of[i] == sequence_of[3 + i] != sequence_of[6 + i]
    # one sequence per distinct (prompt, clip, audio): a replay row may share one with a pair's y+|a
    contexts = {(r["prompt"], r["video_id"], r[audio]) for r in rows for audio in ("audio", "contrast_audio")}
    contexts |= {(prompt, video_id, audio) for prompt, _, _, video_id, audio in collator.replay_rows(rows)}
    assert batch["input_ids"].shape[0] == len(contexts) >= 3 + 3
    media = batch["media"]
    assert media["rows"].shape[0] == batch["input_ids"].shape[0]
    # ... and y+|a' plays the same video under other audio: two clips, one video through the vision tower
    clip_a, clip_swapped = media["rows"][sequence_of[0]], media["rows"][sequence_of[6]]
    assert clip_a != clip_swapped and media["video_of"][clip_a] == media["video_of"][clip_swapped]
    assert collator(rows)["input_ids"].equal(batch["input_ids"]), "replay rows are a function of the batch"


def test_open_replay_rows_answer_from_the_labels(tiny_checkpoint, pairs_dir):
    """replay_open_share asks open questions of congruent clips, answered from the clip's audible labels under its
    own audio; at 0 the replay stream holds only yes/no questions, at 1 only open ones; replay_visual_share splits
    the yes/no questions between what is seen and what is heard."""
    from transformers import Qwen2_5OmniProcessor

    from acpo_bench.tasks._probes import prompts
    from acpo_bench.training.pairs import listing

    processor = Qwen2_5OmniProcessor.from_pretrained(tiny_checkpoint)
    pairs = load_pairs(pairs_dir)
    rows = [pairs[i] for i in range(8)]
    clips = {r["video_id"]: r for r in rows}
    templates = prompts()
    open_prompts = {*templates["list_sounds"], *templates["any_sound"]}
    yes_no = PairCollator(processor, small_config(replay_batch_size=32), [dict(r) for r in rows], seed=0)
    assert not {prompt for prompt, *_ in yes_no.replay_rows(rows)} & open_prompts
    collator = PairCollator(processor, small_config(replay_batch_size=32, replay_open_share=1.0),
                            [dict(r) for r in rows], seed=0)
    replay = collator.replay_rows(rows)
    assert len(replay) == 32 and {prompt for prompt, *_ in replay} <= open_prompts
    asked = set()
    for prompt, answer, _, video_id, audio in replay:
        audible = clips[video_id]["audible"]
        if prompt in templates["list_sounds"]:
            asked.add("list_sounds")
            assert answer == listing(audible)
        else:
            asked.add("any_sound")
            assert answer == ("yes" if audible else "no")
        assert audio == OWN_AUDIO
    assert asked == {"list_sounds", "any_sound"}
    for share, question in ((1.0, "visible"), (0.0, "sound_of")):
        only = PairCollator(processor, small_config(replay_batch_size=32, replay_visual_share=share),
                            [dict(r) for r in rows], seed=0)
        asked_prompts = {prompt for prompt, *_ in only.replay_rows(rows)}
        assert all(any(prompt == t.format(x=c) for t in templates[question] for c in only.replay_classes)
                   for prompt in asked_prompts), question
    with pytest.raises(ValueError, match="replay_open_share"):
        small_config(replay_open_share=1.5)
    with pytest.raises(ValueError, match="replay_visual_share"):
        small_config(replay_visual_share=-0.1)


def test_silence_replay_rows_ask_the_same_videos_under_silence(tiny_checkpoint, pairs_dir):
    """replay_silence_share turns rows into questions under digital silence, answered "nothing" / "no", and leaves
    the other rows exactly as they were drawn without it."""
    from transformers import Qwen2_5OmniProcessor

    from acpo_bench.training.acpo import SILENCE
    from acpo_bench.training.pairs import listing

    processor = Qwen2_5OmniProcessor.from_pretrained(tiny_checkpoint)
    pairs = load_pairs(pairs_dir)
    rows = [pairs[i] for i in range(8)]
    def replay(share: float) -> list[tuple]:
        config = small_config(replay_batch_size=64, replay_open_share=0.2, replay_silence_share=share)
        return PairCollator(processor, config, [dict(r) for r in rows], seed=0).replay_rows(rows)

    plain, half, full = replay(0.0), replay(0.5), replay(1.0)
    assert SILENCE != OWN_AUDIO and not any(audio == SILENCE for *_, audio in plain)
    assert all(audio == SILENCE for *_, audio in full) and len(full) == len(plain)
    assert {answer for _, answer, *_ in full} == {listing(()), "no"}
    silenced = [i for i, row in enumerate(half) if row[-1] == SILENCE]
    assert 0 < len(silenced) < len(half)
    for i, (before, after) in enumerate(zip(plain, half, strict=True)):
        assert after[2:4] == before[2:4], "the same video"
        if i not in silenced:
            assert after == before


def test_swap_replay_rows_are_answered_from_the_played_track(tiny_checkpoint, pairs_dir):
    """replay_swap_share asks "is there a sound of x?" about a video with its partner clip's track played: the
    answer follows the played track's labels, never the video's, sources in view are asked about with both answers,
    and the other rows are drawn as without it."""
    from transformers import Qwen2_5OmniProcessor

    processor = Qwen2_5OmniProcessor.from_pretrained(tiny_checkpoint)
    pairs = load_pairs(pairs_dir)
    rows = [pairs[i] for i in range(len(pairs))]
    clips = {r["video_id"]: dict(r) for r in rows}

    def replay(share: float) -> list[tuple]:
        config = small_config(replay_batch_size=128, replay_open_share=0.2, replay_swap_share=share)
        return PairCollator(processor, config, list(clips.values()), seed=0).replay_rows(rows[:8])

    plain, half = replay(0.0), replay(0.5)
    swapped = [i for i, row in enumerate(half) if recipe_from_json(row[-1]).kind == "swap"]
    assert 0 < len(swapped) < len(half) and not any(recipe_from_json(r[-1]).kind == "swap" for r in plain)
    answers = set()
    for i, (before, after) in enumerate(zip(plain, half, strict=True)):
        assert after[2:4] == before[2:4], "the same video"
        if i not in swapped:
            assert after == before
            continue
        prompt, answer, _, video_id, audio = after
        played = clips[recipe_from_json(audio).source_id]
        assert played["video_id"] != video_id
        target = next(c for c in small_world_classes(rows) if prompt.rstrip("?").endswith(c))
        assert answer == ("yes" if target in played["audible"] else "no")
        answers.add((answer, target in clips[video_id]["visible"]))
    assert ("no", True) in answers, "some questions ask about a source in view that the played track lacks"
    assert ("yes", True) in answers, "and some about a source in view that the played track has"
    partners = PairCollator(processor, small_config(replay_swap_share=0.5), list(clips.values()), seed=0).replay_partner
    mixed = 0
    for video_id, partner in partners.items():
        visible, heard = set(clips[video_id]["visible"]), set(partner["audible"])
        assert partner["video_id"] != video_id
        mixed += bool(visible & heard and visible - heard)
    assert mixed > len(partners) / 2, "partners play some but not all of the sources in view where they can"


def test_visual_swap_replay_rows_keep_their_answer_under_the_partners_track(tiny_checkpoint, pairs_dir):
    """replay_visual_swap_share plays a partner's track under "can you see x?" rows and keeps their answers (what is
    in view does not change with the track); questions about sounds and the other draws stay as without it."""
    from transformers import Qwen2_5OmniProcessor

    from acpo_bench.tasks._probes import prompts

    processor = Qwen2_5OmniProcessor.from_pretrained(tiny_checkpoint)
    pairs = load_pairs(pairs_dir)
    rows = [pairs[i] for i in range(len(pairs))]
    clips = {r["video_id"]: dict(r) for r in rows}

    def collator(share: float) -> PairCollator:
        config = small_config(replay_batch_size=128, replay_visual_swap_share=share)
        return PairCollator(processor, config, list(clips.values()), seed=0)

    visual_prompts = set(prompts()["visible"])
    swapping = collator(0.5)
    plain, half = collator(0.0).replay_rows(rows[:8]), swapping.replay_rows(rows[:8])
    is_visual = [any(row[0] == t.format(x=c) for t in visual_prompts for c in small_world_classes(rows))
                 for row in plain]
    recast = [i for i, row in enumerate(half) if recipe_from_json(row[-1]).kind == "swap"]
    assert recast and all(is_visual[i] for i in recast), "only questions about what is in view are recast"
    assert len(recast) < sum(is_visual), "about half of them"
    for i, (before, after) in enumerate(zip(plain, half, strict=True)):
        assert after[:4] == before[:4], "the same question, answer and video"
        if i in recast:
            assert recipe_from_json(after[-1]).source_id == swapping.replay_partner[after[3]]["video_id"]
        else:
            assert after == before
    with pytest.raises(ValueError, match="replay_visual_swap_share"):
        small_config(replay_visual_swap_share=1.5)


def small_world_classes(rows) -> list[str]:
    return sorted({c for r in rows for c in (*r["visible"], *r["audible"])}, key=len, reverse=True)


def test_training_moves_weights_and_resume_is_exact(tiny_checkpoint, pairs_dir, tmp_path):
    straight = train(tiny_checkpoint, pairs_dir, tmp_path / "straight", small_config(), show_progress=False)
    log = json.loads((straight / "acpo.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    assert {"loss_out", "loss_in", "margin_out", "margin_in", "loss_sft_replay"} <= set(log[0])
    from safetensors.torch import load_file
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    base = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_checkpoint).state_dict()
    trained = weights(straight)
    loaded = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(straight / "policy").state_dict()
    moved = {k for k in loaded if not torch.equal(base[k], loaded[k])}
    assert any(k.startswith("model.language_model.") for k in moved), "the language model trains"
    assert not any(k.startswith(("model.visual.", "model.audio_tower.")) for k in moved), "the towers stay frozen"

    halfway = tmp_path / "resumed"
    train(tiny_checkpoint, pairs_dir, halfway, small_config(steps=2, save_steps=2), show_progress=False)
    train(tiny_checkpoint, pairs_dir, halfway, small_config(save_steps=2), resume=True, show_progress=False)
    resumed = load_file(halfway / "policy" / "model.safetensors")
    for key, tensor in trained.items():
        assert torch.allclose(tensor, resumed[key], atol=1e-6), key


@pytest.mark.slow
def test_two_process_ddp_trains_and_ranks_agree(tiny_checkpoint, pairs_dir, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: 8\nbatch_size: 4\nreplay_batch_size: 4\nlearning_rate: 0.001\nlogging_steps: 1\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "acpo_bench", "train", "--model", "qwen-omni", "--model-args", f"path={tiny_checkpoint}",
           "--pairs", str(pairs_dir), "--recipe", str(recipe), "--output-dir", str(tmp_path / "ddp"), "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    digests = sorted((tmp_path / "ddp" / "digests").glob("rank*.sha256"))
    assert [d.name for d in digests] == ["rank0.sha256", "rank1.sha256"]
    assert digests[0].read_text() == digests[1].read_text(), "both ranks hold identical weights"
    log = json.loads((tmp_path / "ddp" / "acpo.json").read_text())["log_history"]
    losses = [e["loss"] for e in log if "loss" in e]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, f"the loss falls under DDP: {losses}"



def test_contrast_tracks_only_where_silence_makes_the_chosen_answer_wrong():
    own, swap = recipe_json(AudioRecipe("own")), recipe_json(AudioRecipe("swap", source="x.mp4", source_id="x"))
    every = ("swap", "silence", "noise")
    assert contrast_kinds("audible", ["dog"], own) == every  # "yes, a dog" is wrong under silence
    assert contrast_kinds("open_masquerade", ["dog"], own) == every  # so is the listing "dog"
    assert contrast_kinds("open_dropped", ["dog", "bell"], own) == every
    assert contrast_kinds("visible_silent", ["bell"], own) == ("swap",)  # "no" stays right under silence
    assert contrast_kinds("absent", ["bell"], own) == ("swap",)
    assert contrast_kinds("open_masquerade", [], own) == ("swap",)  # "nothing" stays right
    assert contrast_kinds("on_policy", ["dog"], swap) == ("swap",)  # asked under another track: a' is its own


def test_contrast_draws_follow_the_mix_and_leave_the_pair_draws_alone():
    choosable = [True, False] * 2000
    draws = list(range(len(choosable)))
    mixed = draw_contrasts(choosable, draws, {"swap": 0.5, "silence": 0.3, "noise": 0.2}, seed=1)
    assert all(c == "swap" for c, ok in zip(mixed, choosable, strict=True) if not ok)
    drawn = Counter(c for c, ok in zip(mixed, choosable, strict=True) if ok)
    assert abs(drawn["swap"] / 2000 - 0.5) < 0.04 and abs(drawn["silence"] / 2000 - 0.3) < 0.04
    assert abs(drawn["noise"] / 2000 - 0.2) < 0.04
    assert draw_contrasts(choosable, draws, {"swap": 0.5, "silence": 0.3, "noise": 0.2}, seed=1) == mixed
    assert draw_contrasts(choosable, draws, {"swap": 0.5, "silence": 0.3, "noise": 0.2}, seed=2) != mixed
    assert set(draw_contrasts(choosable, draws, {"swap": 1.0}, seed=1)) == {"swap"}
    assert set(draw_contrasts(choosable, draws, {"silence": 1.0, "swap": 0.0}, seed=1)) == {"silence", "swap"}


def test_sampler_plays_the_drawn_contrast_track(pairs_dir):
    pairs = load_pairs(pairs_dir)
    swaps = PairSampler(pairs, small_config(steps=20))
    silent = PairSampler(pairs, small_config(steps=20, contrast_mix={"silence": 1.0}))
    assert silent.indices == swaps.indices, "the mix changes a' only, never which pairs are drawn"
    seen = Counter()
    for plain, row in zip(swaps, silent, strict=True):
        assert plain["contrast"] == "swap"
        choosable = len(contrast_kinds(row["kind"], row["audible"], row["audio"])) > 1
        seen[(row["kind"], row["contrast"])] += 1
        if choosable:
            assert row["contrast"] == "silence" and recipe_from_json(row["contrast_audio"]) == SILENCE
        else:
            assert row["contrast"] == "swap" and row["contrast_audio"] == plain["contrast_audio"]
    assert seen[("audible", "silence")] and seen[("visible_silent", "swap")]
    noisy = next(r for r in PairSampler(pairs, small_config(steps=20, contrast_mix={"noise": 1.0}))
                 if r["kind"] == "audible")
    assert recipe_from_json(noisy["contrast_audio"]) == NOISE_FLOOR


@pytest.mark.parametrize("mix", [{"silence": 0.0}, {"echo": 1.0}, {"swap": -1.0, "noise": 1.0}])
def test_bad_contrast_mix_is_refused(mix):
    with pytest.raises(ValueError, match="contrast_mix"):
        small_config(contrast_mix=mix)


def test_training_with_silence_and_noise_contrasts_logs_each_track(tiny_checkpoint, pairs_dir, tmp_path):
    config = small_config(steps=3, batch_size=8, contrast_mix={"swap": 0.4, "silence": 0.3, "noise": 0.3})
    log = json.loads((train(tiny_checkpoint, pairs_dir, tmp_path / "mixed", config, show_progress=False)
                      / "acpo.json").read_text())["log_history"]
    logged = {k for entry in log for k in entry}
    assert {"loss_in_swap", "loss_in_silence", "loss_in_noise", "acc_in_silence", "margin_in_noise"} <= logged
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in log if "loss" in e)
