"""Helpers shared by the loaders of external benchmarks (AVHBench, CMM): reading annotation files, finding media,
reporting missing videos, and the yes/no scorer that applies a named answer rule."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from acpo_bench.clips import DatasetError
from acpo_bench.lexicon import Lexicon
from acpo_bench.media import MediaError, content_id
from acpo_bench.schemas import Probe, Response, SampleRecord, scored_record
from acpo_bench.scoring import score_probe
from acpo_bench.tasks._answer_rules import RULES

SHOW_MISSING = 5
MISSING_MEDIA = "media file missing (--skip-missing)"
MISSING_SUFFIX = ":missing"  # the content id of a clip whose media is not there (see media_id's callers)


def read_records(path: Path) -> list[dict]:
    """A JSON list of objects, or JSON Lines (one object per line); errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from None
        where = [f"item {i}" for i in range(len(rows))]
    else:
        rows, where = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: line {number} is not valid JSON ({exc}); expected JSON Lines, "
                                   "one object per line, or a JSON list") from None
            where.append(f"line {number}")
    for row, place in zip(rows, where, strict=True):
        if not isinstance(row, dict):
            raise DatasetError(f"{path}: {place} is {type(row).__name__}, expected a JSON object")
    return rows


def require(path: Path, place: str, row: dict, fields: Iterable[str]) -> None:
    missing = [f for f in fields if row.get(f) in (None, "")]
    if missing:
        raise DatasetError(f"{path}: {place} lacks field(s) {missing} (has {sorted(row)})")


def missing_message(missing: Sequence[str], total: int, source: Path, looked_in: str, what: str = "videos") -> str:
    shown = ", ".join(missing[:SHOW_MISSING]) + (", ..." if len(missing) > SHOW_MISSING else "")
    return (f"{len(missing)} of {total} {what} named by {source} are missing ({looked_in}): {shown}. "
            f"Download them (README.md, 'Real benchmarks'), or pass --skip-missing to evaluate the "
            f"{total - len(missing)} present ones (the count of skipped clips is recorded in the results)")


def media_id(prefix: str, key: str, path: Path) -> str:
    """Content id of a benchmark clip: the benchmark's own id plus a hash of the file (so stand-in or re-encoded
    copies never share answers with the real files, and two videos never share an id even if byte-identical)."""
    try:  # size plus the first and last 64 KiB: a few hundred MB read for AVHBench's 2,136 videos, not GBs
        return f"{prefix}:{key}:{content_id(path, chunk=1 << 16)}"
    except MediaError:
        return f"{prefix}:{key}:unreadable"


def rule_scorer(rule_name: str):
    """Task.score for yes/no probes under the named answer rule; open and caption probes score as usual."""
    rule = RULES[rule_name]

    def score(probe: Probe, response: Response, lexicon: Lexicon) -> SampleRecord:
        if probe.kind != "yes_no":
            return score_probe(probe, response, lexicon)
        answer, correct = rule(response.text, probe.expected)
        why = (f"{rule_name} rule: read {answer}, expected {probe.expected}" if answer != "invalid" else
               f"{rule_name} rule: no yes/no in {response.text[:60]!r}: counted as wrong")
        return scored_record(probe, response, answer, correct, why, rule=rule_name)
    return score
