"""Helpers the commands share. Resolving task and model names and loading data live in acpo_bench.evaluation
(the pipeline uses them too) and are re-exported here for the commands."""

from __future__ import annotations

import re

from acpo_bench.evaluation import load_data, load_model, resolve_tasks

__all__ = ["load_data", "load_model", "resolve_tasks", "slug"]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"
