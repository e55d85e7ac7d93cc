"""The qwen-omni adapter on a tiny thinker built offline: the code path a 7B checkpoint takes."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from acpo_bench.adapter import ModelLoadError, Request
from acpo_bench.cli import main
from acpo_bench.media_store import MediaStore
from acpo_bench.models.qwen_omni.adapter import _thinker, qwen_omni
from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
from acpo_bench.registry import resolve
from acpo_bench.runner import build_probes
from acpo_bench.schemas import AudioRecipe
from acpo_bench.tasks import BUILTIN
from acpo_bench.training.sft_tiny import VIDEO_KWARGS


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A randomly initialised tiny thinker saved like a real checkpoint (config, weights, processor, template)."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    path = tmp_path_factory.mktemp("tiny-ckpt")
    tokenizer = build_tokenizer(["Answer yes or no. Is there a sound of dog? What sounds can you hear?"])
    processor = build_processor(tokenizer)
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer)).save_pretrained(path)
    processor.save_pretrained(path)
    (path / "acpo_bench.json").write_text(json.dumps({"frames": 2, "videos_kwargs": VIDEO_KWARGS}))
    return path


@pytest.fixture(scope="module")
def adapter(checkpoint):
    return qwen_omni({"path": str(checkpoint)})


def requests_for(adapter, world, predicate, n):
    tasks = {name: resolve(target) for name, target in BUILTIN.items()}
    probes = [p for ps, _ in build_probes(tasks, world, 0).values() for p in ps if predicate(p)]
    probes = sorted(probes, key=lambda p: (p.media_key, p.probe_id))[:n]
    store = MediaStore(adapter.media_spec)
    return [Request(p, store.load(p.video, p.video_id, p.audio)) for p in probes]


def test_checkpoint_by_path_runs_the_eval_command(checkpoint, small_world_dir, tmp_path):
    code = main(["eval", "--model", "qwen-omni", "--model-args", f"path={checkpoint},max_new_tokens=4",
                 "--tasks", "core", "--data", str(small_world_dir), "--limit", "3", "--max-new-tokens", "4",
                 "--output-dir", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["model"]["parameters"] > 100_000
    assert all(block["errors"] == 0 for block in results["tasks"].values())
    samples = (tmp_path / "r" / "samples_sound_presence.jsonl").read_text().splitlines()
    assert all(json.loads(line)["scored_by"] == "loglik" for line in samples)


def test_the_audio_track_reaches_the_model(adapter, small_world):
    """The same frames and question under two different audio tracks must give different log-probs."""
    request = requests_for(adapter, small_world, lambda p: p.kind == "yes_no" and p.condition == "own", 1)[0]
    store = MediaStore(adapter.media_spec)
    other = next(c for c in small_world.clips if c.clip_id != request.probe.clip_id)
    swapped_probe = replace(request.probe, audio=AudioRecipe("swap", source=other.video, source_id=other.content_id))
    swapped = Request(swapped_probe, store.load(swapped_probe.video, swapped_probe.video_id, swapped_probe.audio))
    silent_probe = replace(request.probe, audio=AudioRecipe("silence"))
    silent = Request(silent_probe, store.load(silent_probe.video, silent_probe.video_id, silent_probe.audio))
    scores = adapter.score_choices([request, swapped, silent], ("yes", "no"))
    assert scores[0]["yes"] != pytest.approx(scores[1]["yes"], abs=1e-6)
    assert scores[0]["yes"] != pytest.approx(scores[2]["yes"], abs=1e-6)


def test_shared_media_encoding_equals_the_plain_forward(adapter, small_world):
    requests = requests_for(adapter, small_world, lambda p: p.kind == "yes_no", 24)
    assert len({r.probe.media_key for r in requests}) >= 2
    shared = adapter.score_choices(requests, ("yes", "no"))
    batch = adapter._batch(requests)
    thinker = _thinker(adapter.model)
    with torch.inference_mode():
        hidden = thinker.model(**batch, use_audio_in_video=True).last_hidden_state[:, -1]
        logprobs = thinker.lm_head(hidden).float().log_softmax(-1)
    for row, scores in zip(logprobs, shared, strict=True):
        for choice in ("yes", "no"):
            expected = float(torch.logsumexp(row[adapter.choice_ids(choice)], dim=0))
            assert scores[choice] == pytest.approx(expected, abs=1e-5)


def test_answers_do_not_depend_on_batch_size(adapter, small_world):
    requests = requests_for(adapter, small_world, lambda p: p.kind == "yes_no", 8)
    together = adapter.score_choices(requests, ("yes", "no"))
    alone = [adapter.score_choices([r], ("yes", "no"))[0] for r in requests]
    for a, b in zip(together, alone, strict=True):
        assert a["yes"] == pytest.approx(b["yes"], abs=1e-4) and a["no"] == pytest.approx(b["no"], abs=1e-4)
    open_requests = requests_for(adapter, small_world, lambda p: p.kind == "open", 4)
    assert adapter.generate(open_requests, 6) == [adapter.generate([r], 6)[0] for r in open_requests]


def test_lora_adapter_changes_the_fingerprint(checkpoint, adapter, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(checkpoint)
    lora = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(tmp_path / "lora")
    tuned = qwen_omni({"path": str(checkpoint)}, str(tmp_path / "lora"))
    assert tuned.fingerprint() != adapter.fingerprint()
    with pytest.raises(ModelLoadError, match=r"adapter_config\.json"):
        qwen_omni({"path": str(checkpoint)}, str(tmp_path))


def test_offline_without_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache") as err:
        qwen_omni({})
    # huggingface_hub's CLI is `hf` now (huggingface-cli is gone); the weights then load from a local directory
    assert "`hf download Qwen/Qwen2.5-Omni-7B --local-dir DIR`" in str(err.value)
    assert "--model-args path=DIR" in str(err.value) and "huggingface-cli" not in str(err.value)
    with pytest.raises(ModelLoadError, match="no such checkpoint directory"):
        qwen_omni({"path": str(tmp_path / "missing")})
    with pytest.raises(ValueError, match="unknown key"):
        qwen_omni({"path": str(tmp_path), "colour": "red"})


def test_choice_tokens_cover_the_spellings(adapter):
    ids = adapter.choice_ids("yes")
    spelled = {adapter.tokenizer.decode([i]).strip() for i in ids}
    assert spelled == {"yes"} or spelled <= {"yes", "Yes"}
    assert np.intersect1d(ids, adapter.choice_ids("no")).size == 0


def test_qwen3_omni_through_the_same_adapter(qwen3_checkpoint, small_world, small_world_dir, tmp_path):
    from acpo_bench.models.qwen_omni.adapter import qwen3_omni

    adapter = qwen3_omni({"path": str(qwen3_checkpoint)})
    assert not adapter.family.encode_once  # deepstack features: scored through the model's own forward
    request = requests_for(adapter, small_world, lambda p: p.kind == "yes_no" and p.condition == "own", 1)[0]
    store = MediaStore(adapter.media_spec)
    silent_probe = replace(request.probe, audio=AudioRecipe("silence"))
    silent = Request(silent_probe, store.load(silent_probe.video, silent_probe.video_id, silent_probe.audio))
    own, quiet = adapter.score_choices([request, silent], ("yes", "no"))
    assert own["yes"] != pytest.approx(quiet["yes"], abs=1e-6), "the audio track reaches Qwen3-Omni too"
    code = main(["eval", "--model", "qwen3-omni", "--model-args", f"path={qwen3_checkpoint}", "--tasks", "core",
                 "--data", str(small_world_dir), "--limit", "2", "--max-new-tokens", "4",
                 "--output-dir", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["model"]["name"] == "qwen3-omni"
    assert all(block["errors"] == 0 for block in results["tasks"].values())


def test_loading_draws_no_transformers_progress_bar(checkpoint, capfd):
    """transformers' "Loading weights" tqdm bar left its updates in logs and CI output; warnings still print."""
    capfd.readouterr()
    qwen_omni({"path": str(checkpoint)})
    assert "Loading weights" not in capfd.readouterr().err


def test_the_quiet_block_silences_only_transformers_bars_and_only_inside(checkpoint, tmp_path, capfd):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration
    from transformers.utils import logging

    from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(checkpoint)
    verbosity = logging.get_verbosity()
    capfd.readouterr()
    with no_transformers_progress_bars():
        model.save_pretrained(tmp_path / "inside")
        assert logging.get_verbosity() == verbosity, "transformers' warnings must stay on"
    assert "Writing model shards" not in capfd.readouterr().err
    model.save_pretrained(tmp_path / "outside")  # the bar is back after the block: the test can see one
    assert "Writing model shards" in capfd.readouterr().err
