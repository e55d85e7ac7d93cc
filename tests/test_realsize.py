"""benchmarks/realsize.py builds Qwen2.5-Omni thinkers at the released checkpoints' dimensions: the 7B one must count
what ../shared/notes/gpu-anchor.md counts (8.93B parameters) and give its token shapes (16 frames of 336x336 ->
1,152 video tokens, 10 s of audio -> 250 audio tokens). Built on the meta device: no weights, no GPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import realsize


@pytest.mark.parametrize(("size", "expected"), [
    ("7b", {"total": 8.932, "lm": 7.071, "lm_head": 0.545, "vision": 0.677, "audio": 0.640}),
    ("3b", {"total": 4.703, "lm": 3.086, "lm_head": 0.311, "vision": 0.669, "audio": 0.638}),
])
def test_real_size_parameter_counts(size, expected):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    processor = realsize.build_processor(size)
    with torch.device("meta"):
        model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(
            realsize.thinker_config(size, processor.tokenizer), dtype=torch.bfloat16)
    counts = {k: round(v / 1e9, 3) for k, v in realsize.parameter_counts(model).items()}
    assert counts == pytest.approx(expected, abs=1e-3)


def test_real_size_token_shapes():
    from acpo_bench.models.qwen_omni.features import Featurizer

    processor = realsize.build_processor("7b")
    inputs = Featurizer(processor).compute(realsize.synthetic_media("7b", 1)[0])
    ids = inputs.placeholder_ids
    assert ids.count(processor.tokenizer.video_token_id) == 1152
    assert ids.count(processor.tokenizer.audio_token_id) == 250
    prompt = processor.apply_chat_template(
        [{"role": "system", "content": realsize.system_prompt()},
         {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": realsize.questions(1)[0]}]}],
        add_generation_prompt=True, tokenize=False)
    text_tokens = len(processor.tokenizer.encode(prompt, add_special_tokens=False)) - 1  # minus the placeholder
    assert 55 <= text_tokens <= 75  # the anchor's ~66 text tokens
