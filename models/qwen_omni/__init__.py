"""Qwen-Omni thinkers through transformers: the adapter (adapter.py), per-media input building (features.py) and
the embedded tiny model's architecture (tiny.py)."""
