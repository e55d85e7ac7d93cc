"""Determinism and data-parallel evaluation.

Two runs with the same seed write byte-identical results outside run_info (reference adapter:
tests/test_eval_cli.py::test_two_runs_are_identical_outside_run_info; here the tiny Qwen model), and the results
record what a rerun needs. `torchrun --nproc_per_node 2 -m acpo_bench eval` shards the probes, caches per rank and
writes, on rank 0, results equal to a single process's outside run_info."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from acpo_bench.results import RESULTS_FILE, dumps, load_results, load_samples, without_run_info

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, nproc: int | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The real command line in a fresh process (one torch thread per process: two cores, no oversubscription)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
                if nproc else [sys.executable])
    proc = subprocess.run([*launcher, "-m", "acpo_bench", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def eval_args(model: str, model_args: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", model, "--model-args", model_args, "--tasks", "core", "--data", str(data),
            "--output-dir", str(out), "--quiet", *extra]


def identical_outside_run_info(a: Path, b: Path) -> None:
    """Byte for byte: the results file without run_info, and every samples file."""
    assert dumps(without_run_info(load_results(a))) == dumps(without_run_info(load_results(b)))
    names = sorted(p.name for p in a.glob("samples_*.jsonl"))
    assert names and names == sorted(p.name for p in b.glob("samples_*.jsonl"))
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.slow
def test_tiny_model_runs_are_byte_identical_and_self_describing(tiny_model, small_world_dir, tmp_path):
    model, args = tiny_model
    for out in ("a", "b"):
        cli(*eval_args(model, args, small_world_dir, tmp_path / out, "--limit", "2", "--max-new-tokens", "4",
                       "--no-cache"))
    identical_outside_run_info(tmp_path / "a", tmp_path / "b")
    results = load_results(tmp_path / "a")
    config, info = results["config"], results["run_info"]
    assert {"frames", "fps", "sample_rate", "seed", "batch_size", "max_new_tokens", "scoring", "limit"} <= set(config)
    assert config["frames"] == 2 and config["batch_size"] >= 1 and config["data"]["fingerprint"].startswith("sha256")
    recipes = config["audio"]["recipes"]
    assert set(recipes["silent_video"]) == {"noise:dbfs=-40", "silence"}
    assert set(recipes["sound_presence"]) == {"own"}
    assert {name for task in recipes.values() for name in task} <= {"own", "swap", "silence", "noise:dbfs=-40"}
    assert sum(n for task in recipes.values() for n in task.values()) == sum(
        block["n"] for block in results["tasks"].values())
    assert {"torch", "transformers", "av", "ffmpeg", "acpo-bench", "python"} <= set(info["versions"])
    assert "git_commit" in info and info["device"] == "cpu" and info["processes"] == 1
    assert info["answers"]["batch_size"]["requested"] == config["batch_size"]
    assert results["model"]["fingerprint"].startswith("sha256:") and results["model"]["parameters"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["visual-prior", "tiny"])
def test_torchrun_two_processes_equal_one(model, tiny_model, small_world_dir, tmp_path):
    name, args = tiny_model if model == "tiny" else (model, "")
    extra = ("--limit", "2", "--max-new-tokens", "4") if model == "tiny" else ("--limit", "8")
    cli(*eval_args(name, args, small_world_dir, tmp_path / "single", *extra))
    cli(*eval_args(name, args, small_world_dir, tmp_path / "ddp", *extra), nproc=2)
    identical_outside_run_info(tmp_path / "single", tmp_path / "ddp")
    info = load_results(tmp_path / "ddp")["run_info"]
    ranks = info["answers"]["ranks"]
    assert info["processes"] == 2 and len(ranks) == 2 and all(r["computed"] > 0 for r in ranks), ranks
    single = load_results(tmp_path / "single")["run_info"]["answers"]
    assert sum(r["computed"] for r in ranks) == info["answers"]["computed"] == single["computed"]
    assert sorted(p.name for p in (tmp_path / "ddp").glob("cache*.sqlite")) == ["cache.rank0.sqlite",
                                                                                "cache.rank1.sqlite"]
    # the per-rank caches serve any later run: one process (or another count) recomputes nothing
    proc = cli(*eval_args(name, args, small_world_dir, tmp_path / "ddp", *extra))
    assert "0 answers computed" in proc.stdout
    identical_outside_run_info(tmp_path / "single", tmp_path / "ddp")


@pytest.mark.slow
def test_torchrun_keeps_error_records_of_every_rank(small_world_dir, tmp_path):
    """A broken file answered on whichever rank still becomes its error records in rank 0's results."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_world_dir, data)
    for clip in sorted((data / "clips").iterdir())[:3]:
        clip.write_bytes(b"")
    cli(*eval_args("audio-oracle", "", data, tmp_path / "single", "--limit", "8"))
    cli(*eval_args("audio-oracle", "", data, tmp_path / "ddp", "--limit", "8"), nproc=2)
    identical_outside_run_info(tmp_path / "single", tmp_path / "ddp")
    errors = [r for t in load_results(tmp_path / "ddp")["tasks"] for r in load_samples(tmp_path / "ddp", t)
              if r.error]
    assert errors and all("file is empty" in r.error for r in errors)
    assert (tmp_path / "ddp" / RESULTS_FILE).is_file()
