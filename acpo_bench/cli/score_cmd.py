"""``acpo-bench score``: re-score existing predictions (a benchmark's released file, or acpo-bench samples) without
running a model; print the metrics and optionally write results.json + samples_<task>.jsonl."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench import provenance
from acpo_bench.cli.common import resolve_tasks
from acpo_bench.cli.tables import fmt, fmt_ci, print_summary
from acpo_bench.lexicon import Lexicon
from acpo_bench.results import SCHEMA_VERSION, task_block, write_results, write_samples
from acpo_bench.runner import TaskOutcome
from acpo_bench.workflows.rescore import rescore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="re-score existing predictions without a model", description=__doc__)
    p.add_argument("--task", required=True, help="the task whose scorer and metrics to use (e.g. cmm_official)")
    p.add_argument("--predictions", required=True,
                   help="a predictions file: CMM's final_output.json, AVHBench {video_id, task, text, label, pred} "
                        "lines, or an acpo-bench samples_<task>.jsonl; any of them may be gzipped (name ending .gz)")
    p.add_argument("--lexicon", default=None, help="lexicon.json for open answers in samples files "
                                                   "(default: the label names found in the records)")
    p.add_argument("--output-dir", default=None, help="also write results.json and samples_<task>.jsonl here")
    p.add_argument("--seed", type=int, default=0, help="bootstrap resamples")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started_at, started = datetime.now(timezone.utc), time.perf_counter()
    console = Console()
    tasks, _ = resolve_tasks(args.task)
    if len(tasks) != 1:
        raise ValueError("--task takes one task name")
    (name, task), = tasks.items()
    lexicon = Lexicon.load(args.lexicon) if args.lexicon else None
    out = rescore(task, args.predictions, lexicon, seed=args.seed)
    outcome = TaskOutcome(task, out.probes, out.records, out.summary, skipped=0)
    source = Path(args.predictions)
    named = source.with_suffix("") if source.suffix == ".gz" else source  # gzipped or not: the same results
    results = {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": f"predictions:{named.name}", "adapter": None, "fingerprint": out.fingerprint,
                  "parameters": None, "args": {}},
        "config": {"tasks": [name], "scoring": "rescore", "frames": None, "fps": None, "seed": args.seed,
                   "batch_size": None, "limit": None, "max_new_tokens": None, "source_format": out.source_format,
                   "data": {"name": named.stem, "fingerprint": out.fingerprint,
                            "clips": len({r.clip_id for r in out.records})}},
        "tasks": {name: task_block(outcome, {"path": None, "sha256": None})},
        "summary": {"audio_grounding_score": None},
    }
    if args.output_dir:
        samples = write_samples(args.output_dir, name, out.records, out.summary.contributions)
        results["tasks"][name]["samples"] = samples
    results["run_info"] = {"started": started_at.isoformat(timespec="seconds"),
                           "duration_s": round(time.perf_counter() - started, 3), "host": provenance.host(),
                           "versions": provenance.versions(), "git_commit": provenance.git_commit(),
                           "command": provenance.command_line(), "predictions": str(source.resolve())}
    print_summary(results, console)
    console.print(counts_table(name, out.summary, task.headline))
    console.print(f"{len(out.records)} predictions ({out.source_format}) from {source}")
    if args.output_dir:
        console.print(f"results: {write_results(args.output_dir, results)}")
    return 0


def counts_table(name: str, summary, headline) -> Table:
    """Headline metrics as hits / total (the form papers' scripts print), summed from per-record contributions."""
    table = Table(title=f"{name}: counts", title_justify="left")
    for column, justify in (("metric", "left"), ("value", "right"), ("hits / total", "right"), ("95% CI", "right")):
        table.add_column(column, justify=justify)
    for metric in headline:
        value = summary.metrics.get(metric)
        if value is None:
            continue
        parts = [c[metric] for c in summary.contributions.values() if metric in c]
        num, den = sum(p[0] for p in parts), sum(p[1] for p in parts)
        table.add_row(metric, fmt(value.value), f"{num:g} / {den:g}", fmt_ci(value.ci95 and list(value.ci95)))
    return table
