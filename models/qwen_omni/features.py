"""Model inputs for Qwen-Omni thinkers, built once per (video, audio recipe) and reused for every prompt.

The processor is the checkpoint's own; it is called once per media item with a text that holds only the video
placeholder, which yields the pixel patches, the mel features and the expanded placeholder ids (video and audio
tokens interleaved in 2 s chunks, as the model was trained with use_audio_in_video). A prompt's ids are then the
chat template's text before the placeholder + those ids + the text after it, so N questions about one clip cost one
featurization instead of N.

Featurized media can also live on disk (:class:`FeatureStore`, exact fp32 tensors keyed by the files' content, the
audio recipe and the processor's settings), so a clip used by several runs is featurized once. The pixel patches of
one video are shared by every audio recipe played under it, in memory and on disk, and the towers encode each
distinct video once per batch (:func:`distinct_media`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # no PyAV needed to import this module (the GPU benchmark builds its inputs in memory)
    from acpo_bench.media import Media

STORE_FORMAT = 1  # bump when the on-disk layout or the meaning of a stored tensor changes


@dataclass(frozen=True)
class MediaInputs:
    placeholder_ids: tuple[int, ...]
    pixel_values_videos: torch.Tensor  # (patches, patch_dim)
    video_grid_thw: torch.Tensor  # (1, 3)
    video_second_per_grid: torch.Tensor  # (1,)
    input_features: torch.Tensor  # (1, mel, frames)
    feature_attention_mask: torch.Tensor  # (1, frames)
    video_key: str | None = None  # names the patches: equal keys, equal patches (one video under several audios)


class _LRU:
    """A small thread-safe LRU dict (values are computed outside the lock by the caller)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key, value):
        """Store ``value`` unless another thread stored one first; returns the stored value."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            self._items[key] = value
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def processor_settings(processor, videos_kwargs: dict | None) -> dict:
    """Everything about a processor that changes its output for given frames and audio: its sub-processors'
    settings, the ids of the multimodal tokens, the per-call video kwargs and the transformers version."""
    import transformers

    parts = processor.to_dict()
    parts.pop("chat_template", None)
    tokenizer = processor.tokenizer
    names = [getattr(processor, a, None) for a in ("video_token", "audio_token", "audio_bos_token", "audio_eos_token",
                                                   "vision_bos_token", "vision_eos_token", "image_token")]
    names = [n for n in names if isinstance(n, str)]
    return {"format": STORE_FORMAT, "processor": parts, "token_ids": dict(zip(names, tokenizer.convert_tokens_to_ids(
        names), strict=True)), "videos_kwargs": videos_kwargs or {}, "transformers": transformers.__version__}


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


class FeatureStore:
    """Featurized media on disk under ``root/<settings digest>/``: ``video/<id>.safetensors`` (pixel patches and
    grid of one video at one frame sampling, shared by every audio recipe) and ``media/<id>.safetensors`` (mel
    features, their mask and the placeholder ids of one (video, audio) pair). Tensors are stored exactly (fp32), so
    answers from stored features equal answers from fresh ones. Writes go to a temporary file renamed into place, so
    a crash or a second process never leaves a torn file; an unreadable file is ignored and rewritten."""

    def __init__(self, root: str | os.PathLike[str], settings: dict, video_items: int = 64) -> None:
        self.root = Path(root) / _digest(settings)
        self._videos = _LRU(video_items)  # one tensor object per video, so recipes of one video share it
        self.hits = self.misses = 0

    @staticmethod
    def identity(video_id: str, audio_id: str) -> tuple[str, str]:
        return (video_id, audio_id)

    def _paths(self, identity: tuple[str, str]) -> tuple[Path, Path]:
        video_id, audio_id = identity
        return (self.root / "video" / f"{_digest(video_id)}.safetensors",
                self.root / "media" / f"{_digest([video_id, audio_id])}.safetensors")

    def load(self, identity: tuple[str, str]) -> MediaInputs | None:
        from safetensors.torch import load_file

        video_path, media_path = self._paths(identity)
        try:
            video = self._videos.get(video_path) or self._videos.put(video_path, load_file(video_path))
            media = load_file(media_path)
        except Exception:  # missing, or unreadable (torn by something other than our atomic writes): recompute
            self.misses += 1
            for path in (video_path, media_path):  # a file at its final name is complete unless damaged
                if path.exists() and not _readable(path):
                    path.unlink(missing_ok=True)
            return None
        self.hits += 1
        return MediaInputs(
            placeholder_ids=tuple(media["placeholder_ids"].tolist()),
            pixel_values_videos=video["pixel_values_videos"], video_grid_thw=video["video_grid_thw"],
            video_second_per_grid=media["video_second_per_grid"], input_features=media["input_features"],
            feature_attention_mask=media["feature_attention_mask"],
            video_key=f"store:{self.root.name}:{video_path.stem}")

    def save(self, identity: tuple[str, str], inputs: MediaInputs) -> None:
        video_path, media_path = self._paths(identity)
        if not video_path.exists():
            _atomic_save({"pixel_values_videos": inputs.pixel_values_videos,
                          "video_grid_thw": inputs.video_grid_thw}, video_path)
        _atomic_save({"placeholder_ids": torch.tensor(inputs.placeholder_ids, dtype=torch.long),
                      "video_second_per_grid": inputs.video_second_per_grid, "input_features": inputs.input_features,
                      "feature_attention_mask": inputs.feature_attention_mask}, media_path)

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.safetensors")) if self.root.exists() else 0


def _readable(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as handle:
            return all(handle.get_tensor(name) is not None for name in handle.keys())  # noqa: SIM118
    except Exception:
        return False


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# qwen-omni-utils' per-frame pixel budget for videos (vision_process: VIDEO_MIN/MAX_TOKEN_NUM tokens of 28x28)
QWEN_UTILS_FACTOR = 28
QWEN_UTILS_MIN_PIXELS = 128 * QWEN_UTILS_FACTOR**2
QWEN_UTILS_MAX_PIXELS = 768 * QWEN_UTILS_FACTOR**2


def qwen_utils_resize(frames: np.ndarray) -> torch.Tensor:
    """Frames resized as Qwen's published inference code does before the processor sees them (qwen-omni-utils'
    fetch_video: smart_resize to its pixel budget, bicubic with antialiasing, kept as float 0-255 (T, C, H, W))."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    height, width = smart_resize(video.shape[2], video.shape[3], factor=QWEN_UTILS_FACTOR,
                                 min_pixels=QWEN_UTILS_MIN_PIXELS, max_pixels=QWEN_UTILS_MAX_PIXELS)
    return resize(video, [height, width], interpolation=InterpolationMode.BICUBIC, antialias=True).float()


