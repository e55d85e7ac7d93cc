"""The openai-compatible adapter against a small server on 127.0.0.1 that serves the tiny Qwen model through the same
API a vLLM server offers (tests/omni_server.py), with injected 500s, 503s, 429s, slow replies and dropped
connections: every probe is answered exactly once, and the answers are the tiny model's own."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
import torch

from acpo_bench.adapter import Request, parse_model_args
from acpo_bench.cli import main
from acpo_bench.cli.common import load_model
from acpo_bench.clips import load_clips
from acpo_bench.media_store import MediaStore
from acpo_bench.models.openai_compat import DEFAULTS, ServerError, choice_logprobs, mp4_bytes
from acpo_bench.registry import resolve
from acpo_bench.results import load_results, load_samples
from acpo_bench.runner import build_probes
from acpo_bench.tasks import BUILTIN
from acpo_bench.tasks.suites import SUITES
from tests.omni_server import FAULTS, OmniServer, decode_mp4, first_token_logprobs

TIMEOUT_S = 3.0  # the client's socket timeout; a slow reply takes twice as long
CRF, AUDIO_BITRATE = int(DEFAULTS["crf"]), int(DEFAULTS["audio_bitrate"])  # how the adapter encodes by default
COMMON = ("--tasks", "core", "--limit", "2", "--max-new-tokens", "4", "--quiet")


@pytest.fixture(scope="module")
def served(tiny_model):
    """The tiny model, loaded once, on one thread (client and server share the test process's two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    name, args = tiny_model
    yield load_model(name, parse_model_args(args), None)
    torch.set_num_threads(before)


def server_args(server: OmniServer, **extra) -> str:
    args = {"url": server.url, "timeout": TIMEOUT_S, "retries": 4, "backoff": 0.01, "concurrency": 4,
            "top_logprobs": 100_000, **extra}  # the whole vocabulary: vLLM serves that with --max-logprobs
    return ",".join(f"{k}={v}" for k, v in args.items())


def eval_via(server: OmniServer, data, out, *extra: str, **model_args) -> int:
    return main(["eval", "--model", "openai-compatible", "--model-args", server_args(server, **model_args),
                 "--data", str(data), "--output-dir", str(out), *COMMON, *extra])


def records(out) -> dict:
    return {r.probe_id: r for task in load_results(out)["tasks"] for r in load_samples(out, task)}


def test_choice_logprobs_sums_the_spellings_and_bounds_the_missing():
    top = [{"token": " Yes", "logprob": -0.5}, {"token": "yes", "logprob": -1.5}, {"token": "The", "logprob": -2.0},
           {"token": "maybe", "logprob": -3.0}]
    scores = choice_logprobs(top, ("yes", "no"))
    assert scores["yes"] == pytest.approx(math.log(math.exp(-0.5) + math.exp(-1.5)))
    assert scores["no"] < -3.0 and scores["no"] == pytest.approx(-3.0), "just below the last listed entry"
    assert choice_logprobs([{"token": "No", "logprob": -0.1}, {"token": "x", "logprob": -4.0}],
                           ("yes", "no"))["no"] == pytest.approx(-0.1)
    with pytest.raises(ServerError, match="hold none of"):
        choice_logprobs([{"token": "The", "logprob": -0.1}], ("yes", "no"))


@pytest.mark.slow
def test_faulty_server_answers_every_probe_once_with_the_tiny_models_answers(served, tiny_model, small_world_dir,
                                                                            tmp_path):
    name, args = tiny_model
    assert main(["eval", "--model", name, "--model-args", args, "--data", str(small_world_dir), "--output-dir",
                 str(tmp_path / "direct"), *COMMON]) == 0
    with OmniServer(served, slow_s=TIMEOUT_S * 2) as server:
        assert eval_via(server, small_world_dir, tmp_path / "served") == 0
    # every fault kind was injected, and every distinct request got its answer in the end (a reply the client had
    # stopped waiting for can be computed twice on a loaded machine; the results still hold each probe once)
    assert set(server.injected) == set(FAULTS), server.injected
    assert set(server.answered) == set(server.attempts)
    results = load_results(tmp_path / "served")
    # one request per computed answer, plus the load-time check that the server returns log-probs
    assert results["run_info"]["answers"]["computed"] + 1 == len(server.answered)
    served_records, direct_records = records(tmp_path / "served"), records(tmp_path / "direct")
    assert served_records.keys() == direct_records.keys()
    for task, block in results["tasks"].items():
        rows = load_samples(tmp_path / "served", task)
        assert len(rows) == block["n"] == len({r.probe_id for r in rows}) and block["errors"] == 0
    # yes/no from the first token's log-probs, open answers by greedy generation: the model's own answers on the
    # very bytes the server decoded, computed here the way the server computes them
    assert {r.scored_by for r in served_records.values() if r.kind == "yes_no"} == {"loglik"}
    expected, direct_logprobs = answers_on_served_bytes(served, small_world_dir)
    assert {k: r.response for k, r in served_records.items()} == expected
    # the yes/no log-probs read from top_logprobs are the adapter's own scoring of those bytes (float tolerance)
    with sqlite3.connect(tmp_path / "served" / "cache.sqlite") as db:
        cached = {pid: json.loads(lp) for pid, lp in db.execute(
            "SELECT probe_id, choice_logprobs FROM responses WHERE choice_logprobs IS NOT NULL")}
    assert cached.keys() == direct_logprobs.keys() and cached
    for probe_id, scores in cached.items():
        assert scores == pytest.approx(direct_logprobs[probe_id], abs=FLOAT_TOLERANCE)
    agree = sum(r.response == direct_records[k].response for k, r in served_records.items())
    print(f"server faults injected: {sum(server.injected.values())} {dict(server.injected)} over "
          f"{sum(server.attempts.values())} requests; answers equal to the direct run on the original (not "
          f"remuxed) media: {agree} of {len(served_records)}")


FLOAT_TOLERANCE = 1e-4  # two computations of one log-prob (generate's first step vs the adapter's forward)


def answers_on_served_bytes(model, data, loglik: bool = True) -> tuple[dict[str, str], dict[str, dict]]:
    """The model's answer to every core probe (--limit 2) on the media the server decodes from the client's mp4,
    computed as the server computes it (one request at a time; yes/no from the first token's log-probs), and the
    adapter's own yes/no log-probs for those bytes."""
    clips = load_clips(data).head(2)
    tasks = {n: resolve(BUILTIN[n]) for n in SUITES["core"].tasks}
    store = MediaStore(model.media_spec)
    answers, logprobs = {}, {}
    for probe in {p.probe_id: p for ps, _ in build_probes(tasks, clips, 0).values() for p in ps}.values():
        media = decode_mp4(mp4_bytes(store.load(probe.video, probe.video_id, probe.audio), CRF, AUDIO_BITRATE),
                           model.media_spec)
        request = Request(probe, media)
        if probe.kind == "yes_no" and loglik:
            vocabulary = len(model.tokenizer)
            scores = choice_logprobs(first_token_logprobs(model, request, vocabulary), ("yes", "no"))
            answers[probe.probe_id] = max(scores, key=scores.get)
            logprobs[probe.probe_id] = model.score_choices([request], ("yes", "no"))[0]
        else:
            answers[probe.probe_id] = model.generate([request], 4)[0]
    return answers, logprobs


@pytest.mark.slow
def test_server_without_logprobs_answers_yes_no_by_generation(served, small_world_dir, tmp_path):
    with OmniServer(served, logprobs=False, faulty=lambda key, attempt: None) as server:
        assert eval_via(server, small_world_dir, tmp_path / "served") == 0
    served_records = records(tmp_path / "served")
    assert {r.scored_by for r in served_records.values()} == {"generate"}
    expected, _ = answers_on_served_bytes(served, small_world_dir, loglik=False)
    assert {k: r.response for k, r in served_records.items()} == expected


@pytest.mark.slow
def test_4xx_is_a_clear_error_sent_once_and_exhausted_retries_give_up(served, small_world_dir, tmp_path):
    def reject(body):
        return "the prompt names a dog: refused" if "dog" in body["messages"][-1]["content"][1]["text"] else None

    with OmniServer(served, faulty=lambda key, attempt: None, reject=reject) as server:
        code = eval_via(server, small_world_dir, tmp_path / "rejected", "--max-error-rate", "0")
    assert code == 3
    errors = [r for r in records(tmp_path / "rejected").values() if r.error]
    assert errors and all("dog" in r.prompt for r in errors)
    assert all("HTTP 400" in r.error and "the prompt names a dog: refused" in r.error for r in errors)
    assert server.rejected == len(errors), "a 4xx is neither retried nor sent again when the batch is retried"
    assert all(r.error is None for r in records(tmp_path / "rejected").values() if "dog" not in r.prompt)

    with OmniServer(served, faulty=lambda key, attempt: "500") as server:
        assert eval_via(server, small_world_dir, tmp_path / "down", "--tasks", "sound_presence", retries=2) == 0
    rows = records(tmp_path / "down").values()
    assert rows and all("gave up after 3 attempts" in r.error and "HTTP 500" in r.error for r in rows)
    assert set(server.attempts.values()) == {3}, "retries + 1 attempts per request, and no more"


def test_unreachable_server_or_unknown_model_fail_to_load(served, small_world_dir, tmp_path, capsys):
    with OmniServer(served) as server:
        url = server.url
        code = eval_via(server, small_world_dir, tmp_path / "r", model="no-such-model")
    assert code == 2 and "not among the served models ['tiny-omni']" in capsys.readouterr().err
    assert main(["eval", "--model", "openai-compatible", "--model-args", f"url={url},retries=1,backoff=0.01",
                 "--data", str(small_world_dir), "--output-dir", str(tmp_path / "r"), *COMMON]) == 2
    assert "cannot reach the inference server" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown key"):
        load_model("openai-compatible", {"colour": "red"}, None)


def test_remuxed_mp4_carries_the_recipes_audio(served, small_world):
    """The mp4 a server receives holds the sampled frames and the probe's (here: swapped) audio as its track."""
    import numpy as np

    from acpo_bench.media import rms_dbfs
    from acpo_bench.schemas import AudioRecipe

    clip, other = small_world.clips[0], small_world.clips[1]
    store = MediaStore(served.media_spec)
    swapped = store.load(clip.video, clip.content_id, AudioRecipe("swap", source=other.video,
                                                                 source_id=other.content_id))
    silent = store.load(clip.video, clip.content_id, AudioRecipe("silence"))
    back = decode_mp4(mp4_bytes(swapped, CRF, AUDIO_BITRATE), served.media_spec)
    assert back.frames.shape == swapped.frames.shape
    assert np.abs(back.frames.astype(int) - swapped.frames.astype(int)).mean() < 4
    assert len(back.audio) == len(swapped.audio)
    assert abs(rms_dbfs(back.audio) - rms_dbfs(swapped.audio)) < 1.0
    assert np.corrcoef(back.audio, swapped.audio)[0, 1] > 0.9, "the track is the swapped audio, aligned"
    assert rms_dbfs(decode_mp4(mp4_bytes(silent, CRF, AUDIO_BITRATE), served.media_spec).audio) < -80
