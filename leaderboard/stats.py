"""Paired statistics for comparing two runs on the same probes: one-sided tests of regression, Holm's correction,
and the paired clip bootstrap that also gives the leaderboard its Δ confidence intervals.

Convention: ``regression`` is how much worse the candidate is, in the metric's own units, signed by its direction:
``baseline - candidate`` for a higher-is-better metric, ``candidate - baseline`` for a lower-is-better one. The null
hypothesis of every test is "no regression" (regression <= 0); small p-values are evidence that the candidate got
worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest, norm
from statsmodels.stats.multitest import multipletests

DEFAULT_RESAMPLES = 10_000
EXACT_CLUSTERS = 16  # up to this many clips with a discordance, the clustered McNemar p-value is exact


def regression(baseline: float, candidate: float, higher_is_better: bool) -> float:
    return baseline - candidate if higher_is_better else candidate - baseline


def mcnemar_regression_p(worse: int, better: int) -> float:
    """Exact one-sided McNemar test on paired binary outcomes.

    ``worse``: pairs where the baseline had the good outcome and the candidate the bad one; ``better``: the reverse.
    Concordant pairs carry no information. Under the null, each discordant pair is worse or better with probability
    1/2, so p = P(X >= worse), X ~ Binomial(worse + better, 1/2): McNemar's exact (conditional) test, one-sided.
    statsmodels' ``mcnemar(exact=True)`` is the two-sided version of the same binomial test.
    """
    n = worse + better
    if n == 0:  # identical outcomes on every pair: no evidence of anything
        return 1.0
    return float(binomtest(worse, n, 0.5, alternative="greater").pvalue)


def clustered_mcnemar_regression_p(worse: np.ndarray, better: np.ndarray) -> float:
    """One-sided McNemar test for clustered matched pairs (Durkalski, Palesch, Lipsitz & Rust 2003, Stat Med 22).

    ``worse``/``better`` are per-clip counts of discordant pairs. A clip asks several correlated questions (three
    paraphrases at least), so its discordant pairs are not independent and the plain McNemar test over-rejects when
    checkpoints change their mind about whole clips. Durkalski's statistic uses the clip-level differences:
    z = Σ_k (w_k − b_k) / sqrt(Σ_k (w_k − b_k)²), normal under the null; with one pair per clip it is the usual
    asymptotic McNemar statistic. With few informative clips the normal tail is poor, so up to EXACT_CLUSTERS of them
    the p-value is the exact sign-flip distribution of Σ_k (w_k − b_k) instead. No maintained library implements
    either (statsmodels' mcnemar assumes independent pairs).
    """
    diff = np.asarray(worse, dtype=float) - np.asarray(better, dtype=float)
    diff = diff[diff != 0]
    if diff.size == 0:
        return 1.0
    if diff.size <= EXACT_CLUSTERS:
        # few informative clips: the exact sign-flip (randomization) test of the same statistic; with one pair per
        # clip it is exactly McNemar's exact test
        signs = 1 - 2 * ((np.arange(2**diff.size)[:, None] >> np.arange(diff.size)) & 1)
        return float(np.mean(signs @ diff >= diff.sum() - 1e-9))
    return float(norm.sf(diff.sum() / np.sqrt(np.sum(diff**2))))


class BootstrapResult(NamedTuple):
    regression: float  # point estimate on the paired data
    p_value: float  # one-sided, H0: regression <= 0
    delta_ci95: tuple[float, float] | None  # percentile CI of candidate - baseline


def clip_weights(n_clips: int, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of clips as multinomial counts (n_resamples x n_clips)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clips, np.full(n_clips, 1.0 / n_clips), size=n_resamples).astype(np.float64)


def paired_bootstrap(base_num: np.ndarray, base_den: np.ndarray, cand_num: np.ndarray, cand_den: np.ndarray,
                     higher_is_better: bool, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> BootstrapResult:
    """Paired cluster bootstrap of a ratio metric's change.

    Inputs are per-clip sums (aligned: index i is the same clip in both runs) of the metric's per-sample
    contributions, so metric = Σnum / Σden. Each resample draws clips with replacement and recomputes both runs'
    metric on the *same* clips, which keeps the pairing and the within-clip correlation of paraphrases and questions.
    p = (1 + #{resamples with regression <= 0}) / (1 + #finite resamples): the percentile-bootstrap p-value (the
    smallest one-sided level at which the bootstrap interval excludes "no regression"), never exactly 0.
    """
    base = base_num.sum() / base_den.sum()
    cand = cand_num.sum() / cand_den.sum()
    point = regression(base, cand, higher_is_better)
    weights = clip_weights(len(base_num), n_resamples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = (weights @ cand_num) / (weights @ cand_den) - (weights @ base_num) / (weights @ base_den)
    delta = delta[np.isfinite(delta)]  # a resample can miss every clip that has a denominator
    if delta.size == 0:
        return BootstrapResult(float(point), 1.0, None)
    reg = -delta if higher_is_better else delta
    p = (1 + np.count_nonzero(reg <= 0)) / (1 + delta.size)
    lo, hi = np.percentile(delta, [2.5, 97.5])
    return BootstrapResult(float(point), float(p), (float(lo), float(hi)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error rate across the gated metrics)."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), method="holm")[1]]
