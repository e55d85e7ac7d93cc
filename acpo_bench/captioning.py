"""CIDEr-D from pycocoevalcap (the COCO caption evaluation code), with a light tokenizer.

pycocoevalcap's PTBTokenizer shells out to Java; lower-casing and stripping punctuation is what it does to plain
captions, so we tokenize in Python and hand the scorer whitespace-joined tokens.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def cider_scores(candidates: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """Per-item CIDEr-D x 100 (the scale papers report); IDF comes from this corpus of references."""
    from pycocoevalcap.cider.cider import Cider

    keys = [k for k in candidates if references.get(k)]
    if not keys:
        return {}
    gts = {k: [normalize(r) for r in references[k]] for k in keys}
    res = {k: [normalize(candidates[k]) or "empty"] for k in keys}
    _, per_item = Cider().compute_score(gts, res)
    return {k: float(s) * 100 for k, s in zip(gts, per_item, strict=True)}
