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


def test_default_output_dir_is_one_folder_per_setting(small_world_dir, tmp_path, monkeypatch, capsys):
    """Without --output-dir a run goes to runs/<model>/<suite or tasks>[-limitN][-<data>][-<settings>]: another
    suite, limit or seed never overwrites an earlier run, and the same command again finds its own cache."""
    monkeypatch.chdir(tmp_path)
    data = small_world_dir.name  # a dataset directory is named by its folder

    def run(*extra: str) -> dict:
        assert main(["eval", "--model", "audio-oracle", "--data", str(small_world_dir), "--quiet", *extra]) == 0
        return read(capsys.readouterr().out.split("results: ")[1].split()[0].removesuffix("/results.json"))

    settings = {f"core-{data}": ("--tasks", "core"),
                f"core-limit6-{data}": ("--tasks", "core", "--limit", "6"),
                f"swapped_audio+silent_video-limit6-{data}": ("--tasks", "swapped_audio,silent_video", "--limit", "6"),
                f"core-limit6-{data}-generate-seed1": ("--tasks", "core", "--limit", "6", "--seed", "1",
                                                       "--scoring", "generate")}
    limits = {}
    for folder, extra in settings.items():
        results = run(*extra)
        assert (tmp_path / "runs" / "audio-oracle" / folder / RESULTS_FILE).is_file()
        limits[folder] = results["config"]["limit"]
    assert sorted(p.name for p in (tmp_path / "runs" / "audio-oracle").iterdir()) == sorted(settings)
    assert limits == {f"core-{data}": 48, f"core-limit6-{data}": 6, f"swapped_audio+silent_video-limit6-{data}": 6,
                      f"core-limit6-{data}-generate-seed1": 6}
    first = tmp_path / "runs" / "audio-oracle" / f"core-{data}"
    again = run("--tasks", "core", "--limit", "48")  # the suite's own clip count: the same setting, the same folder
    assert again["run_info"]["answers"]["computed"] == 0 and again["run_info"]["answers"]["cached"] > 0
    assert without_run_info(again) == without_run_info(read(first))


def test_an_output_dir_holding_a_run_with_other_settings_is_refused(small_world_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(eval_args(small_world_dir, out, "audio-oracle", "--limit", "4")) == 0
    before = (out / RESULTS_FILE).read_bytes()
    capsys.readouterr()
    assert main(eval_args(small_world_dir, out, "audio-oracle", "--limit", "6", "--scoring", "generate")) == 2
    err = capsys.readouterr().err
    assert f"{out} holds the results of a run with other settings" in err
    assert "limit 4 there, 6 now" in err and 'scoring "auto" there, "generate" now' in err
    assert "(4 clips, " in err and "(6 clips, " in err and "Give a new --output-dir" in err
    assert (out / RESULTS_FILE).read_bytes() == before, "the earlier run's results must stay"
    assert main(eval_args(small_world_dir, out, "audio-oracle", "--limit", "4", "--frames", "3")) == 2
    assert "frames 2 there, 3 now" in capsys.readouterr().err
    # the same command again resumes from the cache, as a rerun always did
    assert main(eval_args(small_world_dir, out, "audio-oracle", "--limit", "4")) == 0
    assert read(out)["run_info"]["answers"]["computed"] == 0
    # a field an older results file lacks is not compared; the fields it has still are
    older = read(out)
    del older["config"]["limit"], older["config"]["sampling"]
    (out / RESULTS_FILE).write_text(json.dumps(older))
    assert main(eval_args(small_world_dir, out, "audio-oracle", "--limit", "4")) == 0
    (out / RESULTS_FILE).write_text(json.dumps({**older, "config": {**older["config"], "limit": 4}}))
    assert main(eval_args(small_world_dir, out, "visual-prior", "--limit", "4", "--no-cache")) == 2
    assert 'model "audio-oracle" there, "visual-prior" now' in capsys.readouterr().err


def test_skipped_clips_are_counted_per_reason_and_explained(small_world_dir, tmp_path, capsys):
    import datasets

    from acpo_bench.clips import write_manifest
    from acpo_bench.tasks._probes import NOTHING_AUDIBLE, NOTHING_VISIBLE

    data = tmp_path / "data"
    shutil.copytree(small_world_dir, data)
    rows = datasets.load_from_disk(str(data / "manifest")).to_list()
    shutil.rmtree(data / "manifest")
    rows[0]["visible"] = []  # nothing on screen: no swap partner, no "can you see" question
    rows[1]["audible"] = []  # nothing heard: no POPE positive to balance the negatives
    write_manifest(data, rows)
    assert main(eval_args(data, tmp_path / "r", "audio-oracle")) == 0
    out = capsys.readouterr().out
    tasks = read(tmp_path / "r")["tasks"]
    for block in tasks.values():
        assert sum(block["skipped_reasons"].values()) == block["skipped"]
    assert tasks["visual_presence"]["skipped_reasons"] == {NOTHING_VISIBLE: 1}
    assert tasks["sound_presence"]["skipped_reasons"] == {NOTHING_AUDIBLE: 1}
    assert tasks["swapped_audio"]["skipped_reasons"][NOTHING_VISIBLE] == 1
    assert tasks["silent_video"]["skipped"] == 0 and tasks["silent_video"]["skipped_reasons"] == {}
    assert "visual_presence (1 skipped)" in out
    assert f"visual_presence: 1 clip skipped, {NOTHING_VISIBLE}" in out
    assert f"sound_presence: 1 clip skipped, {NOTHING_AUDIBLE}" in out


def test_a_task_without_skip_reasons_gets_a_generic_one(small_world):
    from dataclasses import replace as replace_field

    from acpo_bench.registry import resolve
    from acpo_bench.runner import build_probes
    from acpo_bench.task import NO_PROBE
    from acpo_bench.tasks import BUILTIN

    task = replace_field(resolve(BUILTIN["visual_presence"]), skip_reason=None)
    clips = replace_field(small_world, clips=(replace_field(small_world.clips[0], visible=()),
                                              *small_world.clips[1:]))
    _, reasons = build_probes({"visual_presence": task}, clips, 0)["visual_presence"]
    assert reasons == {NO_PROBE: 1}


def test_the_summary_is_whole_in_a_pipe_and_has_a_legend(small_world_dir, tmp_path, monkeypatch, capsys):
    """Output to a pipe or file (capsys is one): rich's fixed width (here COLUMNS=60) must not cut names."""
    monkeypatch.setenv("COLUMNS", "60")
    assert main(eval_args(small_world_dir, tmp_path / "r", "visual-prior", "--no-cache")) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    results = read(tmp_path / "r")
    for name, block in results["tasks"].items():
        assert f"│ {name} " in out
        for metric in block["headline"]:
            assert f"│ {metric} " in out, metric
    legend = next(line for line in out.splitlines() if line.startswith("VAHR = "))
    assert "video-driven audio hallucination rate" in legend and "(lower is better ↓)" in legend
    assert "AGS = audio grounding score" in legend and "(higher is better ↑)" in legend
    assert f"results: {tmp_path / 'r' / RESULTS_FILE}  ·  " in out
    hint = f"browse the samples: acpo-bench view {tmp_path / 'r'} --output {tmp_path / 'r' / 'samples.html'}"
    assert hint in out
