"""The performance paths give the answers of the plain ones: decoding/featurizing in worker threads, the on-disk
feature store, rope positions from a cache, each clip's prefix run once, each video encoded once, packed training
rows and tower outputs shared by policy and reference. (No timings here: benchmarks/ measures them.)"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

from acpo_bench.adapter import Request, parse_model_args
from acpo_bench.media_store import MediaStore
from acpo_bench.models import BUILTIN as MODELS
from acpo_bench.models.qwen_omni.adapter import _thinker
from acpo_bench.models.qwen_omni.features import (
    FeatureStore,
    Featurizer,
    collate,
    distinct_media,
    encode_media,
    processor_settings,
)
from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex, stack_positions
from acpo_bench.registry import resolve
from acpo_bench.runner import EvalConfig, answer_jobs, build_probes, plan_jobs
from acpo_bench.schemas import AudioRecipe
from acpo_bench.tasks import BUILTIN as TASKS


def load(tiny_model, **args):
    name, model_args = tiny_model
    return resolve(MODELS.get(name, name))({**parse_model_args(model_args), **args}, None)


@pytest.fixture(scope="module")
def adapter(tiny_model):
    return load(tiny_model, feature_cache="false")


def jobs_for(adapter, world, clips: int = 3):
    tasks = {name: resolve(target) for name, target in TASKS.items()}
    probes = [p for ps, _ in build_probes(tasks, world.head(clips), 0).values() for p in ps]
    return plan_jobs(probes, "auto", adapter)


def answers(adapter, jobs, **config) -> dict:
    config = EvalConfig(media=adapter.media_spec, max_new_tokens=4, **config)
    found, _ = answer_jobs(jobs, adapter, None, config, ())
    return {k: (v.text, v.choice_logprobs) if not isinstance(v, str) else v for k, v in found.items()}


def test_worker_threads_and_the_feature_store_keep_every_answer(tiny_model, adapter, small_world, tmp_path,
                                                                monkeypatch):
    """Inline decoding (the old path), 3 worker threads, and a feature store cold then warm: the same answers,
    log-probs included, bit for bit."""
    jobs = jobs_for(adapter, small_world)
    assert {j.mode for j in jobs} == {"loglik", "generate"}
    inline = answers(adapter, jobs, workers=0, batch_size=7)
    assert answers(adapter, jobs, workers=3, batch_size=7) == inline
    monkeypatch.setenv("ACPO_BENCH_CACHE", str(tmp_path / "cache"))
    stored = load(tiny_model)
    assert answers(stored, jobs, workers=2, batch_size=7) == inline
    computed = stored.featurizer.computed
    assert computed == len({j.probe.media_key for j in jobs}) and stored.featurizer.store.misses == computed
    warm = load(tiny_model)  # another run: nothing featurized, nothing decoded
    assert answers(warm, jobs, workers=2, batch_size=7) == inline
    assert warm.featurizer.computed == 0 and warm.featurizer.store.hits == computed
    files = list((tmp_path / "cache" / "features").rglob("*"))
    assert not [f for f in files if f.name.endswith(".tmp")], "no temporary file is left behind"
    videos = [f for f in files if f.parent.name == "video"]
    assert len(videos) == len({j.probe.video_id for j in jobs}), "one video file per clip, shared by its recipes"


def test_a_torn_store_file_is_recomputed(tiny_model, small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("ACPO_BENCH_CACHE", str(tmp_path))
    adapter = load(tiny_model)
    jobs = jobs_for(adapter, small_world, clips=1)[:5]
    first = answers(adapter, jobs, workers=0)
    for path in (tmp_path / "features").rglob("*.safetensors"):
        path.write_bytes(path.read_bytes()[:40])
    again = load(tiny_model)
    assert answers(again, jobs, workers=0) == first
    assert again.featurizer.computed > 0
    third = load(tiny_model)  # the damaged files were replaced
    assert answers(third, jobs, workers=0) == first and third.featurizer.computed == 0


def test_store_directory_depends_on_processor_settings(adapter, tmp_path):
    settings = processor_settings(adapter.processor, {"size": {"shortest_edge": 784, "longest_edge": 12544}})
    other = processor_settings(adapter.processor, {"size": {"shortest_edge": 784, "longest_edge": 3136}})
    assert FeatureStore(tmp_path, settings).root != FeatureStore(tmp_path, other).root
    assert FeatureStore(tmp_path, settings).root == FeatureStore(tmp_path, dict(settings)).root
    assert settings["transformers"]


def test_a_missing_file_reads_the_same_with_and_without_workers(adapter, small_world, tmp_path):
    jobs = jobs_for(adapter, small_world, clips=1)[:4]
    broken = [replace(j, probe=replace(j.probe, video=str(tmp_path / "gone.mp4"))) for j in jobs]
    inline, threaded = answers(adapter, broken, workers=0), answers(adapter, broken, workers=2)
    assert inline == threaded and all(isinstance(v, str) and "gone.mp4" in v for v in inline.values())


def requests(adapter, world, kind: str, n: int):
    tasks = {name: resolve(target) for name, target in TASKS.items()}
    probes = sorted((p for ps, _ in build_probes(tasks, world, 0).values() for p in ps if p.kind == kind),
                    key=lambda p: (p.media_key, p.probe_id))[:n]
    store = MediaStore(adapter.media_spec)
    return [Request(p, store.load(p.video, p.video_id, p.audio)) for p in probes]


def test_rope_positions_equal_the_models_own(adapter, small_world):
    reqs = requests(adapter, small_world, "yes_no", 12)
    thinker = _thinker(adapter.model)
    rope = RopeIndex(thinker.model)
    sequences, keys, media = adapter._rows(reqs)
    ours = []
    for request, key, inputs in zip(reqs, keys, media, strict=True):
        parts = adapter._parts(request.probe.prompt)
        ours.append(rope.row(key, parts.before, inputs, parts.after))
    batch = collate(sequences, media, adapter.tokenizer.pad_token_id, "left")
    theirs, _ = thinker.model.get_rope_index(
        batch["input_ids"], None, batch["video_grid_thw"], batch["attention_mask"], True,
        batch["feature_attention_mask"].sum(-1), batch["video_second_per_grid"])
    assert torch.equal(stack_positions(ours, "left"), theirs)


def test_generation_from_encoded_media_equals_the_models_generate(adapter, small_world):
    reqs = requests(adapter, small_world, "open", 6)
    batch = adapter._batch(reqs)
    with torch.inference_mode():
        output = adapter.model.generate(**batch, use_audio_in_video=True, max_new_tokens=6, do_sample=False,
                                        pad_token_id=adapter.tokenizer.pad_token_id,
                                        eos_token_id=adapter.tokenizer.eos_token_id)
    plain = [t.strip() for t in adapter.tokenizer.batch_decode(output[:, batch["input_ids"].shape[1]:],
                                                               skip_special_tokens=True)]
    assert adapter.generate(reqs, 6) == plain


def test_a_clip_split_across_batches_scores_as_in_one(adapter, small_world):
    """The prefix cache serves the second batch of a clip; the scores equal one batch's."""
    reqs = requests(adapter, small_world, "yes_no", 10)
    whole = adapter.score_choices(reqs, ("yes", "no"))
    adapter._prefixes.clear()
    split = adapter.score_choices(reqs[:3], ("yes", "no")) + adapter.score_choices(reqs[3:], ("yes", "no"))
    for a, b in zip(whole, split, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_one_video_under_several_audio_tracks_is_encoded_once(adapter, small_world):
    clip = small_world.clips[0]
    store = MediaStore(adapter.media_spec)
    featurizer = Featurizer(adapter.processor, adapter.featurizer.videos_kwargs)
    recipes = [AudioRecipe("own"), AudioRecipe("silence"), AudioRecipe("noise", noise_dbfs=-40.0)]
    keys = [(clip.content_id, r.key()) for r in recipes]
    inputs = [featurizer(key, store.load(clip.video, clip.content_id, r)) for key, r in zip(keys, recipes,
                                                                                           strict=True)]
    assert inputs[0].pixel_values_videos is inputs[1].pixel_values_videos is inputs[2].pixel_values_videos
    distinct = distinct_media(keys, inputs, adapter.tokenizer.audio_token_id)
    assert distinct.video_of.tolist() == [0, 0, 0] and len(distinct.pixel_values_videos) == len(
        inputs[0].pixel_values_videos)
    thinker = _thinker(adapter.model)
    with torch.inference_mode():
        video, audio = encode_media(thinker, distinct)
        alone = [encode_media(thinker, distinct_media([k], [i], adapter.tokenizer.audio_token_id))
                 for k, i in zip(keys, inputs, strict=True)]
    for v, a, (v1, a1) in zip(video, audio, alone, strict=True):
        assert torch.allclose(v, v1[0], atol=1e-6) and torch.allclose(a, a1[0], atol=1e-6)


@pytest.fixture(scope="module")
def pair_batch(small_world):
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.acpo import ACPOConfig, PairCollator
    from acpo_bench.training.pairs import label_pairs, recipe_json
    from acpo_bench.training.sft_tiny import VIDEO_KWARGS, vocabulary_texts

    pairs = []
    for pair in label_pairs(small_world, seed=0):
        row = dict(pair.__dict__)
        for name in ("audio", "contrast_audio"):
            row[name] = row[name] if isinstance(row[name], str) else recipe_json(row[name])
        pairs.append(row)
    pairs = [p for p in pairs if p["kind"] in ("visible_silent", "audible")][:3] + [
        p for p in pairs if p["kind"].startswith("open")][:2]
    tokenizer = build_tokenizer(vocabulary_texts(small_world))
    processor = build_processor(tokenizer)
    torch.manual_seed(0)
    thinker = Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer, hidden=32)).eval()
    replay = [{"video": c.video, "video_id": c.content_id, "visible": list(c.visible), "audible": list(c.audible)}
              for c in small_world.clips[:4]]
    collator = PairCollator(processor, ACPOConfig(replay_batch_size=3), replay, 0, VIDEO_KWARGS)
    assert isinstance(processor, Qwen2_5OmniProcessor)
    return thinker, collator, pairs


