"""Is the regression gate's statistics right? Simulated paired runs with per-probe difficulty.

    .venv/bin/python benchmarks/gate_calibration.py [--reps 4000] [--seed 0]

Each simulated probe has a difficulty d_i ~ N(0, 1.5²) on the logit scale; a model of ability θ answers it
correctly with probability sigmoid(θ - d_i), independently per run. Two runs of one model are therefore correlated
through the probes (an easy probe is easy for both), which is what makes paired tests sharper than unpaired ones.

Scenarios (1,000 yes/no probes; the baseline is 80% correct; with SD 1.5 two equally good checkpoints agree on
only 76% of the probes, a pessimistic pairing: real checkpoints of one model agree more, and the tests gain power):
- null: the candidate has the same ability (two equally good checkpoints) -> how often the gate cries wolf;
- regression: the candidate's ability is lowered until its expected accuracy is 5 points less -> how often it's caught;
both through McNemar's exact test (binary outcomes) and through the paired clip bootstrap (used for F1 and other
ratios), the latter on 334 clips of 3 probes whose clip difficulties are shared (paraphrases of one question).
A last scenario shows what McNemar assumes: with clip-level changes between checkpoints (all paraphrases of a clip
flip together) its false-alarm rate exceeds alpha, while the clip bootstrap stays calibrated.
The pytest suite (tests/test_gate_stats.py) runs the same functions with fewer repetitions.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from acpo_bench.leaderboard.stats import clustered_mcnemar_regression_p, mcnemar_regression_p, paired_bootstrap

N_PROBES = 1000
BASE_ACCURACY = 0.80
DROP = 0.05
DIFFICULTY_SD = 1.5
ALPHA = 0.05


class Rates(NamedTuple):
    alarms: int
    reps: int

    @property
    def rate(self) -> float:
        return self.alarms / self.reps

    @property
    def se(self) -> float:
        return float(np.sqrt(self.rate * (1 - self.rate) / self.reps))

    def __str__(self) -> str:
        return f"{self.rate:.4f} ± {self.se:.4f} ({self.alarms}/{self.reps})"


def ability_for(accuracy: float, difficulty: np.ndarray) -> float:
    """θ with mean(sigmoid(θ - d)) == accuracy on these difficulties."""
    return brentq(lambda t: expit(t - difficulty).mean() - accuracy, -20, 20)


def simulate_pairs(rng: np.random.Generator, drop: float, n_probes: int = N_PROBES, cluster: int = 1,
                   clip_level_change: float = 0.0, difficulty_sd: float = DIFFICULTY_SD
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(baseline correct, candidate correct, clip index) for one simulated comparison.

    ``cluster`` probes share one clip difficulty (paraphrases). ``clip_level_change`` > 0 adds a per-clip,
    per-run logit shift of that SD, identical for the probes of one clip: checkpoints that change their mind about a
    whole clip, on average no better and no worse.
    """
    n_clips = -(-n_probes // cluster)
    clip = np.repeat(np.arange(n_clips), cluster)[:n_probes]
    difficulty = rng.normal(0, difficulty_sd, n_clips)[clip]
    theta_b = ability_for(BASE_ACCURACY, difficulty)
    theta_c = theta_b if drop == 0 else ability_for(BASE_ACCURACY - drop, difficulty)
    shift_b = rng.normal(0, clip_level_change, n_clips)[clip] if clip_level_change else 0.0
    shift_c = rng.normal(0, clip_level_change, n_clips)[clip] if clip_level_change else 0.0
    base = rng.random(n_probes) < expit(theta_b - difficulty + shift_b)
    cand = rng.random(n_probes) < expit(theta_c - difficulty + shift_c)
    return base, cand, clip


def mcnemar_alarms(reps: int, drop: float, seed: int, alpha: float = ALPHA, **kw) -> Rates:
    """How often the one-sided exact McNemar test (the gate's binary test, one metric) flags a regression."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(reps):
        base, cand, _clip = simulate_pairs(rng, drop, **kw)
        worse, better = int((base & ~cand).sum()), int((~base & cand).sum())
        alarms += mcnemar_regression_p(worse, better) < alpha and worse > better
    return Rates(alarms, reps)


def clustered_mcnemar_alarms(reps: int, drop: float, seed: int, alpha: float = ALPHA, cluster: int = 3,
                             **kw) -> Rates:
    """How often the clip-clustered McNemar test (the gate's binary test when clips hold several probes) flags."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(reps):
        base, cand, clip = simulate_pairs(rng, drop, cluster=cluster, **kw)
        n_clips = int(clip.max()) + 1
        worse = np.bincount(clip, weights=base & ~cand, minlength=n_clips)
        better = np.bincount(clip, weights=~base & cand, minlength=n_clips)
        alarms += clustered_mcnemar_regression_p(worse, better) < alpha and worse.sum() > better.sum()
    return Rates(alarms, reps)


def bootstrap_alarms(reps: int, drop: float, seed: int, alpha: float = ALPHA, n_resamples: int = 1000,
                     cluster: int = 3, **kw) -> Rates:
    """How often the paired clip bootstrap (the gate's test for non-binary metrics) flags a regression."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for rep in range(reps):
        base, cand, clip = simulate_pairs(rng, drop, cluster=cluster, **kw)
        n_clips = int(clip.max()) + 1
        ones = np.bincount(clip, minlength=n_clips).astype(float)
        result = paired_bootstrap(np.bincount(clip, weights=base, minlength=n_clips), ones,
                                  np.bincount(clip, weights=cand, minlength=n_clips), ones,
                                  higher_is_better=True, n_resamples=n_resamples, seed=seed * 100_003 + rep)
        alarms += result.p_value < alpha and result.regression > 0
    return Rates(alarms, reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=4000, help="simulated comparisons per McNemar scenario")
    parser.add_argument("--bootstrap-reps", type=int, default=1000, help="per bootstrap scenario (slower)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{N_PROBES} paired yes/no probes, baseline accuracy {BASE_ACCURACY}, difficulty SD {DIFFICULTY_SD} "
          f"(logit), alpha {ALPHA}, one metric gated")
    print(f"McNemar, identical models (false-alarm rate):       {mcnemar_alarms(args.reps, 0.0, args.seed)}")
    print(f"McNemar, planted {DROP:.0%} regression (detection):     {mcnemar_alarms(args.reps, DROP, args.seed + 1)}")
    print(f"McNemar, 5-point drop, one of 4 gated (Bonferroni bound): "
          f"{mcnemar_alarms(args.reps, DROP, args.seed + 1, alpha=ALPHA / 4)}")
    print("detection of the 5-point regression vs how strongly the probes' difficulty pairs the runs:")
    for sd in (0.0, 1.0, 2.0, 3.0):
        d = np.random.default_rng(args.seed).normal(0, sd, 100_000)
        p = expit(ability_for(BASE_ACCURACY, d) - d)
        agreement = 1 - float(np.mean(2 * p * (1 - p)))
        print(f"  difficulty SD {sd:.1f} (equal checkpoints agree on {agreement:.0%} of probes): "
              f"{mcnemar_alarms(args.reps // 4, DROP, args.seed + 6, difficulty_sd=sd)}")
    b = args.bootstrap_reps
    print(f"clip bootstrap, 3 probes/clip, identical models:   {bootstrap_alarms(b, 0.0, args.seed + 2)}")
    print(f"clip bootstrap, 3 probes/clip, 5-point regression: {bootstrap_alarms(b, DROP, args.seed + 3)}")
    print("clip-level changes (SD 1.5 logit per clip and run), 3 probes/clip, identical models:")
    print(f"  McNemar (assumes independent pairs):             "
          f"{mcnemar_alarms(args.reps, 0.0, args.seed + 4, cluster=3, clip_level_change=1.5)}")
    print(f"  clip bootstrap:                                  "
          f"{bootstrap_alarms(b, 0.0, args.seed + 5, clip_level_change=1.5)}")
    print(f"  clip-clustered McNemar (the gate's binary test): "
          f"{clustered_mcnemar_alarms(args.reps, 0.0, args.seed + 7, clip_level_change=1.5)}")
    print(f"clip-clustered McNemar, 3 probes/clip, 5-point regression: "
          f"{clustered_mcnemar_alarms(args.reps, DROP, args.seed + 8)}")


if __name__ == "__main__":
    main()
