"""``acpo-bench leaderboard``: a table of runs for a README (md), a web page (html), a paper (latex) or a sheet (csv).

Refuses runs that measured different things (other data, other task versions) unless --allow-mixed, which lists them
marked with †.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acpo_bench.leaderboard import html, tables
from acpo_bench.leaderboard.runs import load_run
from acpo_bench.results import atomic_write

RENDERERS = {"md": tables.markdown, "csv": tables.csv_text, "latex": tables.latex, "html": html.page}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="tables of results (md, html, latex, csv)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results.json files or the directories holding them")
    p.add_argument("--format", choices=sorted(RENDERERS), default="md")
    p.add_argument("--output", default=None, metavar="FILE", help="write here instead of standard output")
    p.add_argument("--baseline", default=None, metavar="NAME",
                   help="add a Δ-vs-baseline column group (a run's label, model name or results path)")
    p.add_argument("--sort", default=None, metavar="METRIC",
                   help="task.metric to sort by, best first (default: ags, the audio grounding score)")
    p.add_argument("--metrics", default=None, metavar="M1,M2",
                   help="columns to show (task.metric or ags; default: ags and each task's headline metrics)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="list runs with other data or task versions anyway, marked †")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    runs = [load_run(path) for path in args.results]
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    board = tables.build(runs, baseline=args.baseline, sort=args.sort, allow_mixed=args.allow_mixed,
                         metrics=metrics)
    text = RENDERERS[args.format](board)
    if args.output:
        atomic_write(Path(args.output), text.encode())
        print(f"{args.format} leaderboard of {len(runs)} runs: {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
