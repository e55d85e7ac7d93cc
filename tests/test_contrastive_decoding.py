"""Audio-visual contrastive decoding (--model-args decoding=contrastive): the contrast on hand-worked numbers, and
the Qwen adapter contrasting each probe with the same probe under silence, in scoring and in generation."""

import json
import math
from dataclasses import replace

import pytest
import torch

from acpo_bench.adapter import Request
from acpo_bench.cli import main
from acpo_bench.media_store import MediaStore
from acpo_bench.models.qwen_omni.adapter import qwen_omni_tiny
from acpo_bench.models.qwen_omni.contrastive import ContrastiveSettings, contrastive_logprobs
from acpo_bench.registry import resolve
from acpo_bench.runner import build_probes
from acpo_bench.schemas import AudioRecipe
from acpo_bench.tasks import BUILTIN


def test_contrast_on_hand_worked_numbers():
    """p(·|v,a,q) = (0.6, 0.3, 0.1), p(·|v,silence,q) = (0.7, 0.1, 0.2), α = 1, β = 0.2. The cut-off 0.2 · 0.6 =
    0.12 drops token 2; token 0 scores 0.6² / 0.7 = 0.5143, token 1 0.3² / 0.1 = 0.9; normalised 0.3636 and
    0.6364: the token the silenced input also favours loses, the one the audio supports wins."""
    full, silent = torch.tensor([[0.6, 0.3, 0.1]]).log(), torch.tensor([[0.7, 0.1, 0.2]]).log()
    out = contrastive_logprobs(full, silent, ContrastiveSettings(alpha=1.0, beta=0.2)).exp()[0]
    assert out.tolist() == pytest.approx([0.5143 / 1.4143, 0.9 / 1.4143, 0.0], abs=1e-4)
    uncut = contrastive_logprobs(full, silent, ContrastiveSettings(alpha=1.0, beta=0.2), plausibility=False).exp()[0]
    assert uncut.tolist() == pytest.approx([x / (0.5143 + 0.9 + 0.05) for x in (0.5143, 0.9, 0.05)], abs=1e-4)
    plain = contrastive_logprobs(full, silent, ContrastiveSettings(alpha=0.0, beta=0.05)).exp()[0]
    assert plain.tolist() == pytest.approx([0.6, 0.3, 0.1], abs=1e-6)  # α = 0: the model's own distribution


@pytest.mark.parametrize("args", [{"decoding": "beam"}, {"decoding": "contrastive", "alpha": "-1"},
                                  {"decoding": "contrastive", "beta": "0"}, {"decoding": "contrastive", "beta": "x"},
                                  {"alpha": "1"}])
def test_bad_decoding_args_are_refused(args):
    with pytest.raises(ValueError, match="--model-args"):
        ContrastiveSettings.from_model_args(args)


@pytest.fixture(scope="module")
def adapters():
    return {"greedy": qwen_omni_tiny({}), "contrastive": qwen_omni_tiny({"decoding": "contrastive"}),
            "alpha0": qwen_omni_tiny({"decoding": "contrastive", "alpha": "0", "beta": "1e-30"})}


def _requests(adapter, world, kind: str, n: int) -> list[Request]:
    tasks = {name: resolve(target) for name, target in BUILTIN.items()}
    probes = [p for ps, _ in build_probes(tasks, world, 0).values() for p in ps
              if p.kind == kind and p.condition == "swapped"]
    store = MediaStore(adapter.media_spec)
    return [Request(p, store.load(p.video, p.video_id, p.audio)) for p in sorted(probes, key=lambda p: p.probe_id)[:n]]


def _silenced(adapter, requests: list[Request]) -> list[Request]:
    store = MediaStore(adapter.media_spec)
    out = []
    for request in requests:
        probe = replace(request.probe, audio=AudioRecipe("silence"))
        out.append(Request(probe, store.load(probe.video, probe.video_id, probe.audio)))
    return out


def test_fingerprint_names_the_decoding(adapters):
    prints = {name: a.fingerprint() for name, a in adapters.items()}
    assert len(set(prints.values())) == 3


def test_yes_no_scores_contrast_the_probe_with_its_silenced_self(adapters, small_world):
    greedy, contrastive = adapters["greedy"], adapters["contrastive"]
    requests = _requests(greedy, small_world, "yes_no", 12)
    full = greedy._answer_logprobs(requests)
    silent = greedy._answer_logprobs(_silenced(greedy, requests))
    expected = contrastive_logprobs(full, silent, ContrastiveSettings())
    before = dict(contrastive.forwards)
    scores = contrastive.score_choices(requests, ("yes", "no"))
    assert contrastive.forwards["full"] - before["full"] == contrastive.forwards["contrast"] - before["contrast"] == 12
    for row, scored in zip(expected, scores, strict=True):
        for choice in ("yes", "no"):
            want = float(torch.logsumexp(row[contrastive.choice_ids(choice)], 0))
            if math.isinf(want):  # every choice below the cut-off: contrasted without it
                continue
            assert scored[choice] == pytest.approx(want, abs=1e-4)
    plain = greedy.score_choices(requests, ("yes", "no"))
    same = adapters["alpha0"].score_choices(requests, ("yes", "no"))
    for a, b in zip(plain, same, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_generation_takes_the_contrasted_token_and_keeps_rows_apart(adapters, small_world):
    greedy, contrastive = adapters["greedy"], adapters["contrastive"]
    requests = _requests(greedy, small_world, "open", 4)
    texts = contrastive.generate(requests, 6)
    assert texts == [contrastive.generate([r], 6)[0] for r in requests]  # batching never mixes rows
    assert adapters["alpha0"].generate(requests, 6) == greedy.generate(requests, 6)
    full = greedy._answer_logprobs(requests)
    silent = greedy._answer_logprobs(_silenced(greedy, requests))
    first = contrastive_logprobs(full, silent, ContrastiveSettings()).argmax(-1)
    tokenizer = contrastive.tokenizer
    for text, token in zip(texts, first.tolist(), strict=True):
        expected = tokenizer.decode([token], skip_special_tokens=True).strip()
        assert text.startswith(expected), (text, expected)


def test_eval_with_contrastive_decoding(small_world_dir, tmp_path):
    """Through the runner, whose workers prepare each probe's features and its silenced contrast ahead."""
    runs = {}
    for name, args in {"greedy": "", "contrastive": "decoding=contrastive,alpha=1.0,beta=0.1"}.items():
        out = tmp_path / name
        assert main(["eval", "--model", "qwen-omni-tiny", "--model-args", args, "--tasks", "swapped_audio",
                     "--data", str(small_world_dir), "--limit", "6", "--output-dir", str(out), "--quiet"]) == 0
        runs[name] = json.loads((out / "results.json").read_text())
    assert runs["contrastive"]["model"]["args"] == {"decoding": "contrastive", "alpha": "1.0", "beta": "0.1"}
    assert runs["contrastive"]["tasks"]["swapped_audio"]["errors"] == 0
    assert runs["greedy"]["model"]["fingerprint"] != runs["contrastive"]["model"]["fingerprint"]
    answers = {name: [json.loads(line)["response"] for line in
                      (tmp_path / name / "samples_swapped_audio.jsonl").read_text().splitlines()] for name in runs}
    assert answers["greedy"] != answers["contrastive"]
