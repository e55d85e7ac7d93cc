"""The towers' warm-up objective on hand-worked numbers, and the warm-up itself on a small world: it trains the
towers and the word embeddings, leaves the text layers alone, and makes the towers' tokens point at the names of
what the clip shows."""

import math

import pytest
import torch

from acpo_bench.schemas import Clip
from acpo_bench.training.tower_alignment import (
    POSITIVE_WEIGHT,
    alignment_loss,
    class_embeddings,
    presence_logits,
    presence_targets,
    warm_up_towers,
)


def test_presence_logit_is_the_scaled_best_cosine_plus_bias():
    tokens = [torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[3.0, -3.0]])]
    classes = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    logits = presence_logits(tokens, classes, torch.tensor(10.0), torch.tensor(-3.0))
    # clip 0: class 0 best matched by token 0 (cos 1); class 1 by either token (cos 1/sqrt 2)
    # clip 1: its one token is at cos 1/sqrt 2 from class 0 and cos 0 from class 1
    root_half = 1 / math.sqrt(2)
    expected = torch.tensor([[10 - 3, 10 * root_half - 3], [10 * root_half - 3, -3.0]])
    assert torch.allclose(logits, expected)


def test_loss_weighs_the_rare_positives():
    logits, targets = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    # positive at logit 0: w * log 2; negative at logit 2: log(1 + e^2); mean over the two entries
    expected = (POSITIVE_WEIGHT * math.log(2) + math.log(1 + math.exp(2))) / 2
    assert alignment_loss(logits, targets).item() == pytest.approx(expected)


def test_targets_and_class_embeddings():
    clips = [Clip("a", "a.mp4", ("dog",), ("bell", "dog"), "a"), Clip("b", "b.mp4", (), ("car",), "b")]
    classes = ["bell", "car", "dog"]
    assert presence_targets(clips, classes, "visible").tolist() == [[0, 0, 1], [0, 0, 0]]
    assert presence_targets(clips, classes, "audible").tolist() == [[1, 0, 1], [0, 1, 0]]
    embedding = torch.arange(12.0).reshape(6, 2)
    assert class_embeddings(embedding, [[1], [2, 4]]).tolist() == [[2.0, 3.0], [6.0, 7.0]]


def test_warm_up_trains_the_towers_toward_the_clips_labels(small_world):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
    from acpo_bench.training.sft_tiny import featurize, vocabulary_texts

    tokenizer = build_tokenizer(vocabulary_texts(small_world))
    processor = build_processor(tokenizer)
    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer))
    media = featurize(small_world, processor, frames=2, show_progress=False)
    classes = small_world.lexicon.classes
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    first = warm_up_towers(model, media, small_world.clips, tokenizer, classes, steps=1, learning_rate=2e-3,
                           batch_size=16, seed=0, show_progress=False)
    later = warm_up_towers(model, media, small_world.clips, tokenizer, classes, steps=40, learning_rate=2e-3,
                           batch_size=16, seed=0, show_progress=False)
    assert math.isfinite(later) and later < first

    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert any(n.startswith("model.visual.") for n in moved) and any(n.startswith("model.audio_tower.") for n in moved)
    assert "model.language_model.embed_tokens.weight" in moved
    assert not any(".layers." in n and "visual" not in n and "audio_tower" not in n for n in moved)  # text layers