def test_packed_rows_score_as_separate_rows(pair_batch):
    """[prompt | y+ | y-] in one sequence with a tree mask gives each row's log-prob of the plain forward."""
    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.training.scorer import AnswerScorer

    thinker, collator, pairs = pair_batch
    tokenizer = collator.tokenizer
    batch = collator(pairs)
    assert batch["input_ids"].shape[0] < int(batch["packing"]["n_rows"])
    scorer = AnswerScorer(thinker, tokenizer.video_token_id, tokenizer.audio_token_id)
    media = DistinctMedia(**batch["media"])
    with torch.no_grad():
        packed, counts = scorer(batch["input_ids"], batch["attention_mask"], None, media, batch["packing"])
        shared, _ = scorer(batch["input_ids"], batch["attention_mask"], None, media, batch["packing"],
                           scorer.encode(media))
    rows = [(p["prompt"], p[answer], p["video"], p["video_id"], p[audio])
            for answer, audio in (("chosen", "audio"), ("rejected", "audio"), ("chosen", "contrast_audio"))
            for p in pairs] + collator.replay_rows(pairs)
    plain, lengths = [], []
    for prompt, answer, video, video_id, audio in rows:
        before, after, answer_ids = collator.encode(prompt, answer)
        _, inputs = collator.media(video, video_id, audio)
        ids = (*before, *inputs.placeholder_ids, *after, *answer_ids)
        with torch.no_grad():
            logits = thinker(**collate([ids], [inputs], tokenizer.pad_token_id, "right"),
                             use_audio_in_video=True).logits[0, :-1].float().log_softmax(-1)
        logps = logits.gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
        plain.append(float(logps[len(ids) - len(answer_ids) - 1:].sum()))
        lengths.append(len(answer_ids))
    assert counts.tolist() == lengths
    assert torch.allclose(packed, torch.tensor(plain), atol=1e-4)
    assert torch.allclose(shared, packed, atol=1e-5)


