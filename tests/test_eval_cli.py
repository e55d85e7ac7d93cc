"""The eval command end to end: results schema, determinism, resume, media errors, cache safety, plugins."""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acpo_bench.cli import eval_cmd, main
from acpo_bench.models.reference import AudioOracle
from acpo_bench.results import RESULTS_FILE, load_results, load_samples, without_run_info

ROOT = Path(__file__).resolve().parents[1]


def eval_args(data, out, model="audio-oracle", *extra):
    return ["eval", "--model", model, "--tasks", "all", "--data", str(data), "--output-dir", str(out), "--quiet",
            *extra]


def read(out):
    return json.loads((Path(out) / RESULTS_FILE).read_text())


def test_results_file_has_every_field(small_world_dir, tmp_path):
    assert main(eval_args(small_world_dir, tmp_path / "r")) == 0
    results = load_results(tmp_path / "r")
    assert results["model"] == {"name": "audio-oracle", "adapter": None, "fingerprint": AudioOracle().fingerprint(),
                                "parameters": 0, "args": {}}
    config = results["config"]
    assert config["tasks"] == ["swapped_audio", "silent_video", "sound_presence", "visual_presence"]
    assert config["data"]["clips"] == 24 and config["data"]["fingerprint"].startswith("sha256:")
    assert {"scoring", "frames", "fps", "seed", "batch_size", "limit"} <= set(config)
    for name, block in results["tasks"].items():
        assert {"version", "n", "skipped", "errors", "metrics", "per_class", "per_paraphrase", "samples"} <= set(block)
        assert block["errors"] == 0
        records = load_samples(tmp_path / "r", name)
        assert len(records) == block["n"]
        assert len({r.probe_id for r in records}) == len(records)
    vahr = results["tasks"]["swapped_audio"]["metrics"]["vahr_yn"]
    assert vahr["value"] == 0.0 and vahr["higher_is_better"] is False and len(vahr["ci95"]) == 2
    assert results["summary"]["audio_grounding_score"]["value"] == 1.0
    info = results["run_info"]
    assert {"started", "duration_s", "host", "versions", "git_commit", "command"} <= set(info)
    assert info["versions"]["acpo-bench"]


def test_two_runs_are_identical_outside_run_info(small_world_dir, tmp_path):
    for out in ("a", "b"):
        assert main(eval_args(small_world_dir, tmp_path / out, "visual-prior", "--no-cache")) == 0
    assert without_run_info(read(tmp_path / "a")) == without_run_info(read(tmp_path / "b"))
    for sample in (tmp_path / "a").glob("samples_*.jsonl"):
        assert sample.read_bytes() == (tmp_path / "b" / sample.name).read_bytes()


class InterruptedOracle(AudioOracle):
    """Dies (as from Ctrl-C) on its fourth batch."""

    default_batch_size = 64

    def __init__(self):
        self.batches = 0

    def score_choices(self, requests, choices):
        self.batches += 1
        if self.batches == 4:
            raise KeyboardInterrupt
        return super().score_choices(requests, choices)


def test_interrupted_run_resumes_without_recomputing(small_world_dir, tmp_path, monkeypatch):
    assert main(eval_args(small_world_dir, tmp_path / "clean")) == 0
    monkeypatch.setattr(eval_cmd, "load_model", lambda *a: InterruptedOracle())
    assert main(eval_args(small_world_dir, tmp_path / "resumed")) == 130
    committed = sqlite3.connect(tmp_path / "resumed" / "cache.sqlite").execute(
        "SELECT COUNT(*) FROM responses").fetchone()[0]
    assert committed == 3 * 64
    monkeypatch.setattr(eval_cmd, "load_model", lambda *a: AudioOracle())
    assert main(eval_args(small_world_dir, tmp_path / "resumed")) == 0
    answers = read(tmp_path / "resumed")["run_info"]["answers"]
    assert answers["cached"] == committed
    assert answers["computed"] + answers["cached"] == read(tmp_path / "clean")["run_info"]["answers"]["computed"]
    assert without_run_info(read(tmp_path / "resumed")) == without_run_info(read(tmp_path / "clean"))


def test_cache_refuses_another_models_answers(small_world_dir, tmp_path, capsys):
    assert main(eval_args(small_world_dir, tmp_path / "r", "audio-oracle", "--limit", "4")) == 0
    assert main(eval_args(small_world_dir, tmp_path / "r", "visual-prior", "--limit", "4")) == 2
    assert "holds answers of a different model" in capsys.readouterr().err


def test_broken_media_become_error_records(small_world_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_world_dir, data)
    clips = sorted((data / "clips").iterdir())
    clips[0].write_bytes(clips[0].read_bytes()[:300])  # truncated: the moov atom is gone
    from acpo_bench.media import MediaSpec, decode_video, write_mp4
    frames = decode_video(clips[1], MediaSpec(frames=None, fps=8)).frames
    write_mp4(clips[1], frames, 8, None)  # the same video without an audio track
    assert main(eval_args(data, tmp_path / "r")) == 0
    results = read(tmp_path / "r")
    assert sum(b["errors"] for b in results["tasks"].values()) > 0
    records = [r for t in results["tasks"] for r in load_samples(tmp_path / "r", t) if r.error]
    reasons = {r.clip_id: r.error for r in records}
    assert "cannot open" in reasons["synth-00000"] or "no decodable" in reasons["synth-00000"]
    assert "has no audio stream" in reasons["synth-00001"]
    silent = load_samples(tmp_path / "r", "silent_video")
    assert all(r.error is None for r in silent if r.clip_id == "synth-00001"), "silence needs no own audio"
    assert main(eval_args(data, tmp_path / "r", "audio-oracle", "--max-error-rate", "0")) == 3


