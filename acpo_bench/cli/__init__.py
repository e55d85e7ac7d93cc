"""The ``acpo-bench`` command line: one module per command, assembled here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from acpo_bench import __version__
from acpo_bench.cli import (
    data_cmd,
    eval_cmd,
    gate_cmd,
    leaderboard_cmd,
    list_cmd,
    lmms_cmd,
    pipeline_cmd,
    plot_cmd,
    probes_cmd,
    score_cmd,
    sweep_cmd,
    train_cmd,
    view_cmd,
    zoo_cmd,
)
from acpo_bench.cli.common import split_overrides

COMMANDS = (eval_cmd, list_cmd, data_cmd, score_cmd, probes_cmd, lmms_cmd, gate_cmd, leaderboard_cmd, plot_cmd,
            zoo_cmd, sweep_cmd, train_cmd, pipeline_cmd, view_cmd)
err_console = Console(stderr=True)


class UsageError(Exception):
    """Bad input: printed as one clear line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acpo-bench", description="Does your audio-visual LM really listen?")
    parser.add_argument("--version", action="version", version=f"acpo-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, except that a command's ``key=value`` recipe overrides may stand anywhere on the line (argparse
    alone takes them only before the first option that follows the command's positionals)."""
    args, unknown = parser.parse_known_args(argv)
    rest = split_overrides(args, unknown)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]: answers committed so far are kept in the cache; rerun to resume")
        return 130
    except Exception as exc:  # every expected failure type carries a message written for the user
        if not _is_user_error(exc):
            raise
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True, highlight=False)
        return 2


def _is_user_error(exc: Exception) -> bool:
    from acpo_bench.adapter import ModelLoadError
    from acpo_bench.cache import CacheMismatchError
    from acpo_bench.clips import DatasetError
    from acpo_bench.registry import UnknownNameError
    from acpo_bench.results import ResultsError
    from acpo_bench.runner import ScoringError
    from acpo_bench.worlds import WorldUnavailable

    return isinstance(exc, (UsageError, ModelLoadError, CacheMismatchError, DatasetError, UnknownNameError,
                            ResultsError, ScoringError, WorldUnavailable, FileExistsError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