def test_packed_rope_positions_from_the_collator_equal_the_models_own(pair_batch):
    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex
    from acpo_bench.training.acpo import PairCollator
    from acpo_bench.training.scorer import AnswerScorer

    thinker, collator, pairs = pair_batch
    plain = collator(pairs)
    cached = PairCollator(collator.processor, collator.config, collator.replay_clips, 0,
                          collator.featurizer.videos_kwargs, RopeIndex(thinker.model))(pairs)
    assert torch.equal(cached["input_ids"], plain["input_ids"]) and "plain_positions" not in plain["packing"]
    media = DistinctMedia(**plain["media"])
    per_row = media.per_row()
    own, _ = thinker.model.get_rope_index(plain["input_ids"], None, per_row["video_grid_thw"], plain["attention_mask"],
                                          True, per_row["feature_attention_mask"].sum(-1),
                                          per_row["video_second_per_grid"])
    real = plain["attention_mask"].bool()
    assert torch.equal(cached["packing"]["plain_positions"][:, real], own[:, real])
    scorer = AnswerScorer(thinker, collator.tokenizer.video_token_id, collator.tokenizer.audio_token_id)
    with torch.no_grad():
        ours, _ = scorer(cached["input_ids"], cached["attention_mask"], None, media, cached["packing"])
        theirs, _ = scorer(plain["input_ids"], plain["attention_mask"], None, media, plain["packing"])
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_towers_count_as_frozen_under_lora_only(pair_batch):
    import copy

    from peft import LoraConfig, get_peft_model

    from acpo_bench.training.scorer import AnswerScorer

    thinker, collator, _ = pair_batch
    tokens = (collator.tokenizer.video_token_id, collator.tokenizer.audio_token_id)
    assert not AnswerScorer(copy.deepcopy(thinker), *tokens).towers_frozen()
    lora = get_peft_model(copy.deepcopy(thinker), LoraConfig(r=2, target_modules=r".*language_model.*\.q_proj"))
    assert AnswerScorer(lora, *tokens).towers_frozen()
    tower_lora = get_peft_model(copy.deepcopy(thinker), LoraConfig(r=2, target_modules=r".*visual.*\.qkv|.*\.q$"))
    assert not AnswerScorer(tower_lora, *tokens).towers_frozen()


