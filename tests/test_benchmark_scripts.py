"""Every script in benchmarks/ runs end to end at its smallest size, so none can break unnoticed (eval_throughput's
one-by-one loop once did). Only that it completes and writes its numbers is asserted: timings are never checked in a
test (docs/benchmarks.md records them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
# each runnable script at its smallest size; gpu_check.sh at SIZE=tiny runs eval_throughput (synthetic inputs) and
# train_step, so those two are covered by it and eval_throughput runs again here on the world's mp4s
SMALLEST = {
    "eval_throughput.py": ["--size", "tiny", "--probes", "16", "--one-by-one", "2", "--open-probes", "2",
                           "--decode-workers", "1", "--repeats", "1", "--threads", "2"],
    "train_step.py": None,  # through gpu_check.sh
    "gate_calibration.py": ["--reps", "20", "--bootstrap-reps", "4"],
    "gpu_check.sh": [],
    "eval_end_to_end.py": None,  # through gpu_check.sh
    "official_path.py": ["--model", "qwen-omni-tiny", "--probes", "3"],
    "contrastive_decoding_cost.py": ["--clips", "3", "--repeats", "1"],
    "sft_step.py": ["--world", "synth", "--frame-side", "112", "--clips", "16", "--batch", "8", "--steps", "1"],
}
NOT_RUNNABLE = {"realsize.py"}  # a module the scripts import
NEEDS_NETWORK = {"fetch_wheels.sh"}  # downloads wheels for the device machine from the package registry


def test_every_benchmark_script_is_listed():
    scripts = {p.name for p in BENCHMARKS.iterdir() if p.suffix in (".py", ".sh")}
    assert scripts == set(SMALLEST) | NOT_RUNNABLE | NEEDS_NETWORK, "add a new benchmark script to SMALLEST"


def _run(command: list[str], tmp_path: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", **(env or {})})
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_eval_throughput_on_world_media(tmp_path):
    out = tmp_path / "eval.json"
    _run([sys.executable, "benchmarks/eval_throughput.py", *SMALLEST["eval_throughput.py"], "--json", str(out)],
         tmp_path)
    result = json.loads(out.read_text())
    assert result["complete"] is True
    assert result["one_by_one_probes"] == 2 and result["open_probes"] == 2
    assert result["max_abs_logprob_diff_vs_forward"] < 1e-4


@pytest.mark.slow
def test_gpu_check_at_tiny_size(tmp_path, small_stamps_dir):
    out = tmp_path / "gpu"
    _run(["bash", "benchmarks/gpu_check.sh"], tmp_path,
         env={"SIZE": "tiny", "INSTALL": "0", "PYTHON": sys.executable, "OUT": str(out), "THREADS": "2",
              "DATA": str(small_stamps_dir)})
    evaluation = json.loads((out / "eval_tiny.json").read_text())
    end_to_end = json.loads((out / "e2e_tiny.json").read_text())
    training = json.loads((out / "train_tiny.json").read_text())
    assert evaluation["complete"] is True and evaluation["data"] == str(small_stamps_dir)
    assert evaluation["open_answers_equal_one_by_one"] == "4/4"
    assert end_to_end["data"]["world"] == "stamps" and end_to_end["answers"]["errors"] == 0
    assert set(training["results"]) == {"acpo", "trl_dpo", "acpo_precomputed_ref", "acpo_naive", "dpo"}


@pytest.mark.slow
def test_official_path_script(tmp_path, small_stamps_dir):
    out = tmp_path / "official.json"
    _run([sys.executable, "benchmarks/official_path.py", "--data", str(small_stamps_dir),
          *SMALLEST["official_path.py"], "--json", str(out)], tmp_path, env={"FORCE_QWENVL_VIDEO_READER": "decord"})
    result = json.loads(out.read_text())
    assert result["probes"] == 6 and result["max_abs_logprob_diff"] < 1e-4


def test_gate_calibration_runs(tmp_path):
    proc = _run([sys.executable, "benchmarks/gate_calibration.py", *SMALLEST["gate_calibration.py"]], tmp_path)
    assert "clip-clustered McNemar" in proc.stdout


@pytest.mark.slow
def test_contrastive_decoding_cost_script(tmp_path, small_world_dir):
    out = tmp_path / "cost.json"
    _run([sys.executable, "benchmarks/contrastive_decoding_cost.py", "--data", str(small_world_dir),
          *SMALLEST["contrastive_decoding_cost.py"], "--json", str(out)], tmp_path)
    result = json.loads(out.read_text())
    greedy, contrastive = result["greedy"], result["contrastive"]
    assert greedy["probes"] == contrastive["probes"] > 0
    assert greedy["forwards"]["contrast"] == 0
    # every probe is answered a second time under silence: as many contrast rows as answered ones
    assert contrastive["forwards"]["contrast"] == contrastive["forwards"]["full"] == greedy["forwards"]["full"]
    assert result["ratio"]["forward_rows"] == 2.0


def test_sft_step_script(tmp_path):
    out = tmp_path / "sft.json"
    _run([sys.executable, "benchmarks/sft_step.py", *SMALLEST["sft_step.py"], "--json", str(out)], tmp_path)
    result = json.loads(out.read_text())
    assert set(result["paths"]) == {"thinker_forward", "answer_positions", "answer_positions_4_per_clip",
                                    "answer_positions_rope_cache", "frozen_towers_rope_cache"}
    assert result["paths"]["thinker_forward"]["speedup"] == 1.0
    assert result["loss_difference_same_batch"] < 1e-4  # the two paths train the same objective
