"""Runs inside the lmms-eval venv (.venv-lmms; tests/test_lmms_bridge.py starts it): the bridge both ways.

Not collected by the main test run (lmms-eval pins av<16 and filelock<4, so it lives in its own environment).
"""

from __future__ import annotations

import math

import pytest

from acpo_bench.cli import main
from acpo_bench.clips import load_clips
from acpo_bench.models.reference import VisualPrior
from acpo_bench.registry import resolve
from acpo_bench.results import load_results
from acpo_bench.runner import EvalConfig, evaluate
from acpo_bench.tasks import BUILTIN
from acpo_bench.tasks.lmms_export import export
from acpo_bench.tasks.suites import SUITES

CLIPS = 6
TASKS = {name: resolve(BUILTIN[name]) for name in SUITES["core"].tasks}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


def same(ours, theirs) -> bool:
    if ours is None:
        return theirs is None or (isinstance(theirs, float) and math.isnan(theirs))
    return isinstance(theirs, float) and theirs == pytest.approx(ours, abs=1e-9)


def test_our_tasks_through_lmms_eval_equal_our_runner(small_world_dir, tmp_path):
    """Every metric of the four suite tasks, for a reference adapter run by lmms-eval (model `acpo`, found through
    the lmms_eval.models entry point) on the exported folder, equals acpo-bench's own runner on the same clips."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    clips = load_clips(small_world_dir).head(CLIPS)
    ours = evaluate(VisualPrior(), TASKS, clips, EvalConfig(scoring="generate", n_resamples=10), show_progress=False)
    names = export(TASKS, clips, tmp_path / "export")
    results = simple_evaluate(model="acpo", model_args="model=visual-prior", tasks=names,
                              task_manager=TaskManager(include_path=str(tmp_path / "export")), bootstrap_iters=0,
                              log_samples=False)["results"]
    compared = 0
    for name, outcome in ours.tasks.items():
        block = results[f"acpo_{name}"]
        for metric, value in outcome.summary.metrics.items():
            assert same(value.value, block[f"{metric},none"]), (name, metric, value.value, block[f"{metric},none"])
            compared += 1
    assert compared > 50
    assert ours.tasks["swapped_audio"].summary.metrics["vahr_yn"].value == 1.0  # not a trivial all-zero match


def test_lmms_eval_models_in_our_runner(small_world_dir, tmp_path):
    """`--model lmms:<name>`: lmms-eval's dummy model answering "No." scores exactly as our `blind` adapter; our own
    adapter behind lmms-eval (`lmms:acpo`) scores exactly as when called directly."""
    def run(model, out, *extra):
        assert main(["eval", "--model", model, "--tasks", "core", "--data", str(small_world_dir), "--limit",
                     str(CLIPS), "--quiet", "--output-dir", str(tmp_path / out), "--scoring", "generate",
                     *extra]) == 0
        results = load_results(tmp_path / out)
        return {t: {m: v["value"] for m, v in b["metrics"].items()} for t, b in results["tasks"].items()}

    assert run("lmms:dummy", "dummy", "--model-args", "response=No.") == run("blind", "blind")
    assert run("lmms:acpo", "bridged", "--model-args", "model=visual-prior") == run("visual-prior", "direct")
