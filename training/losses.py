"""ACPO's loss terms as small pure functions of sequence log-probabilities.

Notation (design.md, "ACPO"): for prompt q, video v, audio a, swapped audio a', audio-faithful answer y+ and
visual-masquerade answer y-, Δ(y|c) = log π_θ(y|c) − log π_ref(y|c), each a sum over the answer's tokens.

    output-contrastive  L_out = −log σ(β[Δ(y+|v,a,q) − Δ(y-|v,a,q)])      (DPO; ipo and hinge variants)
    input-contrastive   L_in  = −log σ(β[Δ(y+|v,a,q) − Δ(y+|v,a',q)])      (a' another clip's track, silence
                                                                          or the noise floor: the same formula)
    reward anchor             −log σ(β·Δ(y+|v,a,q))                          (mDPO's anchor)
    sft_chosen                NLL of y+;  sft_replay: NLL on a separate stream of congruent questions

Every function returns per-example values; reductions and weights belong to the caller (``acpo_loss``). The DPO
variants follow TRL's DPOTrainer (trl/trainer/dpo_trainer.py, loss_type "sigmoid", "ipo", "hinge"); a test checks
our sigmoid value against TRL's on the same model, pairs and reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F


class PreferenceTerm(NamedTuple):
    losses: torch.Tensor  # (batch,)
    chosen_rewards: torch.Tensor  # β·Δ of the preferred side
    rejected_rewards: torch.Tensor  # β·Δ of the other side

    @property
    def margins(self) -> torch.Tensor:
        return self.chosen_rewards - self.rejected_rewards


def _rewards(beta: float, policy_a, ref_a, policy_b, ref_b) -> tuple[torch.Tensor, torch.Tensor]:
    return beta * (policy_a - ref_a), beta * (policy_b - ref_b)


def dpo_sigmoid(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
                ref_rejected: torch.Tensor, beta: float) -> PreferenceTerm:
    """−log σ(β[Δ(y+) − Δ(y-)]) (Rafailov et al. 2023, eq. 7)."""
    chosen, rejected = _rewards(beta, policy_chosen, ref_chosen, policy_rejected, ref_rejected)
    return PreferenceTerm(-F.logsigmoid(chosen - rejected), chosen, rejected)


def dpo_ipo(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
            ref_rejected: torch.Tensor, beta: float) -> PreferenceTerm:
    """(h − 1/(2β))² with h = Δ(y+) − Δ(y-) (Azar et al. 2023, eq. 17)."""
    chosen, rejected = _rewards(beta, policy_chosen, ref_chosen, policy_rejected, ref_rejected)
    h = (chosen - rejected) / beta
    return PreferenceTerm((h - 1 / (2 * beta)) ** 2, chosen, rejected)


def dpo_hinge(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
              ref_rejected: torch.Tensor, beta: float) -> PreferenceTerm:
    """max(0, 1 − β·h) (SLiC, Zhao et al. 2023)."""
    chosen, rejected = _rewards(beta, policy_chosen, ref_chosen, policy_rejected, ref_rejected)
    return PreferenceTerm(torch.relu(1 - (chosen - rejected)), chosen, rejected)


OUTPUT_LOSSES = {"sigmoid": dpo_sigmoid, "ipo": dpo_ipo, "hinge": dpo_hinge}


def input_contrastive(policy_chosen: torch.Tensor, policy_chosen_swapped: torch.Tensor, ref_chosen: torch.Tensor,
                      ref_chosen_swapped: torch.Tensor, beta: float) -> PreferenceTerm:
    """−log σ(β[Δ(y+|a) − Δ(y+|a')]): the faithful answer must become likelier under the true audio than under a
    swapped track, so answers that ignore the audio are penalised."""
    return dpo_sigmoid(policy_chosen, policy_chosen_swapped, ref_chosen, ref_chosen_swapped, beta)


def by_contrast(term: PreferenceTerm, contrasts: Sequence[str]) -> dict[str, dict[str, torch.Tensor]]:
    """An input-contrastive term's per-pair loss, margin and win (margin > 0) grouped by the kind of the pair's
    contrast track (``contrasts[i]`` of pair i: "swap", "silence", "noise", "own"), so each kind can be logged
    apart; the objective itself averages over every pair."""
    if len(contrasts) != len(term.losses):
        raise ValueError(f"{len(contrasts)} contrast kinds for {len(term.losses)} pairs")
    groups = {}
    for kind in dict.fromkeys(contrasts):
        mask = torch.tensor([c == kind for c in contrasts], device=term.losses.device)
        margins = term.margins[mask].detach()
        groups[kind] = {"loss_in": term.losses[mask].detach(), "margin_in": margins, "acc_in": (margins > 0).float()}
    return groups


def reward_anchor(policy_chosen: torch.Tensor, ref_chosen: torch.Tensor, beta: float) -> torch.Tensor:
    """−log σ(β·Δ(y+)): keeps the chosen answer's likelihood from falling with the rejected one's (mDPO)."""
    return -F.logsigmoid(beta * (policy_chosen - ref_chosen))


def nll(logp_sum: torch.Tensor, token_counts: torch.Tensor) -> torch.Tensor:
    """Mean per-token negative log-likelihood of each sequence (sft_chosen and sft_replay)."""
    return -logp_sum / token_counts.clamp(min=1)


@dataclass(frozen=True)
class LossWeights:
    """Which terms enter L = w_out·L_out + λ_in·L_in + w_anchor·anchor + w_sft·NLL(y+) + w_replay·NLL(replay)."""

    beta: float = 0.5
    output_loss: str = "sigmoid"
    output_weight: float = 1.0
    lambda_in: float = 1.0
    reward_anchor: float = 0.0
    sft_chosen: float = 0.0
    sft_replay: float = 0.0

    def __post_init__(self) -> None:
        if self.output_loss not in OUTPUT_LOSSES:
            raise ValueError(f"output_loss {self.output_loss!r}: use one of {sorted(OUTPUT_LOSSES)}")
        if self.beta <= 0:
            raise ValueError("beta must be > 0")


class SequenceLogps(NamedTuple):
    """Summed answer log-probs of the three policy sequences and their references, per pair."""

    chosen: torch.Tensor  # log π_θ(y+|a)
    rejected: torch.Tensor  # log π_θ(y-|a)
    chosen_swapped: torch.Tensor  # log π_θ(y+|a')
    ref_chosen: torch.Tensor
    ref_rejected: torch.Tensor
    ref_chosen_swapped: torch.Tensor
    chosen_tokens: torch.Tensor  # answer length of y+


class ACPOLoss(NamedTuple):
    loss: torch.Tensor  # scalar
    terms: dict[str, torch.Tensor]  # every term and reward margin, batch means, for logging
    # contrast kind -> {"loss_in", "margin_in", "acc_in"}: per-pair values (``by_contrast``), when kinds were given
    per_contrast: dict[str, dict[str, torch.Tensor]]


def acpo_loss(logps: SequenceLogps, weights: LossWeights, replay_nll: torch.Tensor | None = None,
              contrasts: Sequence[str] | None = None) -> ACPOLoss:
    """The ACPO objective; with lambda_in = 0 and no extra terms it is exactly the chosen DPO variant.
    ``contrasts`` (each pair's contrast kind) adds the input-contrastive term's breakdown by kind."""
    per_contrast: dict[str, dict[str, torch.Tensor]] = {}
    out = OUTPUT_LOSSES[weights.output_loss](logps.chosen, logps.rejected, logps.ref_chosen, logps.ref_rejected,
                                             weights.beta)
    total = weights.output_weight * out.losses.mean()
    terms = {"loss_out": out.losses.mean(), "margin_out": out.margins.mean(),
             "reward_chosen": out.chosen_rewards.mean(), "reward_rejected": out.rejected_rewards.mean(),
             "acc_out": (out.margins > 0).float().mean()}
    if weights.lambda_in:
        inp = input_contrastive(logps.chosen, logps.chosen_swapped, logps.ref_chosen, logps.ref_chosen_swapped,
                                weights.beta)
        total = total + weights.lambda_in * inp.losses.mean()
        terms.update(loss_in=inp.losses.mean(), margin_in=inp.margins.mean(), acc_in=(inp.margins > 0).float().mean())
        if contrasts is not None:
            per_contrast = by_contrast(inp, contrasts)
    if weights.reward_anchor:
        anchor = reward_anchor(logps.chosen, logps.ref_chosen, weights.beta).mean()
        total = total + weights.reward_anchor * anchor
        terms["loss_anchor"] = anchor
    if weights.sft_chosen:
        sft = nll(logps.chosen, logps.chosen_tokens).mean()
        total = total + weights.sft_chosen * sft
        terms["loss_sft_chosen"] = sft
    if weights.sft_replay:
        if replay_nll is None:
            raise ValueError("sft_replay > 0 needs a replay batch")
        total = total + weights.sft_replay * replay_nll.mean()
        terms["loss_sft_replay"] = replay_nll.mean()
    return ACPOLoss(total, {k: v.detach() for k, v in terms.items()}, per_contrast)
