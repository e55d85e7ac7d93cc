"""Variable-length attention for the audio and vision towers of Qwen2.5-Omni / Qwen3-Omni thinkers.

The towers attend within windows: the vision tower within 112-pixel windows (72 windows per 16-frame 336x336 clip)
and in its full-attention blocks within each frame pair, the audio tower within 2-second chunks. transformers hands
the window boundaries (``cu_seqlens``) only to attention implementations whose name contains "flash"; with "sdpa"
it splits the sequence and calls attention once per window, in a Python loop. A batch of 16 clips then makes about
32,000 small attention calls per forward, and the GPU waits on their launches.

:func:`varlen_tower_attention` takes the window boundaries instead and attends every window in one call: through
torch's own variable-length flash attention (``torch.nn.attention.varlen``, torch >= 2.10) on a CUDA device in
bf16/fp16, or, elsewhere (CPU, fp32, dropout, older torch), through one ``scaled_dot_product_attention`` per distinct
window length with the windows of that length stacked as a batch. Written here because neither transformers nor
torch offers the routing: the function is registered under :data:`TOWER_ATTENTION` through transformers' public
``AttentionInterface`` and set on the two towers' configs only; the language model keeps its own implementation.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import warnings
from collections import Counter

import torch
import torch.nn.functional as F

# transformers passes cu_seqlens (instead of looping over windows) to implementations whose name contains "flash"
TOWER_ATTENTION = "flash_varlen_tower"
TOWERS = ("visual", "audio_tower")
CALLS: Counter[str] = Counter()  # attention calls served by each path (benchmarks report it)
_FLASH_FAILED: set[tuple] = set()  # (device type, dtype, head_dim) where torch's varlen kernel raised


@functools.cache
def _torch_varlen():
    """torch's varlen_attn and whether it takes ``scale``, or None where this torch lacks it."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn, "scale" in inspect.signature(varlen_attn).parameters


def _flash_device(query: torch.Tensor) -> bool:
    """Flash kernels exist for CUDA tensors in bf16/fp16 only."""
    return query.is_cuda and query.dtype in (torch.bfloat16, torch.float16)


def _flash_varlen_usable(query: torch.Tensor, scaling: float | None, dropout: float, is_causal: bool) -> bool:
    found = _torch_varlen()
    if found is None or not _flash_device(query) or (query.device.type, query.dtype, query.shape[-1]) in _FLASH_FAILED:
        return False
    head_dim = query.shape[-1]
    default_scale = scaling is None or abs(scaling - head_dim ** -0.5) < 1e-12
    return not dropout and not is_causal and head_dim % 8 == 0 and head_dim <= 256 and (found[1] or default_scale)


def grouped_sdpa(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, cu_seqlens: torch.Tensor,
                 scaling: float | None = None, dropout: float = 0.0, is_causal: bool = False) -> torch.Tensor:
    """Attention within each window of a packed sequence, one sdpa call per distinct window length.

    query/key/value: (tokens, heads, head_dim), windows given by ``cu_seqlens`` (window i spans
    cu_seqlens[i]:cu_seqlens[i+1]). Returns (tokens, heads, head_dim)."""
    bounds = cu_seqlens.tolist()
    by_length: dict[int, list[int]] = {}
    for start, end in itertools.pairwise(bounds):
        if end > start:
            by_length.setdefault(end - start, []).append(start)
    heads, head_dim = query.shape[1:]

    def attend(q, k, v, windows: int, length: int) -> torch.Tensor:
        q, k, v = (t.reshape(windows, length, heads, head_dim).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=is_causal, scale=scaling)
        return out.transpose(1, 2).reshape(windows * length, heads, head_dim)

    if len(by_length) == 1 and bounds[0] == 0 and bounds[-1] == query.shape[0]:
        (length, starts), = by_length.items()  # equal windows tiling the sequence: a view, no gather
        return attend(query, key, value, len(starts), length)
    out = query.new_zeros(query.shape)
    for length, starts in by_length.items():
        index = (torch.tensor(starts, device=query.device)[:, None]
                 + torch.arange(length, device=query.device)).reshape(-1)
        out = out.index_copy(0, index, attend(query[index], key[index], value[index], len(starts), length))
    return out


