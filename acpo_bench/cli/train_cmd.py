"""ACPO commands: ``pairs build`` (preference pairs), ``train`` (a recipe on pairs), ``validate`` (recipes) and
``merge`` (fold a LoRA adapter into its base for serving)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench.adapter import parse_model_args
from acpo_bench.cli.common import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pairs", help="ACPO preference pairs", description="ACPO preference pairs")
    pairs_sub = p.add_subparsers(dest="pairs_command", required=True, metavar="SUBCOMMAND")
    b = pairs_sub.add_parser("build", help="build preference pairs from a clip dataset",
                             description="Build output- and input-contrastive pairs (training/pairs.py).")
    b.add_argument("--data", default=None, help="a clip dataset (default: a generated training world, see --world)")
    b.add_argument("--world", choices=("stamps", "synth"), default=None,
                   help="the training world without --data (default: the one the model named by "
                        "--on-policy-model / --precompute-reference declares, else stamps: real media)")
    b.add_argument("--world-clips", type=positive_int("clips"), default=1000, help="clips of the training world")
    b.add_argument("--world-seed", type=int, default=1000, help="its seed (the default eval world uses 0)")
    b.add_argument("--world-av-correlation", type=float, default=0.5,
                   help="its visible->audible probability (lower: more visible-silent pairs)")
    b.add_argument("--output-dir", required=True)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--on-policy-model", default=None, help="also mine the model's own hallucinations as y-")
    b.add_argument("--model-args", default="")
    b.add_argument("--on-policy-clips", type=positive_int("clips"), default=200)
    b.add_argument("--precompute-reference", default=None, metavar="MODEL",
                   help="store the reference log-probs of this model (qwen-omni-tiny, or qwen-omni with "
                        "--model-args path=...) in the pairs, for recipes with reference: precomputed")
    b.add_argument("--frames", type=positive_int("frames"), default=2,
                   help="frames per clip for the precomputed reference")
    b.set_defaults(handler=run_pairs)

    t = sub.add_parser("train", help="train ACPO on preference pairs", description="Train ACPO (training/acpo.py).")
    t.add_argument("--model", required=True, help="qwen-omni-tiny, or qwen-omni with --model-args path=...")
    t.add_argument("--model-args", default="")
    t.add_argument("--pairs", required=True, help="a directory written by `acpo-bench pairs build`")
    t.add_argument("--recipe", required=True, help="training/recipes/*.yaml")
    t.add_argument("--output-dir", required=True)
    t.add_argument("--objective", choices=("output", "input", "both"), default=None,
                   help="ablation: output-contrastive only, input-contrastive only, or both (default: the recipe's)")
    t.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("overrides", nargs="*", metavar="key=value")
    t.set_defaults(handler=run_train)

    v = sub.add_parser("validate", help="check recipes against their config dataclasses")
    v.add_argument("recipes", nargs="+")
    v.set_defaults(handler=run_validate)

    m = sub.add_parser("merge", help="merge a LoRA adapter into its base checkpoint")
    m.add_argument("--model", required=True)
    m.add_argument("--model-args", default="")
    m.add_argument("--adapter", required=True)
    m.add_argument("--output-dir", required=True)
    m.set_defaults(handler=run_merge)


def checkpoint_for(model: str, model_args: dict[str, str]) -> Path:
    """The checkpoint directory a training command starts from."""
    from acpo_bench.models.qwen_omni.adapter import EMBEDDED, FAMILIES, resolve_checkpoint

    if model in EMBEDDED:
        return EMBEDDED[model][0]
    if model == "qwen-omni":
        return resolve_checkpoint(model_args.get("path", FAMILIES["qwen-omni"].default_checkpoint))
    raise ValueError(f"training supports --model qwen-omni-tiny, qwen-omni-tiny-stamps and qwen-omni (Qwen2.5-Omni "
                     f"thinkers), not {model!r}")


def training_world(model: str | None, model_args: dict[str, str]) -> str:
    """The world a model's training pairs come from: the one its checkpoint declares, else the real-media world."""
    from acpo_bench.worlds import world_for

    if model in ("qwen-omni-tiny", "qwen-omni-tiny-stamps", "qwen-omni"):  # the models training supports
        from acpo_bench.models.qwen_omni.adapter import checkpoint_settings

        return world_for(checkpoint_settings(checkpoint_for(model, model_args)).get("world"))
    return world_for(None)


