"""`acpo-bench pipeline` end to end at toy size: tables from two seeds, resume, and no reuse of other settings."""

import json

import pytest

from acpo_bench.cli import main as cli_main

SHRUNK = ["--eval-clips", "6", "--train-clips", "12", "--tasks", "swapped_audio,visual_presence", "--quiet",
          "steps=2", "batch_size=4", "replay_batch_size=4", "logging_steps=1"]


@pytest.fixture(scope="module")
def pipeline_run(tiny_model, tmp_path_factory):
    model, model_args = tiny_model
    out = tmp_path_factory.mktemp("pipeline")
    base_args = ["pipeline", "--model", model, "--model-args", model_args, "--output-dir", str(out)]
    assert cli_main([*base_args, "--seeds", "2", *SHRUNK]) == 0
    return out, base_args


def test_pipeline_writes_before_after_tables_over_seeds(pipeline_run):
    out, _ = pipeline_run
    report = json.loads((out / "before_after.json").read_text())
    assert {d.name for d in (out / "eval").iterdir()} == {"both-seed0", "both-seed1"}
    seeds = [json.loads((out / "train" / f"both-seed{s}" / "acpo.json").read_text())["config"]["seed"] for s in (0, 1)]
    assert seeds[0] != seeds[1]
    text = (out / "before_after.md").read_text()
    assert "swapped_audio.vahr_yn" in text and "visual_presence.own_accuracy" in text
    base = json.loads((out / "base" / "results.json").read_text())["tasks"]["swapped_audio"]["metrics"]["vahr_yn"]
    after = [json.loads((out / "eval" / f"both-seed{s}" / "results.json").read_text())
             ["tasks"]["swapped_audio"]["metrics"]["vahr_yn"]["value"] for s in (0, 1)]
    row = {m["key"]: m for m in report["objectives"]["both"]["metrics"]}["swapped_audio.vahr_yn"]
    assert row["before"] == pytest.approx(base["value"])
    assert row["after_mean"] == pytest.approx(sum(after) / 2)
    assert row["delta_mean"] == pytest.approx(row["after_mean"] - row["before"])
    assert len(row["delta_ci95"]) == 2  # one paired CI per seed


def test_rerun_resumes_without_training_again(pipeline_run):
    out, base_args = pipeline_run
    policy = out / "train" / "both-seed0" / "policy" / "model.safetensors"
    stamp = policy.stat().st_mtime_ns
    assert cli_main([*base_args, "--seeds", "2", *SHRUNK]) == 0
    assert policy.stat().st_mtime_ns == stamp


def test_rerun_with_another_recipe_names_what_changed_and_keeps_the_runs(pipeline_run, capsys):
    out, base_args = pipeline_run
    policy = out / "train" / "both-seed0" / "policy" / "model.safetensors"
    stamp = policy.stat().st_mtime_ns
    assert cli_main([*base_args, "--seeds", "2", *SHRUNK, "steps=3"]) == 2
    err = capsys.readouterr().err
    assert "acpo.json" in err and "steps: 2 there, 3 now" in err and "--output-dir" in err
    assert policy.stat().st_mtime_ns == stamp


def test_rerun_on_other_tasks_refuses_the_base_run(pipeline_run, capsys):
    out, base_args = pipeline_run
    shrunk = [a if a != "swapped_audio,visual_presence" else "swapped_audio" for a in SHRUNK]
    assert cli_main([*base_args, *shrunk]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'base' / 'results.json'} was made with other settings" in err and "tasks: [" in err


def test_tables_carry_the_gate_verdict_per_seed(pipeline_run):
    out, _ = pipeline_run
    report = json.loads((out / "before_after.json").read_text())
    gates = report["objectives"]["both"]["gate"]
    assert len(gates) == 2
    # this shrunk run asks neither silent_video nor sound_presence: no verdict, and the reason says why
    assert all(g["passed"] is None and "silent_video" in g["error"] for g in gates)
    assert "seed 0: not gated" in (out / "before_after.md").read_text()


def test_gate_verdict_is_what_the_gate_command_says(small_world_dir, tmp_path_factory, capsys):
    from acpo_bench.leaderboard.runs import load_run
    from acpo_bench.workflows.pipeline import gate_verdict
    from tests.reporting import make_reference_runs

    runs = make_reference_runs(small_world_dir, tmp_path_factory)
    for baseline, candidate in [("audio-oracle", "visual-prior"), ("visual-prior", "audio-oracle")]:
        verdict = gate_verdict(load_run(runs[baseline]), load_run(runs[candidate]))
        code = cli_main(["gate", "--baseline", str(runs[baseline]), "--candidate", str(runs[candidate])])
        capsys.readouterr()
        assert verdict["passed"] == (code == 0)
        assert ("swapped_audio.vahr" in verdict["regressions"]) == (baseline == "audio-oracle")


@pytest.mark.parametrize("declared, recipe", [({"world": "stamps"}, "acpo_tiny_stamps.yaml"),
                                               ({"world": "synth"}, "acpo_tiny.yaml"), ({}, "acpo_tiny.yaml")])
def test_without_recipe_a_checkpoint_is_tuned_by_its_declared_worlds_recipe(tmp_path, declared, recipe):
    from acpo_bench.training.acpo import ACPOConfig
    from acpo_bench.training.recipe import load_recipe
    from acpo_bench.workflows.pipeline import default_recipe

    (tmp_path / "acpo_bench.json").write_text(json.dumps({"frames": 2, **declared}))
    chosen = default_recipe(tmp_path)
    assert chosen.name == recipe
    assert isinstance(load_recipe(ACPOConfig, chosen, []), ACPOConfig)  # shipped with the package, and valid
