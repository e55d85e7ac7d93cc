"""``acpo-bench sweep frames``: VAHR against the number of video frames (the ACPO paper's probe: more frames, more
audio hallucination). Each point is a full evaluation at that frame count; the curve is printed and written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench.adapter import parse_model_args
from acpo_bench.cache import ResponseCache
from acpo_bench.cli.common import default_output_dir, load_data, load_model, positive_int, resolve_tasks
from acpo_bench.cli.tables import fmt, fmt_ci, print_table
from acpo_bench.media import MediaSpec
from acpo_bench.results import atomic_write
from acpo_bench.runner import EvalConfig, evaluate

CURVE_METRICS = (("swapped_audio", "vahr_yn"), ("swapped_audio", "vahr_open"), ("swapped_audio", "invariance_yn"),
                 ("silent_video", "silent_hallucination_rate"), ("visual_presence", "own_accuracy"))


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
    counts = parse_counts(args.frames)
    tasks, suite_clips = resolve_tasks(args.tasks)
    adapter = load_model(args.model, parse_model_args(args.model_args), args.adapter)
    clips = load_data(tasks, args.data, show_progress=not args.quiet, world=getattr(adapter, "world", None))
    output = Path(args.output_dir or default_output_dir("sweep-frames-", args, suite_clips,
                                                        getattr(adapter, "world", None),
                                                        [f"seed{args.seed}"] if args.seed else []))
    output.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(output / "cache.sqlite", adapter.fingerprint())  # the frame count is part of each key
    curve = []
    try:
        for count in counts:
            config = EvalConfig(media=MediaSpec(frames=count), seed=args.seed, limit=args.limit or suite_clips,
                                batch_size=args.batch_size or adapter.default_batch_size)
            outcome = evaluate(adapter, tasks, clips, config, cache, show_progress=not args.quiet)
            point = {"frames": count}
            for task, metric in CURVE_METRICS:
                if task in outcome.tasks:
                    value = outcome.tasks[task].summary.metrics.get(metric)
                    point[f"{task}.{metric}"] = value.to_json() if value else None
            curve.append(point)
    finally:
        cache.close()
    document = {"model": {"name": args.model, "adapter": args.adapter, "fingerprint": adapter.fingerprint()},
                "data": {"name": clips.name, "fingerprint": clips.head(args.limit or suite_clips).fingerprint()},
                "seed": args.seed, "curve": curve}
    atomic_write(output / "frames_curve.json", (json.dumps(document, indent=2) + "\n").encode())
    console = Console()
    print_table(console, curve_table(document))
    console.print(f"curve: {output / 'frames_curve.json'}", soft_wrap=True)
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
