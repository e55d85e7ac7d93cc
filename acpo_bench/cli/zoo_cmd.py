"""``acpo-bench zoo build tiny``: train the embedded model, evaluate it, write its model card.

``acpo-bench zoo card [DIR]``: evaluate a checkpoint already built (``--no-eval``, or after the evaluation code
changed) and rewrite its model card, without training again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from acpo_bench import provenance
from acpo_bench.cli.tables import print_summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="build the embedded models", description="build the embedded models")
    zoo_sub = p.add_subparsers(dest="zoo_command", required=True, metavar="SUBCOMMAND")
    b = zoo_sub.add_parser("build", help="train an embedded model", description=__doc__)
    b.add_argument("name", choices=tuple(RECIPES), help="which model (tiny: qwen-omni-tiny, on the synthetic world; "
                                                        "tiny-stamps: qwen-omni-tiny-stamps, on the real-media world)")
    b.add_argument("--recipe", default=None, help="a YAML recipe (default: tiny_sft.yaml / tiny_stamps_sft.yaml in "
                                                  "training/recipes)")
    b.add_argument("--output-dir", default=None, help="where the checkpoint goes (default: the recipe's)")
    b.add_argument("--no-eval", action="store_true", help="skip the evaluation that fills the model card")
    b.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(handler=run)
    c = zoo_sub.add_parser("card", help="evaluate a built embedded model and rewrite its model card",
                           description="evaluate a checkpoint built by `zoo build` and rewrite its README.md")
    c.add_argument("checkpoint", nargs="?", default=None,
                   help="the checkpoint directory (default: the embedded qwen-omni-tiny)")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(handler=run_card)


RECIPES = {"tiny": "tiny_sft.yaml", "tiny-stamps": "tiny_stamps_sft.yaml"}  # in acpo_bench.training/recipes
MODEL_NAMES = {"synth": "qwen-omni-tiny", "stamps": "qwen-omni-tiny-stamps"}  # by training world, for the card


def run(args: argparse.Namespace) -> int:
    from importlib import resources

    from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
    from acpo_bench.training.recipe import load_recipe
    from acpo_bench.training.sft_tiny import TinySFTConfig, train

    overrides = list(args.overrides) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    recipe = args.recipe or str(resources.files("acpo_bench.training") / "recipes" / RECIPES[args.name])
    config = load_recipe(TinySFTConfig, recipe, overrides)
    console = Console()
    with no_transformers_progress_bars():  # the trainer's own rich bar shows progress
        output = train(config, show_progress=not args.quiet, command=provenance.command_line())
    results = None if args.no_eval else _evaluate(output, console, args.quiet)
    _write_card(output, results)
    console.print(f"checkpoint, processor and model card written to {output}")
    return 0


def run_card(args: argparse.Namespace) -> int:
    from acpo_bench.cli import UsageError
    from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT

    checkpoint = Path(args.checkpoint) if args.checkpoint else TINY_CHECKPOINT
    if not (checkpoint / "training.json").is_file():
        raise UsageError(f"{checkpoint}/training.json not found: `zoo card` reads how a checkpoint was built "
                         "from the training.json that `acpo-bench zoo build` writes beside it")
    console = Console()
    _write_card(checkpoint, _evaluate(checkpoint, console, args.quiet))
    console.print(f"model card written to {checkpoint / 'README.md'}")
    return 0


def _write_card(checkpoint: Path, results: dict | None) -> None:
    from acpo_bench.models.qwen_omni.adapter import FAMILIES, QwenOmniAdapter
    from acpo_bench.training.model_card import model_card

    training = json.loads((checkpoint / "training.json").read_text())
    parameters = QwenOmniAdapter(FAMILIES["qwen-omni"], checkpoint, {}, None).parameter_count
    name = MODEL_NAMES.get(training.get("recipe", {}).get("world", "synth"), checkpoint.name)
    (checkpoint / "README.md").write_text(model_card(name, training, results, parameters))


def _evaluate(checkpoint: Path, console: Console, quiet: bool) -> dict:
    """The default suite on the fresh checkpoint; only its numbers are kept (in the model card)."""
    import tempfile

    from acpo_bench.cli import main as cli_main

    out = Path(tempfile.mkdtemp(prefix="acpo-zoo-eval-"))
    code = cli_main(["eval", "--model", "qwen-omni", "--model-args", f"path={checkpoint}", "--tasks", "all",
                     "--output-dir", str(out), "--no-cache", *(["--quiet"] if quiet else [])])
    if code != 0:
        raise RuntimeError(f"evaluation of the new checkpoint failed (exit {code})")
    results = json.loads((out / "results.json").read_text())
    print_summary(results, console)
    return results
