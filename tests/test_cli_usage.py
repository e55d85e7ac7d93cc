"""What the command line accepts before any work starts: counts that must be positive, suites inside a --tasks list,
and recipe overrides (key=value) anywhere on the line."""

from __future__ import annotations

import pytest

from acpo_bench.cli import build_parser, main, parse_arguments
from acpo_bench.registry import UnknownNameError
from acpo_bench.runner import EvalConfig
from acpo_bench.tasks.suites import SUITES
from acpo_bench.workflows.evaluation import resolve_tasks


def usage_error(argv: list[str], capsys) -> str:
    """The argparse error line of ``argv`` (exit 2), read before any model or data is loaded."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_eval_limit_must_be_a_positive_number_of_clips(limit, capsys):
    # --limit -1 used to slice off the last clip (239 of 240) and --limit 0 to write an empty run with exit 0
    line = usage_error(["eval", "--model", "blind", "--limit", limit, "--quiet"], capsys)
    assert line == f"acpo-bench eval: error: argument --limit: must be a positive number of clips, got {limit}"


@pytest.mark.parametrize(("argv", "option", "what"), [
    (["eval", "--model", "blind", "--limit", "x"], "--limit", "'x' is not a whole number; give a positive number "
                                                             "of clips"),
    (["eval", "--model", "blind", "--frames", "0"], "--frames", "must be a positive number of frames, got 0"),
    (["eval", "--model", "blind", "--fps", "-2"], "--fps", "must be a positive frame rate, got -2"),
    (["eval", "--model", "blind", "--batch-size", "0"], "--batch-size", "must be a positive number of requests per "
                                                                         "batch, got 0"),
    (["eval", "--model", "blind", "--max-new-tokens", "0"], "--max-new-tokens", "must be a positive number of "
                                                                                 "tokens, got 0"),
    (["sweep", "frames", "--model", "blind", "--limit", "0"], "--limit", "must be a positive number of clips, got 0"),
    (["pipeline", "--eval-clips", "0"], "--eval-clips", "must be a positive number of clips, got 0"),
    (["pipeline", "--train-clips", "-5"], "--train-clips", "must be a positive number of clips, got -5"),
    (["pipeline", "--seeds", "0"], "--seeds", "must be a positive number of training seeds, got 0"),
    (["data", "build", "synth", "--output-dir", "x", "--clips", "0"], "--clips",
     "must be a positive number of clips, got 0"),
    (["data", "synth", "--output-dir", "x", "--workers", "0"], "--workers",
     "must be a positive number of worker processes, got 0"),
    (["pairs", "build", "--output-dir", "x", "--world-clips", "-1"], "--world-clips",
     "must be a positive number of clips, got -1"),
    (["pairs", "build", "--output-dir", "x", "--on-policy-clips", "0"], "--on-policy-clips",
     "must be a positive number of clips, got 0"),
    (["lmms", "export", "--output-dir", "x", "--limit", "0"], "--limit", "must be a positive number of clips, got 0"),
    (["gate", "--baseline", "a", "--candidate", "b", "--resamples", "0"], "--resamples",
     "must be a positive number of bootstrap resamples, got 0"),
])
def test_counts_must_be_positive_everywhere(argv, option, what, capsys):
    assert usage_error(argv, capsys).endswith(f"error: argument {option}: {what}")


def test_the_runner_refuses_a_limit_that_is_not_a_count():
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="limit must be a positive number of clips"):
            EvalConfig(limit=bad)
    assert EvalConfig(limit=1).limit == 1 and EvalConfig().limit is None


def test_a_suite_inside_a_task_list_expands_in_order_and_once():
    core = SUITES["core"]
    tasks, clips = resolve_tasks("core,swapped_audio")  # used to say: unknown task 'core'
    assert list(tasks) == list(core.tasks) and clips == core.clips
    tasks, clips = resolve_tasks(" silent_video , core ,silent_video")
    assert list(tasks) == ["silent_video", *[t for t in core.tasks if t != "silent_video"]] and clips == core.clips
    tasks, clips = resolve_tasks("swapped_audio,silent_video")
    assert list(tasks) == ["swapped_audio", "silent_video"] and clips is None
    with pytest.raises(ValueError, match=r"different numbers of clips \(all: all clips, core: 48 clips\)"):
        resolve_tasks("all,core")
    with pytest.raises(UnknownNameError, match="unknown task 'nope'"):
        resolve_tasks("core,nope")
    with pytest.raises(ValueError, match="--tasks is empty"):
        resolve_tasks(" , ")


@pytest.mark.parametrize(("argv", "expected"), [
    (["zoo", "build", "tiny-stamps", "--output-dir", "X", "steps=300"], ["steps=300"]),
    (["zoo", "build", "tiny", "steps=1", "--no-eval", "lr=2", "--quiet", "steps=3"], ["steps=1", "lr=2", "steps=3"]),
    (["train", "--model", "qwen-omni-tiny", "--pairs", "p", "beta=0.1", "--recipe", "r.yaml", "--output-dir", "o",
      "kind_weights=audible:0.6,visible_silent:0.4", "--resume"], ["beta=0.1",
                                                                   "kind_weights=audible:0.6,visible_silent:0.4"]),
    (["pipeline", "--seeds", "2", "steps=10", "--quiet", "sft_replay=2.0"], ["steps=10", "sft_replay=2.0"]),
    (["pipeline", "steps=10"], ["steps=10"]),
    (["pipeline"], []),
])
def test_overrides_are_taken_anywhere_on_the_line(argv, expected):
    args = parse_arguments(build_parser(), argv)
    assert args.overrides == expected


def test_options_around_the_overrides_keep_their_values():
    args = parse_arguments(build_parser(), ["zoo", "build", "tiny-stamps", "--output-dir", "X", "steps=300",
                                            "--no-eval"])
    assert (args.name, args.output_dir, args.no_eval, args.overrides) == ("tiny-stamps", "X", True, ["steps=300"])


@pytest.mark.parametrize("argv", [
    ["zoo", "build", "tiny", "--output-dir", "X", "steps=300", "--bogus"],
    ["train", "--model", "m", "--pairs", "p", "--recipe", "r", "--output-dir", "o", "beta=1", "--resume", "stray"],
    ["eval", "--model", "blind", "steps=3"],  # eval takes no recipe overrides
])
def test_other_unknown_arguments_are_still_refused(argv, capsys):
    assert "acpo-bench: error: unrecognized arguments: " in usage_error(argv, capsys)