def test_bad_input_messages(small_world_dir, tmp_path, capsys):
    assert main(["eval", "--model", "audio-orcale", "--tasks", "core", "--quiet"]) == 2
    assert "Did you mean audio-oracle" in capsys.readouterr().err
    assert main(["eval", "--model", "blind", "--tasks", "swaped_audio", "--quiet"]) == 2
    assert "Did you mean swapped_audio" in capsys.readouterr().err
    assert main(["eval", "--model", "blind", "--data", str(tmp_path), "--quiet"]) == 2
    assert "no manifest/ directory" in capsys.readouterr().err
    assert main(["eval", "--model", "blind", "--model-args", "oops", "--quiet"]) == 2
    assert "not key=value" in capsys.readouterr().err


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    target = tmp_path_factory.mktemp("plugin")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(ROOT / "tests" / "plugin_pkg")], check=True)
    return target


def cli(args, plugin_path, extra_env=None, **kw):
    env = {**os.environ, "PYTHONPATH": str(plugin_path), **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "acpo_bench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_third_party_plugin_runs_its_task(plugin_path, small_world_dir, tmp_path):
    listing = cli(["list"], plugin_path).communicate()[0]
    assert "any_sound_own" in listing and "slow-oracle" in listing
    proc = cli(["eval", "--model", "audio-oracle", "--tasks", "any_sound_own", "--data", str(small_world_dir),
                "--output-dir", str(tmp_path / "r"), "--quiet"], plugin_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert read(tmp_path / "r")["tasks"]["any_sound_own"]["metrics"]["accuracy"]["value"] == 1.0


def committed_ids(db: Path) -> set[str]:
    """Probe ids whose answers the cache holds (read while a writer may be mid-transaction: WAL keeps it safe)."""
    if not db.exists():
        return set()
    for _ in range(100):
        try:
            with sqlite3.connect(db, timeout=10) as conn:
                return {row[0] for row in conn.execute("SELECT probe_id FROM responses")}
        except sqlite3.OperationalError:  # the table is not created yet
            time.sleep(0.01)
    raise AssertionError(f"{db}: unreadable")


KILLS = 6  # SIGKILLs per test: one at start-up, four at random answer counts, one once every answer is committed


@pytest.mark.slow
def test_kill_9_at_random_points_then_rerun(plugin_path, small_world_dir, tmp_path):
    """Real SIGKILLs, several in a row, at start-up, at random points of answering and while results are being
    scored and written: no committed answer is lost or recomputed, the cache stays intact, a results file is whole
    or absent, and the final rerun's results and samples equal an uninterrupted run's outside run_info."""
    args = ["eval", "--model", "slow-oracle", "--tasks", "core", "--data", str(small_world_dir), "--limit", "6",
            "--quiet", "--output-dir"]
    clean = cli([*args, str(tmp_path / "clean")], plugin_path)
    assert clean.wait(timeout=300) == 0
    total = read(tmp_path / "clean")["run_info"]["answers"]["computed"]
    out, db = tmp_path / "killed", tmp_path / "killed" / "cache.sqlite"
    rng = random.Random(20261107)
    targets = [0, *sorted(rng.sample(range(1, total), KILLS - 2)), total]
    survived, history = 0, []
    for i, target in enumerate(targets):
        before = committed_ids(db)
        log = tmp_path / f"computed.{i}.log"
        proc = cli([*args, str(out)], plugin_path, extra_env={"ACPO_SLOW_ORACLE_LOG": str(log)})
        goal = max(target, len(before) + 1) if target else 0
        deadline = time.time() + 120
        while goal and proc.poll() is None and time.time() < deadline and len(committed_ids(db)) < min(goal, total):
            time.sleep(0.01)
        landed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        survived += landed
        after = committed_ids(db)
        computed = set(log.read_text().split()) if log.exists() else set()
        history.append((target, len(before), len(after), landed))
        assert before <= after, "a committed answer was lost"
        assert not computed & before, "an answer committed by an earlier run was computed again"
        if db.exists():
            with sqlite3.connect(db) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if (out / RESULTS_FILE).exists():  # written atomically: whole, and its samples match their hashes
            for task in load_results(out)["tasks"]:
                load_samples(out, task)
    assert survived >= KILLS - 1, f"the kills must land while the process runs: {history}"
    committed = committed_ids(db)
    assert 0 < len(committed) <= total
    log = tmp_path / "computed.final.log"
    rerun = cli([*args, str(out)], plugin_path, extra_env={"ACPO_SLOW_ORACLE_LOG": str(log)})
    assert rerun.wait(timeout=300) == 0
    answers = read(out)["run_info"]["answers"]
    assert answers["cached"] == len(committed) and answers["computed"] == total - len(committed)
    assert not set(log.read_text().split() if log.exists() else ()) & committed
    assert without_run_info(read(out)) == without_run_info(read(tmp_path / "clean"))
    for sample in (tmp_path / "clean").glob("samples_*.jsonl"):
        assert sample.read_bytes() == (out / sample.name).read_bytes(), "a sample was lost or changed"
    print(f"kill points survived: {survived} of {len(targets)} (target, committed before, after, landed): "
          f"{history}; samples lost: 0 of {sum(b['n'] for b in read(out)['tasks'].values())}")
