"""The reference adapters' scores are exact by construction; these tests run them through the real runner."""

import pytest

from acpo_bench.models.reference import AlwaysYes, AudioOracle, Blind, VisualPrior
from acpo_bench.registry import resolve
from acpo_bench.runner import EvalConfig, evaluate
from acpo_bench.tasks import BUILTIN

# tasks on clip datasets; benchmarks with their own files (avhbench, cmm) are tested in test_benchmarks.py
TASKS = {name: task for name, target in BUILTIN.items() if (task := resolve(target)).load_data is None}


def run(adapter, world):
    outcome = evaluate(adapter, TASKS, world, EvalConfig(n_resamples=200), show_progress=False)
    return {f"{t}.{m}": v.value for t, o in outcome.tasks.items() for m, v in o.summary.metrics.items()}, outcome


@pytest.fixture(scope="module")
def oracle(small_world):
    return run(AudioOracle(), small_world)


def test_audio_oracle_is_perfect(oracle):
    metrics, outcome = oracle
    assert metrics["swapped_audio.vahr"] == 0.0
    assert metrics["swapped_audio.vahr_yn"] == 0.0 and metrics["swapped_audio.vahr_open"] == 0.0
    assert metrics["swapped_audio.audio_recall"] == 1.0 and metrics["swapped_audio.mention_precision"] == 1.0
    for setting in ("random", "popular", "adversarial"):
        assert metrics[f"sound_presence.{setting}_f1"] == 1.0
        assert metrics[f"sound_presence.{setting}_accuracy"] == 1.0
        assert metrics[f"sound_presence.{setting}_yes_ratio"] == 0.5
    assert metrics["silent_video.silent_hallucination_rate"] == 0.0
    assert metrics["silent_video.any_sound_accuracy"] == 1.0
    assert metrics["visual_presence.own_accuracy"] == 1.0 and metrics["visual_presence.swapped_accuracy"] == 1.0
    assert outcome.grounding["value"] == 1.0 and outcome.grounding["ci95"] == [1.0, 1.0]


def test_visual_prior_hears_what_it_sees(small_world):
    metrics, outcome = run(VisualPrior(), small_world)
    assert metrics["swapped_audio.vahr"] == 1.0
    assert metrics["swapped_audio.vahr_yn"] == 1.0 and metrics["swapped_audio.vahr_open"] == 1.0
    assert metrics["swapped_audio.swapped_in_accuracy"] == 0.0
    assert metrics["silent_video.silent_hallucination_rate"] == 1.0
    assert metrics["silent_video.visual_echo_rate"] == 1.0
    assert metrics["sound_presence.adversarial_precision"] < 1.0
    assert metrics["visual_presence.own_accuracy"] == 1.0 and metrics["visual_presence.swapped_accuracy"] == 1.0
    # AGS = mean(1 - 1, 1 - 1, adversarial F1)
    assert outcome.grounding["value"] == pytest.approx(metrics["sound_presence.adversarial_f1"] / 3, abs=1e-6)


def test_always_yes(small_world):
    metrics, _ = run(AlwaysYes(), small_world)
    assert metrics["swapped_audio.vahr_yn"] == 1.0 and metrics["swapped_audio.vahr_open"] == 1.0
    for setting in ("random", "popular", "adversarial"):
        assert metrics[f"sound_presence.{setting}_yes_ratio"] == 1.0
        assert metrics[f"sound_presence.{setting}_recall"] == 1.0
        assert metrics[f"sound_presence.{setting}_f1"] == pytest.approx(2 / 3)


def test_blind(small_world):
    metrics, _ = run(Blind(), small_world)
    assert metrics["swapped_audio.vahr"] == 0.0
    assert metrics["swapped_audio.invariance_yn"] == 1.0 and metrics["swapped_audio.invariance_open"] == 1.0
    assert metrics["sound_presence.adversarial_f1"] == 0.0 and metrics["sound_presence.random_yes_ratio"] == 0.0
    assert metrics["silent_video.silent_hallucination_rate"] == 0.0


def test_reference_fingerprints_differ():
    assert len({a.fingerprint() for a in (AudioOracle(), VisualPrior(), AlwaysYes(), Blind())}) == 4
