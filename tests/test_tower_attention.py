"""The towers' variable-length attention (models/qwen_omni/tower_attention.py) gives transformers' own per-window
sdpa results, in one attention call per window length instead of one per window. (No timings here:
benchmarks/eval_throughput.py measures the speed-up on a GPU.)"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT
from acpo_bench.models.qwen_omni.tower_attention import (
    TOWER_ATTENTION,
    grouped_sdpa,
    use_stock_tower_attention,
    use_varlen_tower_attention,
    varlen_tower_attention,
)


def per_window(q, k, v, cu, scaling):
    """The stock path: one sdpa call per window."""
    out = []
    for start, end in zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True):
        window = [t[start:end].transpose(0, 1)[None] for t in (q, k, v)]
        out.append(F.scaled_dot_product_attention(*window, scale=scaling)[0].transpose(0, 1))
    return torch.cat(out)


@pytest.mark.parametrize("lengths", [[64, 64, 64, 64], [64, 32, 64, 16, 1, 32, 64]])
def test_grouped_windows_equal_one_call_per_window(lengths):
    torch.manual_seed(0)
    tokens, heads, dim = sum(lengths), 4, 16
    q, k, v = (torch.randn(tokens, heads, dim, dtype=torch.float64, requires_grad=True) for _ in range(3))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    ours = grouped_sdpa(q, k, v, cu, scaling=dim ** -0.5)
    stock = per_window(q, k, v, cu, dim ** -0.5)
    assert torch.allclose(ours, stock, atol=1e-12)
    weights = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * weights).sum(), (q, k, v))
    stock_grads = torch.autograd.grad((stock * weights).sum(), (q, k, v))
    for ours_grad, stock_grad in zip(grads, stock_grads, strict=True):
        assert torch.allclose(ours_grad, stock_grad, atol=1e-12)


def test_the_interface_function_keeps_transformers_layout():
    """(1, heads, tokens, dim) in, (1, tokens, heads, dim) out, as transformers' flash path expects; a mask (a
    language-model call) is refused with a message naming the fix."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 12, 8) for _ in range(3))
    cu = torch.tensor([0, 5, 12], dtype=torch.int32)
    out, weights = varlen_tower_attention(None, q, k, v, scaling=8 ** -0.5, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                          max_length_q=7, max_length_k=7)
    expected = per_window(*(t[0].transpose(0, 1) for t in (q, k, v)), cu, 8 ** -0.5)
    assert weights is None and out.shape == (1, 12, 2, 8)
    assert torch.allclose(out[0], expected, atol=1e-6)
    with pytest.raises(ValueError, match="attn_implementation"):
        varlen_tower_attention(None, q, k, v, attention_mask=torch.ones(1, 1, 12, 12), cu_seq_lens_q=cu)


@pytest.fixture()
def thinker():
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(TINY_CHECKPOINT),
                                                                      attn_implementation="sdpa").eval()


def count_sdpa(monkeypatch) -> list[int]:
    calls = [0]
    real = F.scaled_dot_product_attention

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
    return calls


def test_towers_give_the_stock_outputs_in_one_call_per_window_length(thinker, monkeypatch):
    """A 16-frame 336x336 video (72 windows of 64 patches per frame pair group) and a 12x16-patch one (windows of
    64 and 32 patches), and two audio clips of 10 s and 7.3 s (2-second chunks, the last ones shorter)."""
    vision = thinker.config.vision_config
    grid = torch.tensor([[8, 24, 24], [2, 12, 16]])
    torch.manual_seed(0)
    pixels = torch.randn(int(grid.prod(-1).sum()), vision.in_channels * vision.temporal_patch_size
                         * vision.patch_size ** 2)
    features = torch.randn(128, 1000 + 730)
    lengths = torch.tensor([1000, 730])
    calls = count_sdpa(monkeypatch)
    with torch.no_grad():
        stock_video = thinker.model.visual(pixels, grid_thw=grid).pooler_output
        stock_audio = thinker.model.audio_tower(features, feature_lens=lengths).last_hidden_state
        stock_calls, calls[0] = calls[0], 0
        assert use_varlen_tower_attention(thinker)
        video = thinker.model.visual(pixels, grid_thw=grid).pooler_output
        audio = thinker.model.audio_tower(features, feature_lens=lengths).last_hidden_state
    assert torch.allclose(video, stock_video, atol=1e-5) and torch.allclose(audio, stock_audio, atol=1e-5)
    layers = vision.depth + thinker.config.audio_config.encoder_layers
    assert calls[0] <= 2 * layers < stock_calls  # at most two window lengths per layer here, against 100+ windows
    assert thinker.config.get_text_config()._attn_implementation == "sdpa"  # the language model keeps its own
    use_stock_tower_attention(thinker)
    assert thinker.model.visual.config._attn_implementation == "sdpa"


def test_towers_on_another_implementation_are_left_alone():
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    eager = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(TINY_CHECKPOINT),
                                                                       attn_implementation="eager")
    assert not use_varlen_tower_attention(eager)
    assert eager.model.visual.config._attn_implementation == "eager"