def test_core_modules_do_not_import_torch_at_module_level():
    import subprocess
    import sys

    code = ("import sys, acpo_bench.runner, acpo_bench.adapter, acpo_bench.media_store; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ},
                         check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("reference", ["precomputed", "adapter_disabled"])
def test_frozen_towers_encode_once_per_step_whatever_the_reference(pair_batch, reference):
    """Under LoRA the towers are frozen: the step encodes the batch's media once, without gradient, and the policy
    (and a reference with the same towers) use those outputs, also when reference log-probs were precomputed."""
    import copy
    from types import SimpleNamespace

    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.training.acpo import ACPOConfig, ACPOTrainer, PairCollator, build_policy
    from acpo_bench.training.scorer import AnswerScorer

    thinker, collator, pairs = pair_batch
    config = ACPOConfig(lora=True, lora_r=2, reference=reference, sft_replay=0.0)
    scorer = AnswerScorer(build_policy(copy.deepcopy(thinker), config), collator.tokenizer.video_token_id,
                          collator.tokenizer.audio_token_id)
    pairs = [{**p, "ref_chosen": -1.0, "ref_rejected": -2.0, "ref_chosen_swapped": -3.0} for p in pairs]
    batch = PairCollator(collator.processor, config, [], 0, collator.featurizer.videos_kwargs)(pairs)
    encodes = []
    real_encode = scorer.encode
    scorer.encode = lambda media: encodes.append(1) or real_encode(media)
    step = SimpleNamespace(acpo=config, ref_towers_equal=True, accelerator=SimpleNamespace(unwrap_model=lambda m: m))
    step.reference_shares_towers = lambda: ACPOTrainer.reference_shares_towers(step)
    step.reference_logps = lambda *args: ACPOTrainer.reference_logps(step, *args)
    n, logps, _, ref = ACPOTrainer.policy_and_reference(step, scorer, batch)
    assert len(encodes) == 1 and logps.requires_grad
    assert (ref is None) == (reference == "precomputed")
    with torch.no_grad():
        own, _ = scorer(batch["input_ids"], batch["attention_mask"], None, DistinctMedia(**batch["media"]),
                        batch["packing"])
    assert torch.allclose(logps.detach(), own, atol=1e-5)