def load_training_clips(data: str | None, world: str, world_clips: int, world_seed: int,
                        av_correlation: float = 0.5):
    from acpo_bench.clips import load_clips
    from acpo_bench.worlds import WorldSpec, build

    if data:
        return load_clips(data)
    return build(WorldSpec(world, clips=world_clips, seed=world_seed, av_correlation=av_correlation))


def run_pairs(args: argparse.Namespace) -> int:
    from acpo_bench.training.pairs import label_pairs, on_policy_pairs, save_pairs

    model_args = parse_model_args(args.model_args)
    world = args.world or training_world(args.on_policy_model or args.precompute_reference, model_args)
    clips = load_training_clips(args.data, world, args.world_clips, args.world_seed, args.world_av_correlation)
    pairs = label_pairs(clips, seed=args.seed)
    if args.on_policy_model:
        pairs += on_policy_pairs(clips, _generator(args.on_policy_model, parse_model_args(args.model_args)),
                                 clips.lexicon, seed=args.seed, limit=args.on_policy_clips)
    meta = {"data": {"name": clips.name, "fingerprint": clips.fingerprint(), "clips": len(clips.clips)},
            "seed": args.seed, "on_policy_model": args.on_policy_model}
    out = save_pairs(pairs, args.output_dir, meta)
    if args.precompute_reference:
        from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
        from acpo_bench.training.acpo import precompute_reference

        with no_transformers_progress_bars():
            precompute_reference(checkpoint_for(args.precompute_reference, parse_model_args(args.model_args)), out,
                                 frames=args.frames)
    counts = json.loads((out / "pairs.json").read_text())["counts"]
    table = Table(title=f"pairs · {clips.name}", title_justify="left")
    table.add_column("kind")
    table.add_column("pairs", justify="right")
    for kind, count in counts.items():
        table.add_row(kind, str(count))
    Console().print(table)
    Console().print(f"pairs: {out}")
    return 0


def _generator(model: str, model_args: dict[str, str]):
    """(clip, prompt, recipe, audible) asks -> the model's greedy answers, through the model's adapter."""
    from acpo_bench.adapter import Request
    from acpo_bench.cli.common import load_model
    from acpo_bench.media_store import MediaStore
    from acpo_bench.schemas import Probe

    adapter = load_model(model, model_args, None)
    store = MediaStore(adapter.media_spec)

    def generate(asks: list) -> list[str]:
        requests = []
        for clip, prompt, recipe, audible in asks:
            probe = Probe(task="pairs", clip_id=clip.clip_id, video=clip.video, video_id=clip.content_id,
                          audio=recipe, kind="open", modality="audio", question="list_sounds", prompt=prompt,
                          paraphrase=0, visible=clip.visible, audible=tuple(audible), condition=recipe.kind)
            requests.append(Request(probe, store.load(clip.video, clip.content_id, recipe)))
        out = []
        for start in range(0, len(requests), adapter.default_batch_size):
            out += adapter.generate(requests[start:start + adapter.default_batch_size], adapter.max_new_tokens)
        return out
    return generate


def run_train(args: argparse.Namespace) -> int:
    from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
    from acpo_bench.training.acpo import ACPOConfig, train
    from acpo_bench.training.recipe import load_recipe

    overrides = list(args.overrides) + ([f"objective={args.objective}"] if args.objective else [])
    config = load_recipe(ACPOConfig, args.recipe, overrides)
    with no_transformers_progress_bars():  # the trainer's own rich bar shows progress
        output = train(checkpoint_for(args.model, parse_model_args(args.model_args)), args.pairs, args.output_dir,
                       config, resume=args.resume, show_progress=not args.quiet)
    Console().print(f"policy: {output / 'policy'}  ·  log: {output / 'acpo.json'}")
    return 0


def recipe_class(path: str):
    from acpo_bench.training.acpo import ACPOConfig
    from acpo_bench.training.sft_tiny import TinySFTConfig

    return TinySFTConfig if Path(path).stem.endswith("_sft") else ACPOConfig


def run_validate(args: argparse.Namespace) -> int:
    from acpo_bench.training.recipe import load_recipe

    for path in args.recipes:
        cls = recipe_class(path)
        load_recipe(cls, path)
        Console().print(f"[green]ok[/green] {path} ({cls.__name__})")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
    from acpo_bench.training.acpo import merge_lora

    with no_transformers_progress_bars():
        out = merge_lora(checkpoint_for(args.model, parse_model_args(args.model_args)), Path(args.adapter),
                         Path(args.output_dir))
    Console().print(f"merged checkpoint: {out} (evaluate with --model qwen-omni --model-args path={out})")
    return 0
