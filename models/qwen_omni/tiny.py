"""The embedded model's architecture: the real Qwen2.5-Omni thinker at a tiny size, with an offline tokenizer.

The tokenizer is byte-level BPE (the class Qwen2.5-Omni uses) whose merges spell out the synthetic world's words
whole, so the vocabulary stays small while any text still tokenizes (unknown words fall back to bytes). Its chat
template is minimal on purpose: the question's last word sits right before the answer, which a 2-layer model
trained from scratch needs (a chat suffix there kept yes/no at chance for 1,000 steps in our feasibility runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SPECIAL_TOKENS = {
    "pad_token": "<|endoftext|>",
    "eos_token": "<|im_end|>",
}
OMNI_TOKENS = {
    "audio_token": "<|AUDIO|>",
    "image_token": "<|IMAGE|>",
    "video_token": "<|VIDEO|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
}
OTHER_SPECIAL = ("<|im_start|>",)

# No system prompt and no chat suffix: [media] question -> answer<|im_end|>. Unknown roles are ignored.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{%- for item in (message['content'] if message['content'] is not string else [{'type': 'text', "
    "'text': message['content']}]) -%}"
    "{%- if item['type'] == 'video' -%}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{%- elif item['type'] == 'audio' -%}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{%- elif item['type'] == 'image' -%}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
    "{%- endif -%}{%- endfor -%}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{%- for item in (message['content'] if message['content'] is not string else [{'type': 'text', "
    "'text': message['content']}]) -%} {{ item['text'] }}<|im_end|>{%- endfor -%}"
    "{%- endif -%}{%- endfor -%}"
)

_WORD = re.compile(r"[A-Za-z]+|[0-9]|[^\sA-Za-z0-9]")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, the alphabet of byte-level BPE."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def vocabulary_words(texts: Iterable[str]) -> list[str]:
    """Every word and punctuation mark of ``texts``, as byte-level pieces with and without a leading space."""
    words = set()
    for text in texts:
        for word in _WORD.findall(text):
            words.update({word, " " + word})
    return sorted(words)


def build_vocab(words: Iterable[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The 256 byte symbols plus left-to-right merges that spell each word as one token."""
    byte_map = bytes_to_unicode()
    vocab: dict[str, int] = {}
    for b in range(256):
        vocab.setdefault(byte_map[b], len(vocab))
    merges: list[tuple[str, str]] = []
    seen = set()
    for word in words:
        symbols = [byte_map[b] for b in word.encode()]
        current = symbols[0]
        for symbol in symbols[1:]:
            pair = (current, symbol)
            current += symbol
            if pair not in seen:
                seen.add(pair)
                merges.append(pair)
            vocab.setdefault(current, len(vocab))
    return vocab, merges


def build_tokenizer(texts: Iterable[str]):
    from transformers import Qwen2Tokenizer

    vocab, merges = build_vocab(vocabulary_words(texts))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None,
                               eos_token=SPECIAL_TOKENS["eos_token"], pad_token=SPECIAL_TOKENS["pad_token"],
                               extra_special_tokens=OMNI_TOKENS, additional_special_tokens=list(OTHER_SPECIAL))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def frame_size(frame_side: int = 112) -> dict[str, int]:
    """The pixel budget for square frames of ``frame_side`` (a multiple of 28): the processor keeps them as they are."""
    if frame_side % 28 or frame_side < 56:
        raise ValueError(f"frame_side must be a multiple of 28 and at least 56, got {frame_side}")
    return {"shortest_edge": 28 * 28, "longest_edge": frame_side * frame_side}


def build_processor(tokenizer, audio_seconds: int = 2, frame_side: int = 112):
    """Qwen2.5-Omni's processor with the tiny model's settings: 128 mel bins, audio padded to ``audio_seconds``
    (instead of Whisper's 30 s: the synthetic clips are 1 s long), frames kept at ``frame_side`` pixels square."""
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, WhisperFeatureExtractor

    size = frame_size(frame_side)
    return Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        video_processor=Qwen2VLVideoProcessor(size=size, cap_pixels_per_frame=True),
        feature_extractor=WhisperFeatureExtractor(feature_size=128, chunk_length=audio_seconds),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def build_config(tokenizer, hidden: int = 128, layers: int = 2, vision_width: int = 32):
    """A 2-layer thinker: text hidden 128 (4 heads of 32, 2 kv heads), an audio tower of width 32 and a vision tower
    of width ``vision_width`` (heads of 32 or fewer)."""
    from transformers import Qwen2_5OmniThinkerConfig

    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in OMNI_TOKENS.items()}
    head_dim = hidden // 4
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                          num_mel_bins=128, output_dim=hidden, max_source_positions=1500, n_window=100),
        vision_config=dict(hidden_size=vision_width, depth=2, num_heads=max(2, vision_width // 32),
                           intermediate_size=2 * vision_width, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[1], out_hidden_size=hidden),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": _mrope_section(head_dim)},
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id),
        audio_token_index=ids["audio_token"], image_token_index=ids["image_token"],
        video_token_index=ids["video_token"], audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"], tie_word_embeddings=False,
    )
    # get_rope_index reads these; the config class does not derive them from the tokenizer
    config.vision_start_token_id = ids["vision_bos_token"]
    config.vision_end_token_id = ids["vision_eos_token"]
    return config


def _mrope_section(head_dim: int) -> list[int]:
    """Split half the head dimension over (time, height, width) as Qwen does ([16, 24, 24] for 128)."""
    half = head_dim // 2
    t = half // 4 + (half % 4 > 0)
    rest = half - t
    return [t, rest - rest // 2, rest // 2]
