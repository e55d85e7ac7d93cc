"""Audio-visual contrastive decoding: a training-free baseline against video-driven audio hallucination.

In the spirit of VCD (Leng et al., CVPR 2024) and AVCD (NeurIPS 2025): the next-token distribution given the full
input is contrasted with the one given the same input with its audio evidence removed (the track silenced), so
that what the model would say anyway, from the picture and the prompt alone, loses weight:

    cd(y) = (1 + α)·log p(y | v, a, q) − α·log p(y | v, silence, q)

restricted to the plausible tokens under the full input (the adaptive plausibility cut-off):
p(y | v, a, q) ≥ β·max_y' p(y' | v, a, q); every other token gets −inf. α = 0 is plain greedy decoding.
Written here because transformers offers no two-input contrast: its generate() takes one input per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DECODINGS = ("greedy", "contrastive")


@dataclass(frozen=True)
class ContrastiveSettings:
    alpha: float = 1.0
    beta: float = 0.1

    def __post_init__(self) -> None:
        if not (self.alpha >= 0 and self.alpha < float("inf")):
            raise ValueError(f"--model-args alpha={self.alpha}: the contrast weight must be a finite number >= 0")
        if not 0 < self.beta <= 1:
            raise ValueError(f"--model-args beta={self.beta}: the plausibility cut-off must lie in (0, 1]")

    @classmethod
    def from_model_args(cls, model_args: dict[str, str]) -> ContrastiveSettings | None:
        """The settings named by ``decoding=contrastive,alpha=A,beta=B``; None for ``decoding=greedy``."""
        decoding = model_args.get("decoding", "greedy")
        if decoding not in DECODINGS:
            raise ValueError(f"--model-args decoding={decoding!r}: use one of {', '.join(DECODINGS)}")
        if decoding == "greedy":
            stray = sorted({"alpha", "beta"} & set(model_args))
            if stray:
                raise ValueError(f"--model-args {', '.join(stray)}: only used with decoding=contrastive")
            return None
        try:
            return cls(alpha=float(model_args.get("alpha", 1.0)), beta=float(model_args.get("beta", 0.1)))
        except (TypeError, ValueError) as exc:
            if "--model-args" in str(exc):
                raise
            raise ValueError(f"--model-args alpha/beta: numbers, e.g. alpha=1.0,beta=0.1 ({exc})") from None


def contrastive_logprobs(full: torch.Tensor, contrast: torch.Tensor, settings: ContrastiveSettings,
                         plausibility: bool = True) -> torch.Tensor:
    """Log-probs of the contrasted distribution, rows of ``full`` against rows of ``contrast`` (both logits or
    log-probs over the vocabulary, shape (n, V)); ``plausibility=False`` leaves out the cut-off."""
    full = full.float().log_softmax(-1)
    contrast = contrast.float().log_softmax(-1)
    scores = (1 + settings.alpha) * full - settings.alpha * contrast
    if plausibility:
        cutoff = full.max(dim=-1, keepdim=True).values + math.log(settings.beta)
        scores = scores.masked_fill(full < cutoff, float("-inf"))
    return scores.log_softmax(-1)


class ContrastiveLogits:
    """A generate() logits processor for a batch of 2n rows, the n full inputs then their n contrast inputs: both
    halves get the contrasted scores, so greedy decoding picks the same token for a row and its contrast, and the
    contrast branch goes on conditioned on what was really said (as VCD decodes)."""

    def __init__(self, settings: ContrastiveSettings) -> None:
        self.settings = settings

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n = scores.shape[0] // 2
        contrasted = contrastive_logprobs(scores[:n], scores[n:], self.settings).to(scores.dtype)
        return torch.cat([contrasted, contrasted])
