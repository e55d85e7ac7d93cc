"""GPU robustness on any machine: a CUDA out-of-memory error inside a batch halves the batch and retries (faults
injected by an adapter wrapper raising the real torch.cuda.OutOfMemoryError, constructible on CPU); later batches
start at the smaller size, the effective sizes land in run_info, and the answers are those of an unfaulted run.

Batch-size invariance of the tiny model itself (batch 1 vs 8 identical in float32):
tests/test_qwen_omni.py::test_answers_do_not_depend_on_batch_size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from acpo_bench.cli import eval_cmd, main
from acpo_bench.cli.common import load_model
from acpo_bench.results import RESULTS_FILE, load_results, load_samples, without_run_info
from acpo_bench.runner import is_out_of_memory


class OutOfMemoryAbove:
    """Wraps an adapter; any call with more than ``limit`` requests raises torch.cuda.OutOfMemoryError, as a GPU
    whose memory holds ``limit`` rows would. Everything else is the wrapped adapter's."""

    def __init__(self, inner, limit: int, error=None) -> None:
        self.inner, self.limit = inner, limit
        self.error = error or (lambda n: torch.cuda.OutOfMemoryError(
            f"CUDA out of memory. Tried to allocate {n} rows; injected above {limit}"))
        self.calls: list[int] = []
        self.faults = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _check(self, requests) -> None:
        self.calls.append(len(requests))
        if len(requests) > self.limit:
            self.faults += 1
            raise self.error(len(requests))

    def score_choices(self, requests, choices):
        self._check(requests)
        return self.inner.score_choices(requests, choices)

    def generate(self, requests, max_new_tokens):
        self._check(requests)
        return self.inner.generate(requests, max_new_tokens)


def run(data, out, model="audio-oracle", model_args="", *extra) -> dict:
    assert main(["eval", "--model", model, "--model-args", model_args, "--tasks", "core", "--data", str(data),
                 "--output-dir", str(out), "--quiet", "--no-cache", *extra]) == 0
    return json.loads((Path(out) / RESULTS_FILE).read_text())


def same_answers(a: Path, b: Path) -> None:
    assert without_run_info(load_results(a)) == without_run_info(load_results(b))
    for sample in a.glob("samples_*.jsonl"):
        assert sample.read_bytes() == (b / sample.name).read_bytes()


def test_oom_is_recognised_by_class_name_and_message():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory, says a string"))


@pytest.mark.parametrize("limit", [1, 3, 40])
def test_oom_halves_the_batch_and_keeps_the_answers(small_world_dir, tmp_path, monkeypatch, limit):
    clean = run(small_world_dir, tmp_path / "clean", "audio-oracle", "", "--batch-size", "64", "--limit", "6")
    wrappers = []

    def faulty(*args):
        wrappers.append(OutOfMemoryAbove(load_model(*args), limit))
        return wrappers[-1]

    monkeypatch.setattr(eval_cmd, "load_model", faulty)
    faulted = run(small_world_dir, tmp_path / "oom", "audio-oracle", "", "--batch-size", "64", "--limit", "6")
    same_answers(tmp_path / "clean", tmp_path / "oom")
    adapter = wrappers[0]
    assert adapter.faults > 0
    sizes = faulted["run_info"]["answers"]["batch_size"]
    assert sizes["requested"] == 64 and sizes["final"] <= limit and sizes["halvings"] >= 1
    assert all(int(size) <= limit for size in sizes["batches"]), sizes
    assert sum(int(k) * v for k, v in sizes["batches"].items()) == clean["run_info"]["answers"]["computed"]
    # after the first halvings, batches start at the reduced size: far fewer faults than batches
    assert adapter.faults < len(adapter.calls) - adapter.faults


def test_oom_on_a_single_request_is_its_error_record(small_world_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(eval_cmd, "load_model", lambda *a: OutOfMemoryAbove(load_model(*a), 0))
    assert main(["eval", "--model", "audio-oracle", "--tasks", "sound_presence", "--data", str(small_world_dir),
                 "--limit", "2", "--output-dir", str(tmp_path / "r"), "--quiet", "--no-cache"]) == 0
    records = load_samples(tmp_path / "r", "sound_presence")
    assert records and all("ran out of memory on a single request" in r.error for r in records)
    assert all("OutOfMemoryError" in r.error for r in records)


def test_other_failures_still_go_one_by_one(small_world_dir, tmp_path, monkeypatch):
    wrappers = []

    def faulty(*args):
        wrappers.append(OutOfMemoryAbove(load_model(*args), 1, error=lambda n: RuntimeError("shape mismatch")))
        return wrappers[-1]

    monkeypatch.setattr(eval_cmd, "load_model", faulty)
    results = run(small_world_dir, tmp_path / "r", "audio-oracle", "", "--batch-size", "16", "--limit", "2")
    sizes = results["run_info"]["answers"]["batch_size"]
    assert sizes["halvings"] == 0 and sizes["final"] == 16, "a failure that is not OOM keeps the batch size"
    assert set(sizes["batches"]) == {"1"}, "the failed batches were answered one request at a time"
    adapter = wrappers[0]
    assert adapter.faults == sum(n > 1 for n in adapter.calls) > 0


@pytest.fixture
def one_thread():
    """The tiny model is fastest on one thread; two fight for a shared CI machine's two cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_oom_halving_with_the_tiny_model_keeps_its_answers(tiny_model, small_world_dir, tmp_path, monkeypatch):
    """The real model under injected OOMs: every answer (yes/no log-probs and greedy generations) equals those of
    the run without faults, in float32 on CPU."""
    model, args = tiny_model
    common = ("--batch-size", "8", "--limit", "2", "--max-new-tokens", "4")
    run(small_world_dir, tmp_path / "clean", model, args, *common)
    monkeypatch.setattr(eval_cmd, "load_model", lambda *a: OutOfMemoryAbove(load_model(*a), 3))
    faulted = run(small_world_dir, tmp_path / "oom", model, args, *common)
    same_answers(tmp_path / "clean", tmp_path / "oom")
    assert faulted["run_info"]["answers"]["batch_size"]["final"] <= 3
