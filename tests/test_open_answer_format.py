"""tools/open_answer_format.py: which open answers count as run-on or bare, on hand-made answers and on the
committed base and tuned samples of the ACPO pipeline."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("open_answer_format", ROOT / "tools" / "open_answer_format.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

WORDS = {"yes", "no", "car", "piano", "a", "the", "video", "shows", "bird", "and", "nothing", "siren"}


def row(question: str, response: str) -> dict:
    return {"question": question, "response": response, "kind": "open"}


def test_glued_tails_run_on_but_words_ending_in_them_do_not():
    assert tool.answer_format("the video shows a carno", WORDS) == "run-on"
    assert tool.answer_format("bird and sirenyes", WORDS) == "run-on"
    assert tool.answer_format("the video shows a piano", WORDS) == "ok"  # pia + no: a word of its own
    assert tool.answer_format("casino", WORDS) == "ok"  # "casi" is no known word
    assert tool.answer_format("nothing", WORDS) == "ok"
    assert tool.answer_format(" No ", WORDS) == "bare"
    assert tool.answer_format("  ", WORDS) == "empty"


def test_counts_split_lists_from_captions():
    rows = [row("list_sounds", "bird and sirenno"), row("list_sounds", "no"), row("list_sounds", "bird"),
            row("describe_visual", "the video shows a carno"), row("describe_audio", "yes")]
    counts = tool.count(rows, WORDS)
    assert counts["list", "all"] == 3 and counts["list", "run-on"] == 1 and counts["list", "bare"] == 1
    assert counts["caption", "all"] == 2 and counts["caption", "run-on"] == 1 and counts["caption", "bare"] == 1


def test_committed_runs_are_read_with_their_labels():
    base = ROOT / "leaderboard" / "results" / "acpo-tiny" / "base"
    rows = list(tool.open_rows(base))
    assert {r["question"] for r in rows} == {"list_sounds", "describe_audio", "describe_visual"}
    words = tool.known_words(rows)
    assert {"bird", "siren", "yes", "no"} <= words and "sirenno" not in words
    counts = tool.count(rows, words)
    assert counts["list", "all"] == 4800 and counts["caption", "all"] == 2400
