"""The gate's statistics: exact McNemar size, agreement with statsmodels, Holm on a hand-worked example, the paired
clip bootstrap, and the calibration simulation of benchmarks/gate_calibration.py (paired outcomes with per-probe
difficulty): identical models are flagged at most alpha of the time, a 5-point drop on 1,000 probes >= 90%."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom
from statsmodels.stats.contingency_tables import mcnemar

from acpo_bench.leaderboard.stats import holm, mcnemar_regression_p, paired_bootstrap, regression

ALPHA = 0.05
ROOT = Path(__file__).resolve().parents[1]


def calibration():
    spec = importlib.util.spec_from_file_location("gate_calibration", ROOT / "benchmarks" / "gate_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mcnemar_exact_size_never_exceeds_alpha():
    """Under the null each discordant pair is worse/better with probability 1/2, so for every number of discordant
    pairs n the probability of p < alpha is sum over k of Binomial(n, 1/2)(k) * [p(k, n) < alpha]: exactly the
    false-alarm rate, computed without simulation; the exact test keeps it <= alpha for every n."""
    for n in range(1, 301):
        k = np.arange(n + 1)
        rejects = np.array([mcnemar_regression_p(int(w), n - int(w)) < ALPHA for w in k])
        size = binom.pmf(k, n, 0.5)[rejects].sum()
        assert size <= ALPHA + 1e-12, n
    assert mcnemar_regression_p(0, 0) == 1.0


@pytest.mark.parametrize(("worse", "better"), [(30, 10), (12, 3), (7, 0), (50, 45), (3, 9)])
def test_mcnemar_matches_statsmodels_two_sided(worse, better):
    """statsmodels' exact McNemar is two-sided: twice the smaller tail, capped at 1."""
    two_sided = mcnemar([[0, worse], [better, 0]], exact=True).pvalue
    smaller_tail = min(mcnemar_regression_p(worse, better), mcnemar_regression_p(better, worse))
    assert min(1.0, 2 * smaller_tail) == pytest.approx(two_sided)
    # by hand: P(X >= worse), X ~ Bin(n, 1/2)
    assert mcnemar_regression_p(worse, better) == pytest.approx(binom.sf(worse - 1, worse + better, 0.5))


def test_holm_hand_worked():
    """Sorted p = 0.01, 0.02, 0.04 with m = 3: 3*0.01 = 0.03, max(0.03, 2*0.02) = 0.04, max(0.04, 1*0.04) = 0.04."""
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5]) == [0.5] and holm([]) == []


def test_regression_sign():
    assert regression(0.8, 0.7, higher_is_better=True) == pytest.approx(0.1)
    assert regression(0.2, 0.3, higher_is_better=False) == pytest.approx(0.1)
    assert regression(0.2, 0.1, higher_is_better=False) == pytest.approx(-0.1)


def test_paired_bootstrap_identical_and_shifted():
    rng = np.random.default_rng(0)
    den = np.full(200, 3.0)
    base = rng.binomial(3, 0.7, 200).astype(float)
    same = paired_bootstrap(base, den, base, den, higher_is_better=True, n_resamples=500)
    assert same.p_value == 1.0 and same.delta_ci95 == (0.0, 0.0) and same.regression == 0.0
    worse = np.maximum(base - (rng.random(200) < 0.5), 0)  # about a sixth of a point per probe lost
    result = paired_bootstrap(base, den, worse, den, higher_is_better=True, n_resamples=500)
    assert result.p_value < 0.01 and result.delta_ci95[1] < 0
    assert result.regression == pytest.approx((base.sum() - worse.sum()) / den.sum())
    # the same change on a lower-is-better metric is an improvement
    assert paired_bootstrap(base, den, worse, den, higher_is_better=False, n_resamples=500).p_value > 0.99


def test_simulated_mcnemar_false_alarms_and_power():
    """2,000 simulated comparisons each (a few seconds). The exact test's false-alarm rate is <= alpha by the size
    computation above; the simulation checks the whole procedure (pairing, direction) on realistic outcomes, and
    detection of a 5-point drop on 1,000 probes (measured 0.915 with 4,000 repetitions)."""
    cal = calibration()
    null = cal.mcnemar_alarms(2000, 0.0, seed=11)
    assert null.rate <= ALPHA
    power = cal.mcnemar_alarms(2000, cal.DROP, seed=12)
    assert power.rate >= 0.90


@pytest.mark.slow
def test_simulated_clip_bootstrap_calibration():
    """The paired clip bootstrap (F1 and other ratios) on 3 correlated probes per clip: 300 comparisons each.
    Not exact, so the false-alarm bound allows two Monte-Carlo standard errors over alpha (measured 0.049 with
    1,000 repetitions); under clip-level changes it stays near alpha where McNemar, which assumes independent
    pairs, does not (benchmarks/gate_calibration.py prints both)."""
    cal = calibration()
    null = cal.bootstrap_alarms(300, 0.0, seed=21, n_resamples=600)
    assert null.rate <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / null.reps)
    power = cal.bootstrap_alarms(300, cal.DROP, seed=22, n_resamples=600)
    assert power.rate >= 0.85


def test_clustered_mcnemar_reduces_to_mcnemar_with_one_pair_per_clip():
    """With one discordant pair per clip, Durkalski's z is (w - b) / sqrt(w + b): the asymptotic McNemar test."""
    from scipy.stats import norm

    from acpo_bench.leaderboard.stats import clustered_mcnemar_regression_p

    worse, better = np.array([1] * 30 + [0] * 18), np.array([0] * 30 + [1] * 18)
    assert clustered_mcnemar_regression_p(worse, better) == pytest.approx(norm.sf((30 - 18) / np.sqrt(48)))
    assert clustered_mcnemar_regression_p(np.zeros(5), np.zeros(5)) == 1.0
    # few informative clips: exact, and equal to McNemar's exact test when each clip holds one pair
    assert clustered_mcnemar_regression_p(np.array([1, 1, 0, 1]), np.array([0, 0, 1, 0])) == pytest.approx(
        mcnemar_regression_p(3, 1))
    assert clustered_mcnemar_regression_p(np.array([3]), np.array([0])) == 0.5  # one clip is one observation


def test_clustered_mcnemar_holds_alpha_when_clips_flip_together():
    """The scenario where plain McNemar over-rejects (whole clips change between equal checkpoints)."""
    cal = calibration()
    rates = cal.clustered_mcnemar_alarms(1500, 0.0, seed=21, cluster=3, clip_level_change=1.5)
    assert rates.rate <= ALPHA + 2.5 * rates.se
    power = cal.clustered_mcnemar_alarms(800, cal.DROP, seed=22, cluster=3)
    assert power.rate >= 0.8
