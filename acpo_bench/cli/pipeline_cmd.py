"""``acpo-bench pipeline``: base eval -> pairs -> ACPO -> tuned eval -> before/after tables
(acpo_bench/workflows/pipeline.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from acpo_bench.adapter import parse_model_args
from acpo_bench.cli.common import positive_int
from acpo_bench.cli.train_cmd import checkpoint_for

OBJECTIVE_CHOICES = ("output", "input", "both", "all")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="the ACPO before/after pipeline", description=__doc__)
    p.add_argument("--model", default="qwen-omni-tiny")
    p.add_argument("--model-args", default="")
    p.add_argument("--recipe", default=None,
                   help="ACPO recipe (default: training/recipes/acpo_tiny_stamps.yaml for a checkpoint that declares "
                        "the real-media world, else training/recipes/acpo_tiny.yaml)")
    p.add_argument("--objective", choices=OBJECTIVE_CHOICES, default="both",
                   help="ablation: output-contrastive only, input-contrastive only, both, or all three")
    p.add_argument("--seeds", type=positive_int("training seeds"), default=1,
                   help="training seeds (mean ± sd across them)")
    p.add_argument("--eval-clips", type=positive_int("clips"), default=400,
                   help="clips of the evaluation world (>= 400 resolves a few points of change)")
    p.add_argument("--train-clips", type=positive_int("clips"), default=1000,
                   help="clips of the training world the pairs come from")
    p.add_argument("--train-av-correlation", type=float, default=0.5,
                   help="visible->audible probability of the pairs' world (lower: more visible-silent pairs)")
    p.add_argument("--tasks", default="all")
    p.add_argument("--output-dir", default="runs/pipeline")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from acpo_bench.cli.tables import print_table
    from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
    from acpo_bench.workflows.pipeline import PipelineConfig, rich_table, run_pipeline

    model_args = parse_model_args(args.model_args)
    objectives = ("output", "input", "both") if args.objective == "all" else (args.objective,)
    config = PipelineConfig(checkpoint=checkpoint_for(args.model, model_args), output_dir=Path(args.output_dir),
                            model=args.model, model_args=model_args,
                            recipe=Path(args.recipe) if args.recipe else None,
                            overrides=tuple(args.overrides), objectives=objectives, seeds=args.seeds,
                            eval_clips=args.eval_clips, train_clips=args.train_clips,
                            train_av_correlation=args.train_av_correlation, tasks=args.tasks)
    with no_transformers_progress_bars():  # each stage shows its own progress
        report = run_pipeline(config, show_progress=not args.quiet)
    console = Console()
    print_table(console, rich_table(report))
    out = config.output_dir
    console.print(f"tables: {out / 'before_after.md'}  ·  {out / 'before_after.json'}", soft_wrap=True)
    return 0
