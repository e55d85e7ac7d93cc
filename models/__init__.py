"""Model adapters, installed as ``acpo_bench.models``. Each entry is a ``load(model_args, adapter)`` factory;
third-party adapters register under the entry-point group ``acpo_bench.models``."""

BUILTIN = {
    "audio-oracle": "acpo_bench.models.reference:audio_oracle",
    "visual-prior": "acpo_bench.models.reference:visual_prior",
    "always-yes": "acpo_bench.models.reference:always_yes",
    "blind": "acpo_bench.models.reference:blind",
    "qwen-omni": "acpo_bench.models.qwen_omni.adapter:qwen_omni",
    "qwen3-omni": "acpo_bench.models.qwen_omni.adapter:qwen3_omni",
    "qwen-omni-tiny": "acpo_bench.models.qwen_omni.adapter:qwen_omni_tiny",
    "qwen-omni-tiny-stamps": "acpo_bench.models.qwen_omni.adapter:qwen_omni_tiny_stamps",
    "openai-compatible": "acpo_bench.models.openai_compat:openai_compatible",
}

DESCRIPTIONS = {
    "audio-oracle": "reference: a perfect listener (answers from the true audible set)",
    "visual-prior": "reference: hears what it sees (answers audio questions from the visible set)",
    "always-yes": "reference: yes to everything, every class to open prompts",
    "blind": "reference: no media at all ('no', 'I cannot tell')",
    "qwen-omni": "Qwen2.5-Omni thinker via transformers (default Qwen/Qwen2.5-Omni-7B from the local HF cache; "
                 "path=DIR)",
    "qwen3-omni": "Qwen3-Omni thinker via transformers (default Qwen/Qwen3-Omni-30B-A3B-Instruct; path=DIR)",
    "qwen-omni-tiny": "the embedded model: a tiny Qwen2.5-Omni thinker trained on the synthetic world (CPU)",
    "qwen-omni-tiny-stamps": "the same tiny thinker trained on the real-media (stamps) world: real drawings and "
                             "recordings (CPU)",
    "openai-compatible": "a model behind an OpenAI-compatible server, e.g. vLLM serving Qwen2.5-Omni (url=..., "
                         "model=ID): each probe's frames and audio sent as one mp4",
}
