"""How often a model's open answers lose their format, per run directory.

    python tools/open_answer_format.py RUN_DIR [RUN_DIR ...]

Counts, among the open answers of swapped_audio and silent_video (sound lists and captions), those that run on into
a glued "yes"/"no" token ("the video shows a carno"), those that are a bare "yes"/"no", and empty ones (the model
stopped at once). A bare "no" or an empty answer names no sound, so it never counts as a hallucination: this is
where a preference-tuned model can look cured by saying nothing. A word runs on when it
ends in yes/no, is not itself a known word, and what precedes the tail is one; known words are the runs' labels and
reference captions. Written by hand: it is a check of one failure of preference tuning on the embedded model
(README, "Results on the embedded model"), not a metric any library has.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench.cli.tables import print_table
from acpo_bench.results import load_results, load_sample_rows

TASKS = ("swapped_audio", "silent_video")
TAILS = ("yes", "no")


def words_of(text: str) -> list[str]:
    return text.lower().replace(",", " ").replace(".", " ").split()


def open_rows(run: Path) -> Iterator[dict]:
    tasks = load_results(run)["tasks"]
    for task in TASKS:
        if task in tasks:
            yield from (row for row in load_sample_rows(run, task)
                        if row["kind"] != "yes_no" and row.get("response") is not None)


def known_words(rows: Iterable[dict]) -> set[str]:
    words = set(TAILS)
    for row in rows:
        words |= {*row["visible"], *row["audible"]}
        for reference in row.get("references") or ():
            words |= set(words_of(reference))
    return words


def answer_format(response: str, words: set[str]) -> str:
    """'empty', 'bare' (the whole answer is yes/no), 'run-on' (a word with a glued yes/no tail) or 'ok'."""
    text = response.strip().lower()
    if not text:
        return "empty"
    if text in TAILS:
        return "bare"
    for word in words_of(text):
        for tail in TAILS:
            if word != tail and word.endswith(tail) and word not in words and word[: -len(tail)] in words:
                return "run-on"
    return "ok"


def count(rows: Iterable[dict], words: set[str]) -> Counter:
    """(kind, format) -> answers, kind 'list' (list_sounds) or 'caption' (describe_*), plus (kind, 'all')."""
    counts = Counter()
    for row in rows:
        kind = "caption" if row["question"].startswith("describe") else "list"
        counts[kind, "all"] += 1
        counts[kind, answer_format(row["response"], words)] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (results.json and samples)")
    args = parser.parse_args(argv)
    rows = {run: list(open_rows(run)) for run in args.runs}
    words = known_words(row for run_rows in rows.values() for row in run_rows)
    table = Table(title="open answers that lose their format")
    for column in ("run", "lists", "run-on", "bare", "empty", "captions", "run-on", "bare", "empty"):
        table.add_column(column, justify="left" if column == "run" else "right", overflow="fold")
    for run, run_rows in rows.items():
        c = count(run_rows, words)
        cells = (str(c[kind, fmt]) for kind in ("list", "caption") for fmt in ("all", "run-on", "bare", "empty"))
        table.add_row(str(run), *cells)
    print_table(Console(), table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
