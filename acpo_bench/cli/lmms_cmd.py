"""``acpo-bench lmms export``: our tasks as an lmms-eval task folder (``lmms-eval --include_path DIR``).

Run them with any lmms-eval model, or with an acpo-bench adapter through the bridge:
``lmms-eval --model acpo --model_args model=audio-oracle --tasks acpo_swapped_audio --include_path DIR``.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from acpo_bench.cli.common import load_data, positive_float, positive_int, resolve_tasks
from acpo_bench.tasks.lmms_export import export


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lmms", help="the lmms-eval bridge", description=__doc__)
    lmms_sub = p.add_subparsers(dest="lmms_command", required=True, metavar="SUBCOMMAND")
    e = lmms_sub.add_parser("export", help="write an lmms-eval task folder", description=__doc__)
    e.add_argument("--tasks", default="core", help="a suite or task names separated by commas")
    e.add_argument("--data", default=None, help="a clip dataset or benchmark directory (default: synthetic world)")
    e.add_argument("--limit", type=positive_int("clips"), default=None, help="first N clips only")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--fps", type=positive_float("frame rate"), default=8.0,
                   help="frame rate of remuxed media (swapped/silent audio)")
    e.add_argument("--max-new-tokens", type=positive_int("tokens"), default=64)
    e.add_argument("--output-dir", required=True)
    e.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    tasks, suite_clips = resolve_tasks(args.tasks)
    clips = load_data(tasks, args.data, show_progress=False)
    clips = clips.head(args.limit if args.limit is not None else suite_clips)
    names = export(tasks, clips, args.output_dir, seed=args.seed, fps=args.fps, max_new_tokens=args.max_new_tokens)
    Console().print(f"wrote lmms-eval tasks {', '.join(names)} to {args.output_dir}\n"
                    f"run: lmms-eval --model acpo --model_args model=audio-oracle --tasks {','.join(names)} "
                    f"--include_path {args.output_dir}")
    return 0
