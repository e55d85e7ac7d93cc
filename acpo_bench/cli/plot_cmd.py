"""``acpo-bench plot``: a before/after figure (PNG or SVG) of runs, one panel per metric with 95% CI error bars.
The first RESULTS is "before"."""

from __future__ import annotations

import argparse
import sys

from acpo_bench.leaderboard.plot import plot
from acpo_bench.leaderboard.runs import load_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="before/after figure of runs (PNG/SVG)", description=__doc__)
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="results.json files or their directories; the first is 'before'")
    p.add_argument("--output", required=True, metavar="FILE", help="the figure: .png or .svg")
    p.add_argument("--metrics", default=None, metavar="M1,M2",
                   help="task.metric names or ags (default: ags and the gate's metrics)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    path = plot([load_run(p) for p in args.results], args.output, metrics)
    print(f"figure: {path}", file=sys.stderr)
    return 0
