"""Tower warm-up for a thinker trained from scratch: align what each tower outputs with the names of what it shows.

A real Qwen2.5-Omni starts SFT with pretrained towers (a Whisper encoder, a ViT); the embedded models start from
random ones. On the glyph world that is fine (16 classes told apart by hue and pitch), but on the real-media world
(70 drawings and recordings) the 2-layer LM's yes/no answers gave the towers almost no signal: after 4,000 SFT steps
the model was still at chance. So the real-media recipe first trains the two towers (and the word embeddings) on a
direct objective, in the spirit of CLIP-style pretraining: for each clip and class, the presence logit is a learned
scale times the best cosine similarity between any of the clip's tower tokens and the class name's input embedding,
plus a learned per-tower bias, and binary cross-entropy scores it against the clip's visible (vision tower) or
audible (audio tower) set. The tower tokens then already resemble the words the questions use, which is what the
LM's attention has to match during SFT. The text layers are not touched here.

The loop is written by hand: transformers.Trainer drives a model's own forward and loss, and this objective runs
the two towers only, with no LM forward.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch.nn import functional

from acpo_bench.models.qwen_omni.features import MediaInputs, distinct_media, encode_media
from acpo_bench.schemas import Clip

POSITIVE_WEIGHT = 10.0  # a clip holds 1-4 of ~70 classes: weigh the rare positives up so "absent" is not the answer


def class_name_ids(tokenizer, classes: Sequence[str]) -> list[list[int]]:
    """Each class name's tokens as it appears in a question (after a space: "... a sound of sea lion?")."""
    return [tokenizer.encode(" " + name, add_special_tokens=False) for name in classes]


def class_embeddings(embedding: torch.Tensor, name_ids: Sequence[Sequence[int]]) -> torch.Tensor:
    """(classes, hidden): the mean input embedding of each class name's tokens."""
    return torch.stack([embedding[list(ids)].mean(0) for ids in name_ids])


def presence_logits(tokens: Sequence[torch.Tensor], classes: torch.Tensor, scale: torch.Tensor,
                    bias: torch.Tensor) -> torch.Tensor:
    """(clips, classes): ``scale`` x max over a clip's tokens of cos(token, class) + ``bias``."""
    names = functional.normalize(classes, dim=-1)
    best = [(functional.normalize(t, dim=-1) @ names.T).max(0).values for t in tokens]
    return scale * torch.stack(best) + bias


def presence_targets(clips: Sequence[Clip], classes: Sequence[str], field: str) -> torch.Tensor:
    """(clips, classes) multi-hot of each clip's ``field`` ("visible" or "audible")."""
    index = {c: i for i, c in enumerate(classes)}
    target = torch.zeros(len(clips), len(classes))
    for row, clip in enumerate(clips):
        for label in getattr(clip, field):
            target[row, index[label]] = 1.0
    return target


def alignment_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return functional.binary_cross_entropy_with_logits(logits, targets,
                                                       pos_weight=torch.tensor(POSITIVE_WEIGHT, dtype=logits.dtype))


def warm_up_towers(model, media: Sequence[MediaInputs], clips: Sequence[Clip], tokenizer, classes: Sequence[str],
                   steps: int, learning_rate: float, batch_size: int, seed: int,
                   show_progress: bool = True) -> float:
    """Train ``model``'s vision and audio towers and its input embeddings for ``steps`` batches of random clips;
    returns the mean loss of the last tenth of the steps."""
    from rich.progress import track

    inner = model.model
    audio_token = model.config.audio_token_id
    name_ids = class_name_ids(tokenizer, classes)
    scale = torch.nn.Parameter(torch.tensor(10.0))  # CLIP's starting temperature: cosines in [-1, 1] need a range
    bias = torch.nn.Parameter(torch.full((2,), -3.0))  # start near "absent", the usual answer
    embedding = model.get_input_embeddings().weight
    trained = [*inner.visual.parameters(), *inner.audio_tower.parameters(), embedding]
    optimizer = torch.optim.AdamW([*trained, scale, bias], lr=learning_rate, weight_decay=0.01)
    targets = {field: presence_targets(clips, classes, field) for field in ("visible", "audible")}
    rng, losses = random.Random(seed), []
    model.train()
    for _ in track(range(steps), description="aligning the towers", disable=not show_progress):
        batch = [rng.randrange(len(media)) for _ in range(batch_size)]
        stacked = distinct_media([(i,) for i in batch], [media[i] for i in batch], audio_token)
        video, audio = encode_media(model, stacked)  # each distinct clip once; rows map them back to the batch
        rows = stacked.rows.tolist()
        video, audio = [video[r] for r in rows], [audio[r] for r in rows]
        names = class_embeddings(embedding, name_ids)
        loss = (alignment_loss(presence_logits(video, names, scale, bias[0]), targets["visible"][batch])
                + alignment_loss(presence_logits(audio, names, scale, bias[1]), targets["audible"][batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    tail = losses[-max(1, steps // 10):]
    return sum(tail) / len(tail)