def varlen_tower_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           attention_mask: torch.Tensor | None = None, scaling: float | None = None,
                           dropout: float = 0.0, cu_seq_lens_q: torch.Tensor | None = None,
                           cu_seq_lens_k: torch.Tensor | None = None, max_length_q: int | None = None,
                           max_length_k: int | None = None, is_causal: bool | None = None,
                           **kwargs) -> tuple[torch.Tensor, None]:
    """An attention function in transformers' interface for the towers: query/key/value (1, heads, tokens,
    head_dim) with window boundaries ``cu_seq_lens_q``; returns ((1, tokens, heads, head_dim), None)."""
    if attention_mask is not None or cu_seq_lens_q is None:
        raise ValueError(f"{TOWER_ATTENTION} serves only the towers' windowed attention (window boundaries, no mask);"
                         " load the language model with another attn_implementation")
    if cu_seq_lens_k is not None and not torch.equal(cu_seq_lens_k, cu_seq_lens_q):
        raise ValueError(f"{TOWER_ATTENTION}: query and key windows differ; the towers attend within equal windows")
    is_causal = bool(is_causal)
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (tokens, heads, head_dim)
    out = None
    if _flash_varlen_usable(q, scaling, dropout, is_causal):
        varlen_attn, takes_scale = _torch_varlen()
        cu = cu_seq_lens_q.to(device=q.device, dtype=torch.int32)
        longest = int(max_length_q) if max_length_q is not None else int((cu[1:] - cu[:-1]).max())
        extra = {"scale": scaling} if takes_scale else {}
        try:
            out = varlen_attn(q.contiguous(), k.contiguous(), v.contiguous(), cu, cu, longest, longest, **extra)
            CALLS["flash_varlen"] += 1
        except RuntimeError as error:  # a kernel this GPU or build lacks: the grouped path gives the same values
            _FLASH_FAILED.add((q.device.type, q.dtype, q.shape[-1]))
            warnings.warn(f"{TOWER_ATTENTION}: torch varlen_attn failed ({error}); attending by grouped sdpa from "
                          "now on", RuntimeWarning, stacklevel=2)
    if out is None:
        out = grouped_sdpa(q, k, v, cu_seq_lens_q, scaling, dropout, is_causal)
        CALLS["grouped_sdpa"] += 1
    return out.unsqueeze(0), None


@functools.cache
def _register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(TOWER_ATTENTION, varlen_tower_attention)


def _towers(thinker: torch.nn.Module) -> list:
    """The audio and vision towers of a thinker, under peft or not (None where it has no such tower)."""
    base = thinker.get_base_model() if hasattr(thinker, "get_base_model") else thinker
    return [getattr(base.model, name, None) for name in TOWERS]


def use_varlen_tower_attention(thinker: torch.nn.Module) -> bool:
    """Route the thinker's audio and vision towers through :func:`varlen_tower_attention` where they use sdpa (the
    default); towers on another implementation (eager, flash-attn) are left as they are. Returns whether the towers
    use it now."""
    towers = _towers(thinker)
    if any(tower is None for tower in towers) or any(
            t.config._attn_implementation not in ("sdpa", TOWER_ATTENTION) for t in towers):
        return False
    _register()
    for tower in towers:
        tower.config._attn_implementation = TOWER_ATTENTION
    return True


def use_stock_tower_attention(thinker: torch.nn.Module) -> None:
    """Back to transformers' own sdpa loop over windows (benchmarks measure both)."""
    for tower in _towers(thinker):
        if tower is not None and tower.config._attn_implementation == TOWER_ATTENTION:
            tower.config._attn_implementation = "sdpa"
