"""Model adapters, installed as ``acpo_bench.models``. Each entry is a ``load(model_args, adapter)`` factory;
third-party adapters register under the entry-point group ``acpo_bench.models``."""

BUILTIN = {
    "audio-oracle": "acpo_bench.models.reference:audio_oracle",
    "visual-prior": "acpo_bench.models.reference:visual_prior",
    "always-yes": "acpo_bench.models.reference:always_yes",
    "blind": "acpo_bench.models.reference:blind",
}

DESCRIPTIONS = {
    "audio-oracle": "reference: a perfect listener (answers from the true audible set)",
    "visual-prior": "reference: hears what it sees (answers audio questions from the visible set)",
    "always-yes": "reference: yes to everything, every class to open prompts",
    "blind": "reference: no media at all ('no', 'I cannot tell')",
}
