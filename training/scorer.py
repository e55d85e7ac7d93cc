"""Answer log-probabilities of a thinker, as one module that DDP can wrap.

``AnswerScorer.forward`` runs the thinker on a batch whose clips are encoded once each and returns, per row, the
summed log-probability of the answer tokens (labels != -100) and their count. The LM head is applied only at answer
positions: no full-vocabulary logits for the prompt, which at 7B size would dominate memory.
"""

from __future__ import annotations

import torch
from torch import nn

from acpo_bench.models.qwen_omni.features import DistinctMedia, forward_hidden


class AnswerScorer(nn.Module):
    def __init__(self, thinker: nn.Module, video_token_id: int, audio_token_id: int) -> None:
        super().__init__()
        self.thinker = thinker
        self.video_token_id = video_token_id
        self.audio_token_id = audio_token_id

    @property
    def base(self) -> nn.Module:
        """The thinker itself (under peft, its base model with the LoRA layers injected)."""
        return self.thinker.get_base_model() if hasattr(self.thinker, "get_base_model") else self.thinker

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                media: DistinctMedia) -> tuple[torch.Tensor, torch.Tensor]:
        thinker = self.base
        hidden = forward_hidden(thinker, input_ids, attention_mask, media, self.video_token_id, self.audio_token_id)
        # position t predicts token t+1
        targets = labels[:, 1:]
        mask = targets != -100
        rows, cols = mask.nonzero(as_tuple=True)
        logits = thinker.lm_head(hidden[:, :-1][rows, cols]).float()
        token_logps = logits.log_softmax(-1).gather(-1, targets[rows, cols].unsqueeze(-1)).squeeze(-1)
        sums = torch.zeros(input_ids.shape[0], dtype=token_logps.dtype, device=token_logps.device)
        sums = sums.index_add(0, rows, token_logps)
        return sums, mask.sum(-1)
