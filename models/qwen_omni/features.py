"""Model inputs for Qwen-Omni thinkers, built once per (video, audio recipe) and reused for every prompt.

The processor is the checkpoint's own; it is called once per media item with a text that holds only the video
placeholder, which yields the pixel patches, the mel features and the expanded placeholder ids (video and audio
tokens interleaved in 2 s chunks, as the model was trained with use_audio_in_video). A prompt's ids are then the
chat template's text before the placeholder + those ids + the text after it, so N questions about one clip cost one
featurization instead of N.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from acpo_bench.media import Media


@dataclass(frozen=True)
class MediaInputs:
    placeholder_ids: tuple[int, ...]
    pixel_values_videos: torch.Tensor  # (patches, patch_dim)
    video_grid_thw: torch.Tensor  # (1, 3)
    video_second_per_grid: torch.Tensor  # (1,)
    input_features: torch.Tensor  # (1, mel, frames)
    feature_attention_mask: torch.Tensor  # (1, frames)


class Featurizer:
    """Media -> :class:`MediaInputs` through the checkpoint's processor, cached by media key."""

    def __init__(self, processor, videos_kwargs: dict | None = None, max_items: int = 1024) -> None:
        self.processor = processor
        self.videos_kwargs = dict(videos_kwargs or {})
        self.video_token = processor.tokenizer.video_token
        self._cached = functools.lru_cache(maxsize=max_items)(self._compute)
        self._media: dict[tuple, Media] = {}

    def __call__(self, key: tuple, media: Media) -> MediaInputs:
        self._media[key] = media  # lru_cache needs hashable arguments; the arrays travel beside the key
        try:
            return self._cached(key)
        finally:
            self._media.pop(key, None)

    def _compute(self, key: tuple) -> MediaInputs:
        media = self._media[key]
        fps = len(media.frames) / media.duration if media.duration > 0 else 2.0
        out = self.processor(
            text=[self.video_token], videos=[media.frames], audio=[media.audio], audio_from_video_indices=[0],
            load_audio_from_video=True, return_tensors="pt",
            videos_kwargs={**self.videos_kwargs, "fps": fps},
        )
        return MediaInputs(
            placeholder_ids=tuple(out["input_ids"][0].tolist()),
            pixel_values_videos=out["pixel_values_videos"],
            video_grid_thw=out["video_grid_thw"],
            video_second_per_grid=torch.as_tensor(out["video_second_per_grid"]).reshape(1),
            input_features=out["input_features"],
            feature_attention_mask=out["feature_attention_mask"],
        )


@dataclass(frozen=True)
class PromptParts:
    """Token ids of a rendered chat before and after the video placeholder."""

    before: tuple[int, ...]
    after: tuple[int, ...]


def prompt_parts(processor, text: str) -> PromptParts:
    video_token = processor.tokenizer.video_token
    if text.count(video_token) != 1:
        raise ValueError(f"the chat template must render exactly one {video_token} for one video, got: {text!r}")
    before, after = text.split(video_token)
    encode = functools.partial(processor.tokenizer.encode, add_special_tokens=False)
    return PromptParts(tuple(encode(before)), tuple(encode(after)))


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int, padding_side: str = "left",
                  labels: Sequence[Sequence[int]] | None = None) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask (and labels, -100 on padding) for token sequences of different lengths."""
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    label_tensor = torch.full((len(sequences), length), -100, dtype=torch.long) if labels is not None else None
    for i, seq in enumerate(sequences):
        span = slice(length - len(seq), length) if padding_side == "left" else slice(0, len(seq))
        ids[i, span] = torch.as_tensor(seq, dtype=torch.long)
        mask[i, span] = 1
        if label_tensor is not None:
            label_tensor[i, span] = torch.as_tensor(labels[i], dtype=torch.long)
    batch = {"input_ids": ids, "attention_mask": mask}
    if label_tensor is not None:
        batch["labels"] = label_tensor
    return batch


def collate(sequences: Sequence[Sequence[int]], media: Sequence[MediaInputs], pad_id: int, padding_side: str = "left",
            labels: Sequence[Sequence[int]] | None = None) -> dict[str, torch.Tensor]:
    """Padded tokens plus every row's media inputs, as the thinker's own forward/generate takes them."""
    return {
        **pad_sequences(sequences, pad_id, padding_side, labels),
        "pixel_values_videos": torch.cat([m.pixel_values_videos for m in media]),
        "video_grid_thw": torch.cat([m.video_grid_thw for m in media]),
        "video_second_per_grid": torch.cat([m.video_second_per_grid for m in media]),
        "input_features": _pad_features([m.input_features for m in media]),
        "feature_attention_mask": _pad_features([m.feature_attention_mask for m in media]),
    }


def _pad_features(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate along the batch, zero-padding the last (time) axis to the longest."""
    longest = max(t.shape[-1] for t in tensors)
    return torch.cat([torch.nn.functional.pad(t, (0, longest - t.shape[-1])) for t in tensors])


