"""Answer log-probabilities of a thinker, as one module that DDP can wrap.

``AnswerScorer.forward`` runs the thinker on a batch whose clips are encoded once each and returns, per row, the
summed log-probability of the answer tokens and their count. The LM head is applied only at answer positions: no
full-vocabulary logits for the prompt, which at 7B size would dominate memory.

Rows that share everything before their answers (y+|a and y-|a of a pair: the same clip, audio and prompt) are
packed by :func:`pack_rows` into one sequence [prompt | answer 1 | answer 2 ...] whose attention mask lets each
answer see the prompt and itself only, each answer at the positions it has alone: the ~1,500-token prompt of a
real-size clip runs once for both answers, which is the same computation as two rows (tests check the log-probs
equal the unpacked rows'). Three ACPO sequences then cost about what DPO's two do.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from torch import nn

from acpo_bench.models.qwen_omni.features import DistinctMedia, encode_media, forward_hidden


def pack_rows(prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]], groups: Sequence[Hashable],
              pad_id: int) -> tuple[dict[str, torch.Tensor], list[int]]:
    """Rows ``prompts[i] + answers[i]`` packed by (group, prompt): rows with equal ``groups[i]`` (their media) and
    equal prompts share one sequence. Returns the packed batch (right-padded ``input_ids``, ``attention_mask`` of
    real tokens, ``segment`` (0 prompt, k for the k-th answer, -1 padding), ``position_shift`` (what to subtract
    from the positions of a plain left-to-right row so each answer starts where it would alone), and the answer
    tokens to score: ``target_rows``/``target_cols`` (the hidden state that predicts each), ``target_ids`` and
    ``target_owner`` (the row it belongs to)), and for every packed sequence the index of its first row."""
    packs: dict[tuple, list[int]] = {}
    for i, (prompt, group) in enumerate(zip(prompts, groups, strict=True)):
        packs.setdefault((group, tuple(prompt)), []).append(i)
    members = list(packs.values())
    lengths = [len(prompts[m[0]]) + sum(len(answers[i]) for i in m) for m in members]
    width = max(lengths)
    ids = torch.full((len(members), width), pad_id, dtype=torch.long)
    segment = torch.full((len(members), width), -1, dtype=torch.long)
    shift = torch.zeros((len(members), width), dtype=torch.long)
    rows, cols, targets, owner = [], [], [], []
    for p, rows_in in enumerate(members):
        prompt = list(prompts[rows_in[0]])
        ids[p, :len(prompt)] = torch.tensor(prompt, dtype=torch.long)
        segment[p, :len(prompt)] = 0
        at = len(prompt)
        for k, i in enumerate(rows_in, start=1):
            answer = list(answers[i])
            ids[p, at:at + len(answer)] = torch.tensor(answer, dtype=torch.long)
            segment[p, at:at + len(answer)] = k
            shift[p, at:at + len(answer)] = at - len(prompt)
            # answer token t is predicted by the prompt's last token (t = 0) or by answer token t - 1
            predictors = [len(prompt) - 1] + list(range(at, at + len(answer) - 1))
            rows += [p] * len(answer)
            cols += predictors
            targets += answer
            owner += [i] * len(answer)
            at += len(answer)
    batch = {"input_ids": ids, "attention_mask": (segment >= 0).long(), "segment": segment, "position_shift": shift,
             "target_rows": torch.tensor(rows, dtype=torch.long), "target_cols": torch.tensor(cols, dtype=torch.long),
             "target_ids": torch.tensor(targets, dtype=torch.long),
             "target_owner": torch.tensor(owner, dtype=torch.long), "n_rows": torch.tensor(len(prompts))}
    return batch, [m[0] for m in members]


def tree_mask(segment: torch.Tensor, dtype: torch.dtype, boolean: bool) -> torch.Tensor:
    """(batch, 1, length, length) mask: a token sees earlier prompt tokens and earlier tokens of its own answer."""
    length = segment.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment.device).tril()
    key, query = segment[:, None, :], segment[:, :, None]
    allowed = causal & (key >= 0) & ((key == 0) | (key == query))
    # a padding query sees itself, so no row of the mask is empty (its output is never read)
    allowed |= torch.eye(length, dtype=torch.bool, device=segment.device) & (query < 0)
    if boolean:
        return allowed[:, None]
    return torch.zeros(allowed.shape, dtype=dtype, device=segment.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)[:, None]


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

    def towers_frozen(self) -> bool:
        """No tower parameter trains (LoRA on the language model): tower outputs can be shared with a reference
        whose towers are the same weights."""
        base = self.base.model
        return not any(p.requires_grad for tower in (base.visual, base.audio_tower) for p in tower.parameters())

    def encode(self, media: DistinctMedia) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The batch's tower outputs, for :meth:`forward`'s ``encoded`` (no gradient: for frozen towers)."""
        with torch.no_grad():
            return encode_media(self.base, media)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None,
                media: DistinctMedia, packing: dict[str, torch.Tensor] | None = None,
                encoded: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] | None = None,
                position_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per row, the summed answer log-prob and the answer length. Plain rows mark their answers in ``labels``
        (-100 elsewhere), optionally with their rope ``position_ids`` computed before (RopeIndex); packed rows
        (:func:`pack_rows`) come with ``packing`` and ``labels=None``."""
        thinker = self.base
        if packing is None:
            targets = labels[:, 1:]
            rows, cols = (targets != -100).nonzero(as_tuple=True)
            target_ids, owner, n_rows = targets[rows, cols], rows, input_ids.shape[0]
            hidden = forward_hidden(thinker, input_ids, attention_mask, media, self.video_token_id,
                                    self.audio_token_id, encoded, position_ids=position_ids)
        else:
            rows, cols = packing["target_rows"], packing["target_cols"]
            target_ids, owner, n_rows = packing["target_ids"], packing["target_owner"], int(packing["n_rows"])
            positions = packing.get("plain_positions")  # the collator's, from a RopeIndex
            if positions is None:
                per_row = media.per_row()
                positions, _ = thinker.model.get_rope_index(
                    input_ids, None, per_row["video_grid_thw"], attention_mask, True,
                    per_row["feature_attention_mask"].sum(-1), per_row["video_second_per_grid"])
            positions = positions - packing["position_shift"].unsqueeze(0)
            implementation = thinker.config.get_text_config()._attn_implementation
            if implementation not in ("sdpa", "eager"):
                raise ValueError(f"packed rows need a 4D attention mask: attention {implementation!r} takes none; "
                                 "load the thinker with attn_implementation='sdpa'")
            mask = tree_mask(packing["segment"], thinker.lm_head.weight.dtype, implementation == "sdpa")
            hidden = forward_hidden(thinker, input_ids, mask, media, self.video_token_id, self.audio_token_id,
                                    encoded, position_ids=positions)
        logits = thinker.lm_head(hidden[rows, cols]).float()
        token_logps = logits.log_softmax(-1).gather(-1, target_ids.unsqueeze(-1)).squeeze(-1)
        sums = torch.zeros(n_rows, dtype=token_logps.dtype, device=token_logps.device).index_add(0, owner, token_logps)
        counts = torch.zeros(n_rows, dtype=torch.long, device=owner.device).index_add(0, owner, torch.ones_like(owner))
        return sums, counts
