"""``acpo-bench eval``: score a model on tasks, write results.json + samples_<task>.jsonl, print a summary."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from acpo_bench import provenance
from acpo_bench.adapter import parse_model_args
from acpo_bench.cache import ResponseCache
from acpo_bench.cli.common import load_data, load_model, resolve_tasks, slug
from acpo_bench.cli.tables import print_summary
from acpo_bench.media import MediaSpec
from acpo_bench.results import SCHEMA_VERSION, task_block, write_results, write_samples
from acpo_bench.runner import EvalConfig, EvalOutcome, evaluate

CACHE_FILE = "cache.sqlite"
EXIT_TOO_MANY_ERRORS = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model", description=__doc__)
    p.add_argument("--model", required=True, help="adapter name (see `acpo-bench list`)")
    p.add_argument("--model-args", default="", help="k=v,... passed to the adapter (e.g. path=/ckpt,dtype=bf16)")
    p.add_argument("--adapter", default=None, help="a fine-tuned adapter directory (e.g. a LoRA from acpo-bench train)")
    p.add_argument("--tasks", default="all", help="a suite (all, core) or task names separated by commas")
    p.add_argument("--data", default=None, help="a clip dataset directory (default: the synthetic world)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N clips")
    p.add_argument("--skip-missing", action="store_true",
                   help="benchmarks with their own files (avhbench, cmm): evaluate the items whose videos are "
                        "present; the missing clips are counted as the task's 'skipped'")
    p.add_argument("--scoring", choices=("auto", "loglik", "generate"), default="auto",
                   help="yes/no by choice log-probs (loglik), by generation, or loglik where the adapter can (auto)")
    p.add_argument("--frames", type=int, default=None, help="frames sampled per clip (default: the adapter's, or 2)")
    p.add_argument("--fps", type=float, default=None, help="sample frames at this rate instead of a fixed count")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="generation length for open prompts (default: the adapter's, or 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default=None, help="where results, samples and the answer cache go "
                                                       "(default: runs/<model>)")
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
    started_at, started = datetime.now(timezone.utc), time.perf_counter()
    console = Console()
    tasks, suite_clips = resolve_tasks(args.tasks)
    model_args = parse_model_args(args.model_args)
    adapter = load_model(args.model, model_args, args.adapter)
    clips = load_data(tasks, args.data, show_progress=not args.quiet, skip_missing=args.skip_missing)
    limit = args.limit if args.limit is not None else suite_clips
    config = EvalConfig(scoring=args.scoring, media=media_spec(args, adapter), seed=args.seed,
                        batch_size=args.batch_size or adapter.default_batch_size, limit=limit,
                        max_new_tokens=args.max_new_tokens or getattr(adapter, "max_new_tokens", None) or 64)
    default_dir = Path("runs") / (slug(args.model) + (f"-{slug(Path(args.adapter).name)}" if args.adapter else ""))
    output_dir = Path(args.output_dir or default_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = None if args.no_cache else ResponseCache(output_dir / CACHE_FILE, adapter.fingerprint())
    try:
        outcome = evaluate(adapter, tasks, clips, config, cache, show_progress=not args.quiet)
    finally:
        if cache is not None:
            cache.close()
    used = clips.head(limit)
    results = results_document(args, adapter, model_args, config, used, outcome)
    for name, task_outcome in outcome.tasks.items():
        samples = write_samples(output_dir, name, task_outcome.records, task_outcome.summary.contributions)
        results["tasks"][name] = task_block(task_outcome, samples)
    results["run_info"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 3),
        "host": provenance.host(),
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "command": provenance.command_line(),
        "data_path": used.root,
        "answers": {k: round(v, 3) for k, v in outcome.stats.items()},
    }
    path = write_results(output_dir, results)
    print_summary(results, console)
    console.print(f"results: {path}  ·  {outcome.stats['computed']} answers computed, "
                  f"{outcome.stats['cached']} from cache  ·  {results['run_info']['duration_s']:.1f} s")
    return _error_exit(outcome, args.max_error_rate, console)


def results_document(args, adapter, model_args, config: EvalConfig, clips, outcome: EvalOutcome) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": args.model, "adapter": args.adapter, "fingerprint": adapter.fingerprint(),
                  "parameters": adapter.parameter_count, "args": model_args},
        "config": {"tasks": list(outcome.tasks), "scoring": config.scoring, "frames": config.media.frames,
                   "fps": config.media.fps, "sample_rate": config.media.sample_rate, "seed": config.seed,
                   "batch_size": config.batch_size, "limit": config.limit, "max_new_tokens": config.max_new_tokens,
                   "n_resamples": config.n_resamples,
                   "data": {"name": clips.name, "fingerprint": clips.fingerprint(), "clips": len(clips.clips)}},
        "tasks": {},
        "summary": {"audio_grounding_score": outcome.grounding},
    }


def _error_exit(outcome: EvalOutcome, max_rate: float | None, console: Console) -> int:
    total = sum(len(o.records) for o in outcome.tasks.values())
    errors = sum(o.errors for o in outcome.tasks.values())
    if errors:
        console.print(f"[yellow]{errors} of {total} probes ended in errors[/yellow] (reasons in the samples files, "
                      "field 'error')")
    if max_rate is not None and total and errors / total > max_rate:
        console.print(f"[red]error rate {errors / total:.3f} exceeds --max-error-rate {max_rate}[/red]")
        return EXIT_TOO_MANY_ERRORS
    return 0
