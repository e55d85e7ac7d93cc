"""Helpers the commands share. Resolving task and model names and loading data live in acpo_bench.workflows.evaluation
(the pipeline uses them too) and are re-exported here for the commands."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from acpo_bench.schemas import stable_hash
from acpo_bench.workflows.evaluation import load_data, load_model, resolve_tasks, task_tokens
from acpo_bench.worlds import WORLDS, world_for

__all__ = ["default_output_dir", "eval_settings", "load_data", "load_model", "positive_float", "positive_int",
           "resolve_tasks", "slug", "split_overrides"]

# a recipe override as the training commands take it: key=value, the key a (dotted) identifier
OVERRIDE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")
# a folder name made of many task names is shortened to a count and a hash beyond this length
MAX_TASKS_LABEL = 60


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def positive_int(what: str) -> Callable[[str], int]:
    """An argparse type for a count that must be at least 1 (``--limit``, ``--clips``, ``--seeds``...). Zero or a
    negative number is a usage error naming ``what``: as a Python slice, ``--limit -1`` would quietly mean "all
    clips but the last" and ``--limit 0`` an empty run."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give a positive number of "
                                             f"{what}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive number of {what}, got {value}")
        return value
    return parse


def positive_float(what: str) -> Callable[[str], float]:
    """An argparse type for a rate that must be above 0 (``--fps``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a positive {what}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive {what}, got {text}")
        return value
    return parse


def split_overrides(args: argparse.Namespace, unknown: Sequence[str]) -> list[str]:
    """Take the ``key=value`` tokens argparse could not place into ``args.overrides`` (for commands that have
    recipe overrides); return the tokens that remain unrecognized. argparse fills a ``nargs="*"`` positional at
    its first chance, so ``zoo build tiny --output-dir X steps=300`` leaves ``steps=300`` over; the order of the
    command line is kept, the later of two equal keys winning as in the recipe loader."""
    if not hasattr(args, "overrides"):
        return list(unknown)
    rest = []
    for token in unknown:
        if OVERRIDE.match(token):
            args.overrides = [*args.overrides, token]
        else:
            rest.append(token)
    return rest


def default_output_dir(kind: str, args: argparse.Namespace, suite_clips: int | None, declared_world: str | None,
                       settings: Sequence[str] = ()) -> Path:
    """``runs/<kind><model>[-<adapter>]/<suite or tasks>[-limitN][-<data>][-<settings>]``: a run's default folder
    names what it was given besides the defaults, so runs with different settings never share a folder (a results
    file and its samples would be overwritten) while a rerun of the same command finds its answer cache.
    ``settings`` are the command's other non-default options, already labelled (see ``eval_settings``)."""
    model = kind + slug(args.model) + (f"-{slug(Path(args.adapter).name)}" if args.adapter else "")
    parts = [_tasks_label(args.tasks)]
    if args.limit is not None and args.limit != suite_clips:
        parts.append(f"limit{args.limit}")
    if args.data is not None and not (args.data in WORLDS and args.data == world_for(declared_world)):
        parts.append(slug(args.data if args.data in WORLDS else Path(args.data).expanduser().resolve().name))
    return Path("runs") / model / "-".join([*parts, *settings])


def eval_settings(args: argparse.Namespace) -> list[str]:
    """Labels of eval's options that change answers, where they differ from the defaults."""
    labels = [args.scoring] if args.scoring != "auto" else []
    labels += [f"{label}{value:g}" for label, value in (("frames", args.frames), ("fps", args.fps),
                                                        ("tokens", args.max_new_tokens)) if value is not None]
    return labels + ([f"seed{args.seed}"] if args.seed else [])


def _tasks_label(spec: str) -> str:
    tokens = task_tokens(spec)
    label = "+".join(slug(t) for t in tokens)
    if len(label) > MAX_TASKS_LABEL:
        label = f"{len(tokens)}-tasks-{stable_hash(*tokens, length=8)}"
    return label
