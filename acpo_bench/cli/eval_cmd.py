"""``acpo-bench eval``: score a model on tasks, write results.json + samples_<task>.jsonl, print a summary."""

from __future__ import annotations

import argparse

from rich.console import Console

from acpo_bench import distributed
from acpo_bench.adapter import parse_model_args
from acpo_bench.cli.common import (
    default_output_dir,
    eval_settings,
    load_data,
    load_model,
    positive_float,
    positive_int,
    resolve_tasks,
)
from acpo_bench.cli.tables import print_summary
from acpo_bench.cli.view_cmd import view_hint
from acpo_bench.media import MediaSpec
from acpo_bench.runner import EvalConfig, EvalOutcome
from acpo_bench.workflows.evaluation import ModelSpec, evaluate_to_dir

EXIT_TOO_MANY_ERRORS = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model", description=__doc__)
    p.add_argument("--model", required=True, help="adapter name (see `acpo-bench list`)")
    p.add_argument("--model-args", default="", help="k=v,... passed to the adapter (e.g. path=/ckpt,dtype=bf16)")
    p.add_argument("--adapter", default=None, help="a fine-tuned adapter directory (e.g. a LoRA from acpo-bench train)")
    p.add_argument("--tasks", default="all", help="a suite (all, core) or task names separated by commas; a suite "
                                                  "in the list stands for its tasks (core,avhbench...)")
    p.add_argument("--data", default=None,
                   help="a clip dataset directory, or a generated world by name: stamps (real media) or synth "
                        "(default: the world the checkpoint declares, else stamps)")
    p.add_argument("--limit", type=positive_int("clips"), default=None, help="use only the first N clips")
    p.add_argument("--skip-missing", action="store_true",
                   help="benchmarks with their own files (avhbench, cmm): evaluate the items whose videos are "
                        "present; the missing clips are counted as the task's 'skipped'")
    p.add_argument("--scoring", choices=("auto", "loglik", "generate"), default="auto",
                   help="yes/no by choice log-probs (loglik), by generation, or loglik where the adapter can (auto)")
    p.add_argument("--frames", type=positive_int("frames"), default=None,
                   help="frames sampled per clip (default: the adapter's, or 2)")
    p.add_argument("--fps", type=positive_float("frame rate"), default=None,
                   help="sample frames at this rate instead of a fixed count")
    p.add_argument("--batch-size", type=positive_int("requests per batch"), default=None)
    p.add_argument("--max-new-tokens", type=positive_int("tokens"), default=None,
                   help="generation length for open prompts (default: the adapter's, or 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default=None,
                   help="where results, samples and the answer cache go (default: runs/<model>/<suite or "
                        "tasks>[-limitN][-<data>]..., one folder per setting; a rerun resumes from its cache, and "
                        "a folder holding a run with other settings is refused)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the answer cache")
    p.add_argument("--max-error-rate", type=float, default=None,
                   help=f"exit {EXIT_TOO_MANY_ERRORS} when more than this share of probes ended in errors")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def media_spec(args: argparse.Namespace, adapter) -> MediaSpec:
    if args.frames is not None and args.fps is not None:
        raise ValueError("give --frames or --fps, not both")
    if args.frames is not None or args.fps is not None:
        return MediaSpec(frames=args.frames, fps=args.fps)
    return getattr(adapter, "media_spec", None) or MediaSpec()


def run(args: argparse.Namespace) -> int:
    console = Console()
    shard = distributed.from_env()  # under torchrun: this rank answers its share, rank 0 writes the files
    quiet = args.quiet or (shard is not None and not shard.is_main)
    if shard is not None:
        distributed.use_local_device(shard)
    tasks, suite_clips = resolve_tasks(args.tasks)
    spec = ModelSpec(args.model, parse_model_args(args.model_args), args.adapter)
    adapter = load_model(spec.name, spec.args, spec.adapter)
    clips = load_data(tasks, args.data, show_progress=not quiet, skip_missing=args.skip_missing,
                      world=getattr(adapter, "world", None))
    limit = args.limit if args.limit is not None else suite_clips
    config = EvalConfig(scoring=args.scoring, media=media_spec(args, adapter), seed=args.seed,
                        batch_size=args.batch_size or adapter.default_batch_size, limit=limit,
                        max_new_tokens=args.max_new_tokens or getattr(adapter, "max_new_tokens", None) or 64)
    output_dir = args.output_dir or default_output_dir("", args, suite_clips, getattr(adapter, "world", None),
                                                       eval_settings(args))
    run = evaluate_to_dir(spec, adapter, tasks, clips, config, output_dir,
                          use_cache=not args.no_cache, show_progress=not quiet, shard=shard)
    if shard is not None and not shard.is_main:
        return _error_exit(run.outcome, args.max_error_rate, None)
    print_summary(run.results, console)
    stats = run.outcome.stats
    ranks = f" on {shard.world} processes" if shard else ""
    console.print(f"results: {run.path}  ·  {stats['computed']} answers computed{ranks}, {stats['cached']} from "
                  f"cache  ·  {run.results['run_info']['duration_s']:.1f} s", soft_wrap=True)
    console.print(view_hint(run.path.parent), soft_wrap=True,
                  highlight=False)
    return _error_exit(run.outcome, args.max_error_rate, console)


def _error_exit(outcome: EvalOutcome, max_rate: float | None, console: Console | None) -> int:
    """Every rank of a data-parallel run holds the same outcome, so all exit alike; only rank 0 prints."""
    total = sum(len(o.records) for o in outcome.tasks.values())
    errors = sum(o.errors for o in outcome.tasks.values())
    if errors and console:
        console.print(f"[yellow]{errors} of {total} probes ended in errors[/yellow] (reasons in the samples files, "
                      "field 'error')", soft_wrap=True)
    if max_rate is not None and total and errors / total > max_rate:
        if console:
            console.print(f"[red]error rate {errors / total:.3f} exceeds --max-error-rate {max_rate}[/red]")
        return EXIT_TOO_MANY_ERRORS
    return 0
