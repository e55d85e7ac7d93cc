"""Yes/no scoring with the clip's prefix computed once: rope positions from a cache, and a KV cache per prefix.

Every question about a clip shares the chat text before the video and the clip's ~100-1,500 media tokens; only the
question after them differs. The language model runs each distinct prefix (text before + media) once, keeps its
keys and values, and runs each question's tokens against them: with ~20 questions per clip, most of the LM's work
(and all of the towers') is done once per clip instead of once per question. Causal attention makes this the same
computation as the full forward; tests check the log-probs equal the plain forward's.

The model's own 3D rope index (``get_rope_index``) walks every row token by token in Python, which costs more than
a tiny model's forward. :class:`RopeIndex` computes it with that very function once per (clip, text before,
placeholder) and extends it over the text after, which only counts up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from acpo_bench.models.qwen_omni.features import _LRU, MediaInputs, shared_media_embeddings

PAD_POSITION = 1  # what get_rope_index writes at padding (masked out; any value would do)


class RopeIndex:
    """Rope positions (3, length) of a row [before | placeholder | after], from the model's own ``get_rope_index``
    run on [before | placeholder | after[0]] once per clip and text before. Text after the media takes positions one
    apart on all three axes, so the rest of the row follows without running the model's loop again. Rows whose text
    after holds multimodal marker tokens are computed whole."""

    def __init__(self, thinker_model, max_items: int = 4096) -> None:
        self.model = thinker_model  # the module with get_rope_index (thinker.model)
        config = thinker_model.config
        self.markers = {getattr(config, name, None) for name in (
            "image_token_id", "video_token_id", "audio_token_id", "vision_start_token_id", "audio_start_token_id")}
        self.markers.discard(None)
        self._cache = _LRU(max_items)

    def _run(self, ids: Sequence[int], inputs: MediaInputs) -> torch.Tensor:
        input_ids = torch.tensor([list(ids)], dtype=torch.long)
        positions, _ = self.model.get_rope_index(
            input_ids, None, inputs.video_grid_thw, torch.ones_like(input_ids), True,
            inputs.feature_attention_mask.sum(-1), inputs.video_second_per_grid)
        return positions[:, 0]

    def row(self, clip_key, before: Sequence[int], inputs: MediaInputs, after: Sequence[int]) -> torch.Tensor:
        if not after or self.markers.intersection(after):
            return self._run((*before, *inputs.placeholder_ids, *after), inputs)
        key = (clip_key, tuple(before))
        head = self._cache.get(key)
        if head is None:
            head = self._cache.put(key, self._run((*before, *inputs.placeholder_ids, after[0]), inputs))
        tail = head[:, -1:] + torch.arange(1, len(after)).view(1, -1)
        return torch.cat([head, tail], dim=1)


def stack_positions(rows: Sequence[torch.Tensor], padding_side: str) -> torch.Tensor:
    """(3, batch, length) from per-row positions, padded as the model pads them."""
    length = max(r.shape[1] for r in rows)
    out = torch.full((3, len(rows), length), PAD_POSITION, dtype=torch.long)
    for i, r in enumerate(rows):
        span = slice(length - r.shape[1], length) if padding_side == "left" else slice(0, r.shape[1])
        out[:, i, span] = r
    return out


@dataclass(frozen=True)
class PrefixRow:
    """One question: its prefix (clip index in the batch's distinct media, token ids of text before + media) and
    the token ids after the media, with the row's full rope positions."""

    prefix_key: tuple
    clip: int
    prefix_ids: tuple[int, ...]
    after: tuple[int, ...]
    positions: torch.Tensor  # (3, len(prefix_ids) + len(after))


class PrefixCache:
    """Keys and values of recently computed prefixes (one clip's questions can straddle two batches)."""

    def __init__(self, max_items: int = 8) -> None:
        self._items = _LRU(max_items)

    def get(self, key):
        return self._items.get(key)

    def put(self, key, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self._items.put(key, layers)

    def clear(self) -> None:
        self._items.clear()


def _cache_output(outputs):
    return getattr(outputs, "cache", None) or getattr(outputs, "past_key_values", None)


def last_hidden(thinker, rows: Sequence[PrefixRow], video: Sequence[torch.Tensor], audio: Sequence[torch.Tensor],
                video_token_id: int, audio_token_id: int, pad_id: int, cache: PrefixCache | None = None
                ) -> torch.Tensor:
    """The language model's last hidden state at each row's last token, (batch, hidden), running each distinct
    prefix once (or not at all when ``cache`` holds it) and the rows' text after it against its keys and values."""
    from transformers import DynamicCache

    lm = thinker.model.language_model
    device = thinker.lm_head.weight.device
    cache = cache if cache is not None else PrefixCache(0)
    order = list(dict.fromkeys(r.prefix_key for r in rows))
    first = {key: next(r for r in rows if r.prefix_key == key) for key in order}
    stored = {key: cache.get(key) for key in order}
    missing = [key for key in order if stored[key] is None]
    if missing:
        prefixes = [first[key] for key in missing]
        length = max(len(p.prefix_ids) for p in prefixes)
        ids = torch.full((len(prefixes), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prefixes), length), dtype=torch.long)
        for i, p in enumerate(prefixes):
            ids[i, length - len(p.prefix_ids):] = torch.tensor(p.prefix_ids)
            mask[i, length - len(p.prefix_ids):] = 1
        positions = stack_positions([p.positions[:, :len(p.prefix_ids)] for p in prefixes], "left")
        ids, mask = ids.to(device), mask.to(device)
        embeds = shared_media_embeddings(thinker, ids, [p.clip for p in prefixes], video, audio, video_token_id,
                                         audio_token_id)
        out = lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions.to(device), use_cache=True)
        layers = _cache_output(out).layers
        for i, (key, p) in enumerate(zip(missing, prefixes, strict=True)):
            span = slice(length - len(p.prefix_ids), length)
            stored[key] = [(layer.keys[i:i + 1, :, span], layer.values[i:i + 1, :, span]) for layer in layers]
            cache.put(key, stored[key])
    # every row's prefix keys/values, left-padded to the longest prefix, then the rows' text after it
    longest = max(len(first[key].prefix_ids) for key in order)
    suffix = max(len(r.after) for r in rows)
    kv = DynamicCache(config=lm.config)
    n_layers = len(stored[order[0]])
    padded = {}
    for key in order:
        pad = longest - len(first[key].prefix_ids)
        padded[key] = [tuple(torch.nn.functional.pad(t, (0, 0, pad, 0)) for t in pair) for pair in stored[key]]
    for layer in range(n_layers):
        kv.update(torch.cat([padded[r.prefix_key][layer][0] for r in rows]),
                  torch.cat([padded[r.prefix_key][layer][1] for r in rows]), layer)
    mask = torch.zeros((len(rows), longest + suffix), dtype=torch.long)
    ids = torch.full((len(rows), suffix), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        mask[i, longest - len(r.prefix_ids):longest + len(r.after)] = 1
        ids[i, :len(r.after)] = torch.tensor(r.after)
    positions = stack_positions([r.positions[:, len(r.prefix_ids):] for r in rows], "right")
    ids = ids.to(device)
    embeds = thinker.model.get_input_embeddings()(ids)
    hidden = lm(inputs_embeds=embeds, attention_mask=mask.to(device), position_ids=positions.to(device), cache=kv,
                use_cache=True).last_hidden_state
    last = torch.tensor([len(r.after) - 1 for r in rows], device=hidden.device)
    return hidden[torch.arange(len(rows), device=hidden.device), last]