class Featurizer:
    """Media -> :class:`MediaInputs` through the checkpoint's processor, cached in memory by media key (and on disk
    by file content when given a :class:`FeatureStore`). Thread-safe: the runner featurizes in worker threads."""

    def __init__(self, processor, videos_kwargs: dict | None = None, max_items: int = 1024,
                 store: FeatureStore | None = None, frame_resize: str | None = None) -> None:
        self.processor = processor
        self.videos_kwargs = dict(videos_kwargs or {})
        if frame_resize not in (None, "qwen-utils"):
            raise ValueError(f"frame_resize must be None or 'qwen-utils', got {frame_resize!r}")
        self.frame_resize = frame_resize
        self.video_token = processor.tokenizer.video_token
        self.store = store
        self._items = _LRU(max_items)
        self._videos = _LRU(max(16, max_items // 8))  # pixel patches by frame content: one object per video
        self.computed = 0

    def __call__(self, key: tuple, media: Media) -> MediaInputs:
        return self.get(key, lambda: media)

    def get(self, key: tuple, load: Callable[[], Media], identity: tuple[str, str] | None = None) -> MediaInputs:
        """The inputs for ``key``: from memory, else from the store (by ``identity``, when both are given), else
        computed from ``load()``'s media (and stored)."""
        found = self._items.get(key)
        if found is not None:
            return found
        inputs = self.store.load(identity) if self.store is not None and identity is not None else None
        if inputs is None:
            inputs = self.compute(load())
            if self.store is not None and identity is not None:
                self.store.save(identity, inputs)
        return self._items.put(key, inputs)

    def compute(self, media: Media) -> MediaInputs:
        fps = len(media.frames) / media.duration if media.duration > 0 else 2.0
        video = qwen_utils_resize(media.frames) if self.frame_resize == "qwen-utils" else media.frames
        # numpy out, torch here: with "pt" the processor hands torch tensors to np.arange, which numpy 2 warns
        # about (torch's __array__ takes no copy argument); the values are the same either way
        out = self.processor(
            text=[self.video_token], videos=[video], audio=[media.audio], audio_from_video_indices=[0],
            load_audio_from_video=True, return_tensors="np",
            videos_kwargs={**self.videos_kwargs, "fps": fps},
        )
        out = {key: torch.as_tensor(np.asarray(value)) for key, value in out.items()}
        self.computed += 1
        pixels = out["pixel_values_videos"]
        # the same frames give the same patches whatever audio plays under them: keep one tensor per video, so a
        # batch's distinct videos (not only its distinct (video, audio) pairs) go through the vision tower once
        frames = np.ascontiguousarray(media.frames)
        video_key = "frames:" + _digest([hashlib.blake2b(frames.data, digest_size=16).hexdigest(), frames.shape, fps])
        stored = self._videos.get(video_key) or self._videos.put(video_key, (pixels, out["video_grid_thw"]))
        if stored[0] is not pixels:
            if stored[0].shape == pixels.shape and torch.equal(stored[0], pixels) and torch.equal(
                    stored[1], out["video_grid_thw"]):
                pixels = stored[0]
            else:  # same frames, other patches (cannot happen with one processor): do not share
                video_key = None
        return MediaInputs(
            video_key=video_key,
            placeholder_ids=tuple(out["input_ids"][0].tolist()),
            pixel_values_videos=pixels,
            video_grid_thw=out["video_grid_thw"],
            video_second_per_grid=torch.as_tensor(out["video_second_per_grid"]).reshape(1),
            input_features=out["input_features"],
            feature_attention_mask=out["feature_attention_mask"],
        )

    def cache_clear(self) -> None:
        self._items.clear()
        self._videos.clear()


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
    """The distinct clips of a batch, stacked, and for every row the index of its clip among them. A video shown
    under several audio tracks is stacked once (``pixel_values_videos`` holds the distinct videos; ``video_of``
    maps each clip to its video)."""

    pixel_values_videos: torch.Tensor  # the distinct videos' patches
    video_grid_thw: torch.Tensor  # (clips, 3)
    video_second_per_grid: torch.Tensor  # (clips,)
    input_features: torch.Tensor  # (clips, mel, frames)
    feature_attention_mask: torch.Tensor  # (clips, frames)
    audio_tokens: torch.Tensor  # (clips,) audio placeholder tokens per clip
    rows: torch.Tensor  # (batch,) clip index of each row
    video_of: torch.Tensor | None = None  # (clips,) distinct-video index of each clip (None: one video per clip)

    def to(self, device) -> DistinctMedia:
        return DistinctMedia(*(t.to(device) if t is not None else None for t in (
            self.pixel_values_videos, self.video_grid_thw, self.video_second_per_grid, self.input_features,
            self.feature_attention_mask, self.audio_tokens, self.rows, self.video_of)))

    def float32_fields(self) -> dict[str, torch.Tensor]:
        """The fields as a dict (a Trainer batch carries it; ``DistinctMedia(**fields)`` rebuilds it), floating
        tensors in float32: featurized clips are kept in half precision."""
        return {k: v.float() if v is not None and v.is_floating_point() else v for k, v in self.__dict__.items()}

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
    # clips with one video key show one video (the featurizer and the store name the patches by content)
    video_index: dict = {}
    videos, video_of = [], []
    for inputs in distinct:
        name = inputs.video_key or id(inputs)
        if name not in video_index:
            video_index[name] = len(videos)
            videos.append(inputs.pixel_values_videos)
        video_of.append(video_index[name])
    return DistinctMedia(
        pixel_values_videos=torch.cat(videos),
        video_grid_thw=torch.cat([m.video_grid_thw for m in distinct]),
        video_second_per_grid=torch.cat([m.video_second_per_grid for m in distinct]),
        input_features=_pad_features([m.input_features for m in distinct]),
        feature_attention_mask=_pad_features([m.feature_attention_mask for m in distinct]),
        audio_tokens=torch.tensor([m.placeholder_ids.count(audio_token_id) for m in distinct]),
        rows=torch.tensor(rows),
        video_of=torch.tensor(video_of),
    )


def encode_videos(thinker, pixel_values_videos: torch.Tensor, video_grid_thw: torch.Tensor) -> list[torch.Tensor]:
    """Vision-tower embeddings of stacked videos (one call), one tensor per video."""
    return list(thinker.model.get_video_features(pixel_values_videos, video_grid_thw).pooler_output)


def encode_audio(thinker, input_features: torch.Tensor, feature_attention_mask: torch.Tensor,
                 audio_tokens: Sequence[int]) -> list[torch.Tensor]:
    """Audio-tower embeddings of stacked clips (one call), one tensor per clip."""
    audio = thinker.model.get_audio_features(input_features, feature_attention_mask).last_hidden_state
    return list(torch.split(audio, list(audio_tokens)))


def encode_media(thinker, media: DistinctMedia) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each distinct clip's video and audio embeddings, from one call per tower (each distinct video once)."""
    video_of = media.video_of if media.video_of is not None else torch.arange(len(media.video_grid_thw))
    order = video_of.tolist()
    first = [order.index(v) for v in range(max(order) + 1)]
    videos = encode_videos(thinker, media.pixel_values_videos, media.video_grid_thw[first])
    audio = encode_audio(thinker, media.input_features, media.feature_attention_mask, media.audio_tokens.tolist())
    return [videos[v] for v in order], audio


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
                   encoded: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] | None = None,
                   position_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Last hidden states of the language model for a batch whose media are encoded once per clip (or were
    encoded before: ``encoded`` holds the distinct clips' video and audio embeddings). ``position_ids`` (3, batch,
    length), e.g. from :class:`RopeIndex`, spare the model its own per-row computation."""
    video, audio = encoded if encoded is not None else encode_media(thinker, media)
    embeds = shared_media_embeddings(thinker, input_ids, media.rows.tolist(), video, audio, video_token_id,
                                     audio_token_id)
    return thinker.model(input_ids=input_ids, inputs_embeds=embeds, attention_mask=attention_mask,
                         use_audio_in_video=True, position_ids=position_ids, **media.per_row()).last_hidden_state
