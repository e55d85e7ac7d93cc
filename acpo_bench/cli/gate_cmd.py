"""``acpo-bench gate``: fail CI when a candidate checkpoint regresses against its baseline beyond chance.

Exit 0: no gated metric regressed significantly beyond its tolerance; 1: at least one did; 2: the comparison is
invalid (missing or unpaired samples, other data or task versions, NaN, an unknown or undirected metric).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from acpo_bench.cli.common import positive_int
from acpo_bench.leaderboard import gate_report
from acpo_bench.leaderboard.gate import DEFAULT_GATE, GateMetric, parse_metric_spec, run_gate
from acpo_bench.leaderboard.pairing import InvalidComparison
from acpo_bench.leaderboard.runs import load_run
from acpo_bench.leaderboard.stats import DEFAULT_RESAMPLES
from acpo_bench.results import ResultsError

EXIT_PASS, EXIT_REGRESSION, EXIT_INVALID = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    default = ", ".join(m.key + (f":{m.tolerance}" if m.tolerance else "") for m in DEFAULT_GATE if m.gated)
    p = sub.add_parser("gate", help="CI regression gate: candidate vs baseline results", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", required=True, help="baseline results.json (or its directory)")
    p.add_argument("--candidate", required=True, help="candidate results.json (or its directory)")
    p.add_argument("--metric", action="append", default=None, metavar="TASK.METRIC[:TOL]",
                   help=f"a metric to gate, with an optional tolerance in its units (repeat; default: {default}; "
                        "visual_presence.swapped_accuracy is then reported, not gated)")
    p.add_argument("--report", action="append", default=[], metavar="TASK.METRIC",
                   help="a metric to test and show without gating it (repeat)")
    p.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate across gated metrics (Holm)")
    p.add_argument("--resamples", type=positive_int("bootstrap resamples"), default=DEFAULT_RESAMPLES,
                   help="clip bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (the gate is deterministic for a seed)")
    p.add_argument("--junit", default=None, metavar="FILE", help="write JUnit XML (one test case per metric)")
    p.add_argument("--summary", default=None, metavar="FILE",
                   help="append a markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(handler=run)


def metrics_from(args: argparse.Namespace) -> list[GateMetric]:
    specs = list(DEFAULT_GATE) if args.metric is None else [parse_metric_spec(m) for m in args.metric]
    specs += [GateMetric(parse_metric_spec(m).key, gated=False) for m in args.report]
    return specs


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:  # CI logs: wide enough that no metric name is cut
        console = Console(width=max(console.width, 150))
    try:
        specs = metrics_from(args)
        report = run_gate(load_run(args.baseline), load_run(args.candidate), specs, alpha=args.alpha,
                          n_resamples=args.resamples, seed=args.seed)
    except (InvalidComparison, ResultsError, ValueError) as exc:
        message = str(exc)
        Console(stderr=True).print(Text.assemble(("invalid comparison: ", "bold red"), message), soft_wrap=True,
                                   highlight=False)
        _write(args.junit, gate_report.invalid_junit(message), append=False)
        _write(args.summary, gate_report.invalid_markdown(message).encode(), append=True)
        return EXIT_INVALID
    console.print(gate_report.rich_table(report))
    for note in report.notes:
        console.print(f"[yellow]note[/yellow]: {note}", highlight=False)
    style = "bold green" if report.passed else "bold red"
    console.print(Text(gate_report.verdict(report), style=style))
    _write(args.junit, gate_report.junit(report), append=False)
    _write(args.summary, gate_report.markdown(report).encode(), append=True)
    return EXIT_PASS if report.passed else EXIT_REGRESSION


def _write(path: str | None, data: bytes, append: bool) -> None:
    """The summary appends (GitHub collects every step's lines in one file); JUnit is one document per run."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("ab" if append else "wb") as fh:
        fh.write(data)
