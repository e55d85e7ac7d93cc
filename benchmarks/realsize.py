"""Shared pieces of the throughput benchmarks: models at a named size, media and probes built in memory, the bf16
matmul rate, FLOP counting, and where a result was measured.

``--size tiny`` is the embedded checkpoint (models/zoo/qwen-omni-tiny). ``--size 3b|7b`` is a Qwen2.5-Omni thinker
with the real checkpoints' dimensions (Qwen2.5-Omni-3B/7B config.json; the 7B one counts 8.93B parameters, as in
the GPU anchor) and random weights, built offline: no download, no checkpoint on disk. The tokenizer is built
offline too, over the benchmark's own words (one token per word, as Qwen's tokenizer roughly does for English), so
the token counts match the anchor's shapes: 16 frames of 336x336 -> 1,152 video tokens, 10 s of audio -> 250 audio
tokens, ~66 text tokens. Media are random frames and noise made in memory (the GPU image has no PyAV).

FLOPs are counted as ../shared/notes/gpu-anchor.md does: 2 x parameters x tokens for the language model (7.07B
with its embeddings at 7B) and for each tower (tokens = the patches or mel frames it encodes), plus the LM head
only where it runs.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SIZES = ("tiny", "3b", "7b")

# Qwen2.5-Omni-{3B,7B} thinker dimensions (config.json of the released checkpoints)
DIMS = {
    "7b": {"text": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                        num_key_value_heads=4, vocab_size=152064),
           "out": 3584},
    "3b": {"text": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                        num_key_value_heads=2, vocab_size=151936),
           "out": 2048},
}
QWEN_TEMPLATE = (
    "{%- for message in messages -%}<|im_start|>{{ message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}{%- else -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'video' -%}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}{%- endfor -%}{%- endif -%}"
    "<|im_end|>{{ '\\n' }}{%- endfor -%}{%- if add_generation_prompt -%}<|im_start|>assistant{{ '\\n' }}"
    "{%- endif -%}"
)
CLASSES = ("dog", "bell", "car", "rain", "crowd", "piano", "drum", "bird", "phone", "siren", "clock", "train",
           "hammer", "guitar", "water", "wind")
ANSWER_TEXT = ("a dog barks twice while a bell rings somewhere behind the car and rain falls on the roof while a "
               "crowd murmurs near the piano and a drum keeps time as a bird sings over the phone")
ANSWER_WORDS = tuple(ANSWER_TEXT.split())


@dataclass(frozen=True)
class MediaShape:
    frames: int
    side: int
    seconds: float


SHAPES = {"tiny": MediaShape(2, 112, 1.0), "3b": MediaShape(16, 336, 10.0), "7b": MediaShape(16, 336, 10.0)}


def device_and_dtype(size: str, layers: int | None = None) -> tuple[str, torch.dtype]:
    """bf16 on a GPU; fp32 on a CPU, where 3b/7b run only shrunk to a few layers (``layers``, a smoke test)."""
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    if size != "tiny" and not layers:
        raise SystemExit(f"--size {size} needs a CUDA GPU (its weights alone take "
                         f"{'17' if size == '7b' else '9'} GiB in bf16); run --size tiny on a CPU, or add "
                         "--layers 1 for a smoke test of the real-size shapes")
    return "cpu", torch.float32


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads on a CPU. On a shared CPU use 1: with every core busy elsewhere, each op's threads
    wait at a barrier for a descheduled peer (a tiny-model step measured 4.6 s with 2 threads, 75 ms with 1)."""
    if threads:
        torch.set_num_threads(threads)


def system_prompt() -> str:
    from acpo_bench.models.qwen_omni.adapter import QWEN_SYSTEM_PROMPT

    return QWEN_SYSTEM_PROMPT


