"""CIDEr-D from pycocoevalcap (the COCO caption evaluation code), with a light tokenizer.

pycocoevalcap's PTBTokenizer shells out to Java; lower-casing and stripping punctuation is what it does to plain
captions, so we tokenize in Python and hand the scorer whitespace-joined tokens.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pycocoevalcap.meteor.meteor import Meteor

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


def meteor_available() -> str | None:
    """None when METEOR can run here, else the reason (pycocoevalcap's METEOR 1.5 is a Java program)."""
    import shutil

    if shutil.which("java") is None:
        return "java not found on PATH (METEOR 1.5 runs on Java; install a JRE to get the meteor metric)"
    return None


def meteor_scores(candidates: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """Per-item METEOR x 100 from pycocoevalcap's METEOR 1.5 (Java). Raises RuntimeError with the reason when the
    scorer cannot run; callers report the metric as absent rather than failing a run."""
    reason = meteor_available()
    if reason:
        raise RuntimeError(reason)
    from pycocoevalcap.meteor.meteor import Meteor

    keys = [k for k in candidates if references.get(k)]
    if not keys:
        return {}
    gts = {k: [normalize(r) for r in references[k]] for k in keys}
    res = {k: [normalize(candidates[k]) or "empty"] for k in keys}
    try:
        scorer = Meteor()
    except OSError as exc:
        raise RuntimeError(f"cannot start METEOR ({exc})") from None
    try:
        _, per_item = scorer.compute_score(gts, res)
    except (ValueError, OSError, BrokenPipeError) as exc:
        raise RuntimeError(f"METEOR failed ({type(exc).__name__}: {exc})") from None
    finally:
        _stop_meteor(scorer)
    return {k: float(s) * 100 for k, s in zip(gts, per_item, strict=True)}


def _stop_meteor(scorer: Meteor) -> None:
    """pycocoevalcap's Meteor.__del__ kills the Java process but leaves its stdout pipe open (a ResourceWarning on
    every run); stop it here and close all three pipes. Its __del__ then repeats idempotent calls only (close on a
    closed pipe, kill and wait on a reaped process)."""
    process = scorer.meteor_p
    with scorer.lock:
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.kill()
        process.wait()