def frames_key(media: Media) -> tuple:
    """What distinguishes two decodes of the same probe media: frame count and times."""
    return (len(media.frames), tuple(np.round(media.frame_times, 4)))


@dataclass(frozen=True)
class DistinctMedia:
    """The distinct clips of a batch, stacked, and for every row the index of its clip among them."""

    pixel_values_videos: torch.Tensor
    video_grid_thw: torch.Tensor  # (clips, 3)
    video_second_per_grid: torch.Tensor  # (clips,)
    input_features: torch.Tensor  # (clips, mel, frames)
    feature_attention_mask: torch.Tensor  # (clips, frames)
    audio_tokens: torch.Tensor  # (clips,) audio placeholder tokens per clip
    rows: torch.Tensor  # (batch,) clip index of each row

    def to(self, device) -> DistinctMedia:
        return DistinctMedia(*(t.to(device) for t in (self.pixel_values_videos, self.video_grid_thw,
                                                       self.video_second_per_grid, self.input_features,
                                                       self.feature_attention_mask, self.audio_tokens, self.rows)))

    def per_row(self) -> dict[str, torch.Tensor]:
        """What the position ids need for every row (no pixels or mel: those are encoded once per clip)."""
        return {"video_grid_thw": self.video_grid_thw[self.rows],
                "video_second_per_grid": self.video_second_per_grid[self.rows],
                "feature_attention_mask": self.feature_attention_mask[self.rows]}


def distinct_media(keys: Sequence[tuple], media: Sequence[MediaInputs], audio_token_id: int) -> DistinctMedia:
    first: dict[tuple, int] = {}
    distinct: list[MediaInputs] = []
    rows = []
    for key, inputs in zip(keys, media, strict=True):
        if key not in first:
            first[key] = len(distinct)
            distinct.append(inputs)
        rows.append(first[key])
    return DistinctMedia(
        pixel_values_videos=torch.cat([m.pixel_values_videos for m in distinct]),
        video_grid_thw=torch.cat([m.video_grid_thw for m in distinct]),
        video_second_per_grid=torch.cat([m.video_second_per_grid for m in distinct]),
        input_features=_pad_features([m.input_features for m in distinct]),
        feature_attention_mask=_pad_features([m.feature_attention_mask for m in distinct]),
        audio_tokens=torch.tensor([m.placeholder_ids.count(audio_token_id) for m in distinct]),
        rows=torch.tensor(rows),
    )


def encode_media(thinker, media: DistinctMedia) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each distinct clip's video and audio embeddings, from one call per tower."""
    base = thinker.model
    video = base.get_video_features(media.pixel_values_videos, media.video_grid_thw).pooler_output
    audio = base.get_audio_features(media.input_features, media.feature_attention_mask).last_hidden_state
    return list(video), list(torch.split(audio, media.audio_tokens.tolist()))


def shared_media_embeddings(thinker, input_ids: torch.Tensor, rows: Sequence[int], video: Sequence[torch.Tensor],
                            audio: Sequence[torch.Tensor], video_token_id: int, audio_token_id: int) -> torch.Tensor:
    """Input embeddings with each distinct clip's encodings written into every row that shows it.

    The thinker's forward encodes the media of every row; a batch sorted by media holds ~10-30 questions per clip
    (and an ACPO batch asks about each clip twice), so encoding each clip once removes most tower work. Placeholder
    positions are filled in order, exactly as the model's own masked_scatter does; tests check the result equals
    the plain forward.
    """
    embeds = thinker.model.get_input_embeddings()(input_ids)
    out = []
    for row, index in enumerate(rows):
        ids = input_ids[row]
        row_embeds = embeds[row].clone() if embeds.requires_grad else embeds[row]
        row_embeds[ids == video_token_id] = video[index].to(embeds.dtype)
        row_embeds[ids == audio_token_id] = audio[index].to(embeds.dtype)
        out.append(row_embeds)
    return torch.stack(out)


def forward_hidden(thinker, input_ids: torch.Tensor, attention_mask: torch.Tensor, media: DistinctMedia,
                   video_token_id: int, audio_token_id: int,
                   encoded: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] | None = None) -> torch.Tensor:
    """Last hidden states of the language model for a batch whose media are encoded once per clip (or were
    encoded before: ``encoded`` holds the distinct clips' video and audio embeddings)."""
    video, audio = encoded if encoded is not None else encode_media(thinker, media)
    embeds = shared_media_embeddings(thinker, input_ids, media.rows.tolist(), video, audio, video_token_id,
                                     audio_token_id)
    return thinker.model(input_ids=input_ids, inputs_embeds=embeds, attention_mask=attention_mask,
                         use_audio_in_video=True, **media.per_row()).last_hidden_state
