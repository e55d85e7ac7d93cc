"""ACPO loss terms on hand-worked numbers.

One pair, β = 0.5: log π_θ(y+|a) = −1.0, log π_θ(y-|a) = −2.0, log π_ref(y+|a) = log π_ref(y-|a) = −1.5,
log π_θ(y+|a') = −1.2, log π_ref(y+|a') = −1.0. So Δ(y+|a) = 0.5, Δ(y-|a) = −0.5, Δ(y+|a') = −0.2.

  sigmoid DPO: −log σ(0.5·(0.5 + 0.5)) = log(1 + e^−0.5) = 0.474077
  IPO: h = 1.0, (1.0 − 1/(2·0.5))² = 0
  hinge: max(0, 1 − 0.5·1.0) = 0.5
  input-contrastive: −log σ(0.5·(0.5 + 0.2)) = log(1 + e^−0.35) = 0.533382
  anchor: −log σ(0.5·0.5) = log(1 + e^−0.25) = 0.575939
  NLL of y+ over 4 tokens: 1.0 / 4 = 0.25
"""

import math

import pytest
import torch

from acpo_bench.training.losses import (
    LossWeights,
    SequenceLogps,
    acpo_loss,
    dpo_hinge,
    dpo_ipo,
    dpo_sigmoid,
    input_contrastive,
    nll,
    reward_anchor,
)

T = torch.tensor
PAIR = dict(policy_chosen=T([-1.0]), policy_rejected=T([-2.0]), ref_chosen=T([-1.5]), ref_rejected=T([-1.5]))
LOGPS = SequenceLogps(chosen=T([-1.0]), rejected=T([-2.0]), chosen_swapped=T([-1.2]), ref_chosen=T([-1.5]),
                      ref_rejected=T([-1.5]), ref_chosen_swapped=T([-1.0]), chosen_tokens=T([4]))


def test_dpo_variants():
    sigmoid = dpo_sigmoid(**PAIR, beta=0.5)
    assert sigmoid.losses.item() == pytest.approx(math.log(1 + math.exp(-0.5)), abs=1e-6) == pytest.approx(0.474077,
                                                                                                          abs=1e-6)
    assert sigmoid.chosen_rewards.item() == pytest.approx(0.25) and sigmoid.rejected_rewards.item() == -0.25
    assert sigmoid.margins.item() == pytest.approx(0.5)
    assert dpo_ipo(**PAIR, beta=0.5).losses.item() == pytest.approx(0.0, abs=1e-7)
    assert dpo_hinge(**PAIR, beta=0.5).losses.item() == pytest.approx(0.5)


def test_input_contrastive_and_anchor_and_nll():
    term = input_contrastive(T([-1.0]), T([-1.2]), T([-1.5]), T([-1.0]), beta=0.5)
    assert term.losses.item() == pytest.approx(0.533382, abs=1e-6)
    assert reward_anchor(T([-1.0]), T([-1.5]), beta=0.5).item() == pytest.approx(0.575939, abs=1e-6)
    assert nll(T([-1.0]), T([4])).item() == pytest.approx(0.25)


def test_acpo_combines_weighted_terms():
    weights = LossWeights(beta=0.5, lambda_in=2.0, reward_anchor=0.5, sft_chosen=1.0, sft_replay=0.3)
    out = acpo_loss(LOGPS, weights, replay_nll=T([0.7, 0.9]))
    expected = 0.474077 + 2.0 * 0.533382 + 0.5 * 0.575939 + 0.25 + 0.3 * 0.8
    assert out.loss.item() == pytest.approx(expected, abs=1e-5)
    assert set(out.terms) >= {"loss_out", "loss_in", "loss_anchor", "loss_sft_chosen", "loss_sft_replay",
                              "margin_out", "margin_in", "acc_out", "acc_in"}
    assert out.terms["margin_in"].item() == pytest.approx(0.35)


def test_lambda_zero_and_no_extras_is_exactly_dpo():
    for variant, fn in (("sigmoid", dpo_sigmoid), ("ipo", dpo_ipo), ("hinge", dpo_hinge)):
        out = acpo_loss(LOGPS, LossWeights(beta=0.5, output_loss=variant, lambda_in=0.0))
        assert out.loss.item() == fn(**PAIR, beta=0.5).losses.mean().item()
        assert "loss_in" not in out.terms


def test_gradients_push_the_right_way():
    chosen = T([-1.0], requires_grad=True)
    swapped = T([-1.2], requires_grad=True)
    logps = LOGPS._replace(chosen=chosen, chosen_swapped=swapped)
    acpo_loss(logps, LossWeights(beta=0.5, lambda_in=1.0)).loss.backward()
    assert chosen.grad.item() < 0 < swapped.grad.item(), "raise log π(y+|a), lower log π(y+|a')"


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="output_loss"):
        LossWeights(output_loss="kto")
    with pytest.raises(ValueError, match="replay batch"):
        acpo_loss(LOGPS, LossWeights(sft_replay=1.0))


def test_input_contrastive_breakdown_by_contrast_track():
    """Two pairs: the first as above (loss 0.533382, margin 0.5·(0.5 + 0.2) = 0.35, won), the second with
    Δ(y+|a) = Δ(y+|a') = 0.5 (loss log 2 = 0.693147, margin 0, not won). The objective averages both; the
    breakdown keeps each pair under its own contrast track."""
    logps = SequenceLogps(chosen=T([-1.0, -1.0]), rejected=T([-2.0, -2.0]), chosen_swapped=T([-1.2, -0.5]),
                          ref_chosen=T([-1.5, -1.5]), ref_rejected=T([-1.5, -1.5]), ref_chosen_swapped=T([-1.0, -1.0]),
                          chosen_tokens=T([4, 4]))
    out = acpo_loss(logps, LossWeights(beta=0.5), contrasts=["silence", "swap"])
    assert out.terms["loss_in"].item() == pytest.approx((0.533382 + math.log(2)) / 2, abs=1e-6)
    assert set(out.per_contrast) == {"silence", "swap"}
    assert out.per_contrast["silence"]["loss_in"].tolist() == pytest.approx([0.533382], abs=1e-6)
    assert out.per_contrast["silence"]["margin_in"].tolist() == pytest.approx([0.35], abs=1e-6)
    assert out.per_contrast["silence"]["acc_in"].tolist() == [1.0]
    assert out.per_contrast["swap"]["loss_in"].tolist() == pytest.approx([math.log(2)], abs=1e-6)
    assert out.per_contrast["swap"]["acc_in"].tolist() == [0.0]
    assert acpo_loss(logps, LossWeights(beta=0.5)).per_contrast == {}
    with pytest.raises(ValueError, match="3 contrast kinds for 2 pairs"):
        acpo_loss(logps, LossWeights(beta=0.5), contrasts=["swap"] * 3)