def test_the_adapter_loads_its_towers_on_it_and_says_so_in_its_fingerprint(tiny_model):
    from acpo_bench.adapter import parse_model_args
    from acpo_bench.models import BUILTIN as MODELS
    from acpo_bench.registry import resolve

    name, model_args = tiny_model
    load = resolve(MODELS.get(name, name))
    routed = load({**parse_model_args(model_args), "feature_cache": "false"}, None)
    eager = load({**parse_model_args(model_args), "feature_cache": "false", "attn": "eager"}, None)
    assert routed.model.model.visual.config._attn_implementation == TOWER_ATTENTION
    assert routed._identity["tower_attention"] == TOWER_ATTENTION and "tower_attention" not in eager._identity


def test_the_flash_branch_hands_torch_varlen_the_packed_layout(monkeypatch):
    """The CUDA branch, run on a CPU with a stand-in for torch's varlen_attn that attends window by window: it gets
    (tokens, heads, dim) tensors, int32 boundaries and the longest window; a kernel failure falls back, with a
    warning, to the grouped path's values."""
    from acpo_bench.models.qwen_omni import tower_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 12, 8) for _ in range(3))
    cu = torch.tensor([0, 5, 12])
    seen = {}

    def stand_in(query, key, value, cu_q, cu_k, max_q, max_k, scale=None):
        seen.update(shape=tuple(query.shape), dtype=cu_q.dtype, longest=(max_q, max_k), scale=scale)
        return per_window(query, key, value, cu_q, scale)

    monkeypatch.setattr(tower_attention, "_flash_device", lambda query: True)  # this CPU tensor passes as CUDA
    monkeypatch.setattr(tower_attention, "_torch_varlen", lambda: (stand_in, True))
    before = dict(tower_attention.CALLS)
    out, _ = varlen_tower_attention(None, q, k, v, scaling=0.3, cu_seq_lens_q=cu, cu_seq_lens_k=cu)
    assert seen == {"shape": (12, 2, 8), "dtype": torch.int32, "longest": (7, 7), "scale": 0.3}
    expected = per_window(*(t[0].transpose(0, 1) for t in (q, k, v)), cu, 0.3)
    assert torch.allclose(out[0], expected, atol=1e-6)
    assert tower_attention.CALLS["flash_varlen"] == before.get("flash_varlen", 0) + 1

    attempts = []

    def broken(*args, **kwargs):
        attempts.append(1)
        raise RuntimeError("no kernel image is available")

    monkeypatch.setattr(tower_attention, "_torch_varlen", lambda: (broken, True))
    monkeypatch.setattr(tower_attention, "_FLASH_FAILED", set())
    with pytest.warns(RuntimeWarning, match="grouped sdpa"):
        out, _ = varlen_tower_attention(None, q, k, v, scaling=0.3, cu_seq_lens_q=cu, cu_seq_lens_k=cu)
    out_again, _ = varlen_tower_attention(None, q, k, v, scaling=0.3, cu_seq_lens_q=cu, cu_seq_lens_k=cu)
    assert torch.allclose(out[0], expected, atol=1e-6) and torch.equal(out, out_again)
    assert len(attempts) == 1  # the failing kernel is not tried again


def test_qwen3_omni_towers_give_the_stock_outputs(monkeypatch):
    """Qwen3-Omni's towers (through the same adapter) follow the same convention: frame-pair attention in the
    vision tower, chunks in the audio tower."""
    from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    config = Qwen3OmniMoeThinkerConfig(
        audio_config=dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                          num_mel_bins=128, output_dim=64, downsample_hidden_size=16, n_window=50),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                           out_hidden_size=64, num_position_embeddings=64, deepstack_visual_indexes=[1]),
        text_config=dict(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, moe_intermediate_size=32, num_experts=4,
                         num_experts_per_tok=2, rope_parameters={"rope_type": "default", "rope_theta": 1e4,
                                                                 "mrope_section": [2, 3, 3]}))
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    thinker = Qwen3OmniMoeThinkerForConditionalGeneration(config).eval()
    vision = config.vision_config
    grid = torch.tensor([[4, 8, 8], [2, 4, 6]])
    pixels = torch.randn(int(grid.prod(-1).sum()), vision.in_channels * vision.temporal_patch_size
                         * vision.patch_size ** 2)
    features, lengths = torch.randn(128, 400 + 230), torch.tensor([400, 230])
    calls = count_sdpa(monkeypatch)

    def run():
        with torch.no_grad():
            video = thinker.model.visual(pixels, grid_thw=grid).pooler_output
            audio = thinker.model.audio_tower(features, feature_lens=lengths).last_hidden_state
        return video, audio

    stock = run()
    stock_calls, calls[0] = calls[0], 0
    assert use_varlen_tower_attention(thinker)
    ours = run()
    for a, b in zip(ours, stock, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert calls[0] < stock_calls
