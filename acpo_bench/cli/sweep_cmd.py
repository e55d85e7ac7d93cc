"""``acpo-bench sweep frames``: VAHR against the number of video frames (acpo_bench/workflows/sweep.py); the curve
is printed and written."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench.adapter import parse_model_args
from acpo_bench.cli.common import default_output_dir, load_data, load_model, positive_int, resolve_tasks
from acpo_bench.cli.tables import fmt, fmt_ci, print_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="sweeps over an evaluation setting", description="sweeps")
    sweep_sub = p.add_subparsers(dest="sweep_command", required=True, metavar="SUBCOMMAND")
    f = sweep_sub.add_parser("frames", help="VAHR against the number of frames", description=__doc__)
    f.add_argument("--model", required=True)
    f.add_argument("--model-args", default="")
    f.add_argument("--adapter", default=None)
    f.add_argument("--frames", default="1,2,4,8", help="frame counts, comma-separated")
    f.add_argument("--tasks", default="swapped_audio,silent_video,visual_presence")
    f.add_argument("--data", default=None)
    f.add_argument("--limit", type=positive_int("clips"), default=None, help="use only the first N clips")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--batch-size", type=positive_int("requests per batch"), default=None)
    f.add_argument("--output-dir", default=None,
                   help="default: runs/sweep-frames-<model>/<tasks>[-limitN][-<data>], one folder per setting")
    f.add_argument("--quiet", action="store_true")
    f.set_defaults(handler=run)


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--frames {text!r}: give frame counts separated by commas, e.g. 1,2,4,8") from None
    if not counts or min(counts) < 1:
        raise ValueError("--frames: every count must be >= 1")
    return counts


def run(args: argparse.Namespace) -> int:
    from acpo_bench.workflows.sweep import CURVE_FILE, frames_sweep

    counts = parse_counts(args.frames)
    tasks, suite_clips = resolve_tasks(args.tasks)
    adapter = load_model(args.model, parse_model_args(args.model_args), args.adapter)
    clips = load_data(tasks, args.data, show_progress=not args.quiet, world=getattr(adapter, "world", None))
    output = Path(args.output_dir or default_output_dir("sweep-frames-", args, suite_clips,
                                                        getattr(adapter, "world", None),
                                                        [f"seed{args.seed}"] if args.seed else []))
    document = frames_sweep(adapter, {"name": args.model, "adapter": args.adapter}, tasks, clips, counts, output,
                            seed=args.seed, limit=args.limit or suite_clips, batch_size=args.batch_size,
                            show_progress=not args.quiet)
    console = Console()
    print_table(console, curve_table(document))
    console.print(f"curve: {output / CURVE_FILE}", soft_wrap=True)
    return 0


def curve_table(document: dict) -> Table:
    table = Table(title=f"VAHR vs frames · {document['model']['name']}", title_justify="left")
    keys = [k for k in document["curve"][0] if k != "frames"]
    table.add_column("frames", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    for point in document["curve"]:
        cells = [f"{fmt(point[k]['value'])} {fmt_ci(point[k]['ci95'])}" if point.get(k) else "—" for k in keys]
        table.add_row(str(point["frames"]), *cells)
    return table