def questions(n: int) -> list[str]:
    """n distinct yes/no questions in the suite's wording."""
    templates = ["Answer yes or no. Is there a sound of {x}?", "Answer yes or no. Can you hear the {x}?",
                 "Answer yes or no. Can you see the {x}?", "Answer yes or no. In the audio, is there any {x}?"]
    return [templates[i % len(templates)].format(x=CLASSES[(i // len(templates)) % len(CLASSES)]) + " " * (
        i // (len(templates) * len(CLASSES))) for i in range(n)]


def answer_text(words: int, offset: int = 0) -> str:
    return " ".join(ANSWER_WORDS[(offset + i) % len(ANSWER_WORDS)] for i in range(words))


def build_processor(size: str, extra_texts: tuple[str, ...] = ()):
    """The checkpoint-shaped processor: Qwen2.5-Omni's video processor (frames kept at their size), Whisper's
    feature extractor (128 mel bins; 30 s padding at real size) and an offline tokenizer with a Qwen chat template."""
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, WhisperFeatureExtractor

    from acpo_bench.models.qwen_omni.tiny import build_tokenizer

    texts = [system_prompt(), *questions(64), " ".join(ANSWER_WORDS), "system user assistant Yes No yes no",
             *extra_texts]
    tokenizer = build_tokenizer(texts)
    tokenizer.add_tokens(["<|im_start|>"], special_tokens=True)
    tokenizer.chat_template = QWEN_TEMPLATE
    shape = SHAPES[size]
    pixels = {"shortest_edge": 28 * 28, "longest_edge": max(shape.side, 28) ** 2}
    return Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(size=pixels),
        video_processor=Qwen2VLVideoProcessor(size=pixels, cap_pixels_per_frame=True),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer, chat_template=QWEN_TEMPLATE)


def thinker_config(size: str, tokenizer, layers: int | None = None):
    from transformers import Qwen2_5OmniThinkerConfig

    from acpo_bench.models.qwen_omni.tiny import OMNI_TOKENS

    dims = DIMS[size]
    text = {**dims["text"], **({"num_hidden_layers": layers} if layers else {})}
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in OMNI_TOKENS.items()}
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(d_model=1280, encoder_layers=layers or 32, encoder_attention_heads=20, encoder_ffn_dim=5120,
                          num_mel_bins=128, output_dim=dims["out"], max_source_positions=1500, n_window=100),
        vision_config=dict(depth=layers or 32, hidden_size=1280, num_heads=16, intermediate_size=3420, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[layers - 1] if layers else [7, 15, 23, 31],
                           out_hidden_size=dims["out"]),
        text_config=dict(**text, max_position_embeddings=32768, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                          "mrope_section": [16, 24, 24]},
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id),
        audio_token_index=ids["audio_token"], image_token_index=ids["image_token"],
        video_token_index=ids["video_token"], audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"], tie_word_embeddings=False)
    config.vision_start_token_id = ids["vision_bos_token"]
    config.vision_end_token_id = ids["vision_eos_token"]
    return config


def build_model(size: str, attn: str = "sdpa", seed: int = 0, extra_texts: tuple[str, ...] = (),
                layers: int | None = None):
    """(thinker, processor, settings) on this machine's device: the embedded checkpoint for tiny, random weights
    at real dimensions for 3b/7b (initialised on the GPU, in bf16; ``layers`` shrinks the LM and both towers to that
    many layers, widths and media shapes unchanged, for a smoke test on a CPU). The towers attend through
    models/qwen_omni/tower_attention.py, as the adapter and the trainer load them, for every variant alike."""
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT, checkpoint_settings
    from acpo_bench.models.qwen_omni.tower_attention import use_varlen_tower_attention

    device, dtype = device_and_dtype(size, layers)
    torch.manual_seed(seed)
    if size == "tiny":
        processor = Qwen2_5OmniProcessor.from_pretrained(str(TINY_CHECKPOINT))
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
            str(TINY_CHECKPOINT), dtype=dtype, attn_implementation=attn).to(device)
        use_varlen_tower_attention(model)  # as the adapter and the trainer load it
        return model, processor, checkpoint_settings(TINY_CHECKPOINT)
    processor = build_processor(size, extra_texts)
    config = thinker_config(size, processor.tokenizer, layers)
    config._attn_implementation = attn
    with torch.device(device):
        model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, dtype=dtype)
    use_varlen_tower_attention(model)
    return model, processor, {"frames": SHAPES[size].frames, "system_prompt": system_prompt(),
                              "videos_kwargs": {}, "batch_size": 32}


def synthetic_media(size: str, n: int, seed: int = 0) -> list:
    """n clips of random frames and audio (a tone in noise), as decoded media."""
    from acpo_bench.media import Media

    shape = SHAPES[size]
    rng = np.random.default_rng(seed)
    out = []
    samples = int(shape.seconds * 16000)
    t = np.arange(samples) / 16000
    for i in range(n):
        frames = rng.integers(0, 256, (shape.frames, shape.side, shape.side, 3), dtype=np.uint8)
        audio = (0.2 * np.sin(2 * np.pi * (220 + 40 * i) * t) + 0.05 * rng.standard_normal(samples)).astype(
            np.float32)
        times = (np.arange(shape.frames) + 0.5) * shape.seconds / shape.frames
        out.append(Media(frames=frames, frame_times=times, audio=audio, sample_rate=16000, duration=shape.seconds))
    return out


def parameter_counts(model) -> dict[str, int]:
    base = model.model
    count = lambda m: sum(p.numel() for p in m.parameters())
    return {"total": count(model), "lm": count(base.language_model), "lm_head": count(model.lm_head),
            "vision": count(base.visual), "audio": count(base.audio_tower)}


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int = 3, warmup: int = 1) -> tuple[float, object]:
    """Median seconds of ``fn()`` after warm-up (device synchronized around each call), and its last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def matmul_rate(device: str, dtype: torch.dtype) -> float:
    """Measured dense matmul FLOP/s of this device in ``dtype`` (8192^3 on a GPU, random operands), the ceiling
    the MFU figures divide by."""
    n = 8192 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds, _ = timed(lambda: a @ b, device, repeats=10 if device == "cuda" else 5, warmup=3)
    return 2 * n ** 3 / seconds


def environment(device: str) -> dict:
    import transformers

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "cpu": cpu, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}
    with contextlib.suppress(OSError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    try:
        import trl

        info["trl"] = trl.__version__
    except ImportError:
        info["trl"] = None
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (on a shared CPU they say how much the timings are worth)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def peak_memory_gb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
