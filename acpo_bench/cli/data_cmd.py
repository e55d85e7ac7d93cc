"""``acpo-bench data build stamps|synth``: write a generated world (mp4 clips + manifest) to a directory.

stamps: the real-media world (Tux Paint's drawings of real objects with their own recorded sounds; needs the
package tuxpaint-stamps-default). synth: the synthetic glyph world the embedded qwen-omni-tiny was trained on.
``acpo-bench data synth`` is the older spelling of ``data build synth``.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from acpo_bench.cli.common import positive_int
from acpo_bench.clips import load_clips
from acpo_bench.synth.world import WorldConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets", description="datasets")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    b = data_sub.add_parser("build", help="generate a world (stamps: real media; synth: glyphs)",
                            description=__doc__)
    b.add_argument("world", choices=("stamps", "synth"))
    _world_options(b)
    b.set_defaults(handler=run_build)
    s = data_sub.add_parser("synth", help="generate a synthetic world (= data build synth)", description=__doc__)
    _world_options(s)
    s.set_defaults(handler=run_build, world="synth")


def _world_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", required=True)
    p.add_argument("--clips", type=positive_int("clips"), default=WorldConfig.clips)
    p.add_argument("--seed", type=int, default=WorldConfig.seed)
    p.add_argument("--av-correlation", type=float, default=WorldConfig.av_correlation,
                   help="probability that a visible source is audible (the visual shortcut's strength)")
    p.add_argument("--offscreen-prob", type=float, default=WorldConfig.offscreen_prob,
                   help="probability of an extra audible source that is not visible")
    p.add_argument("--workers", type=positive_int("worker processes"), default=None)


def run_build(args: argparse.Namespace) -> int:
    settings = {"clips": args.clips, "seed": args.seed, "av_correlation": args.av_correlation,
                "offscreen_prob": args.offscreen_prob}
    if args.world == "stamps":
        from acpo_bench.stamps.catalog import StampsNotInstalled
        from acpo_bench.stamps.generate import generate_stamps_world
        from acpo_bench.stamps.world import StampsConfig
        from acpo_bench.worlds import WorldUnavailable

        try:
            path = generate_stamps_world(StampsConfig(**settings), args.output_dir, workers=args.workers)
        except StampsNotInstalled as exc:
            raise WorldUnavailable(str(exc)) from None
    else:
        from acpo_bench.synth.generate import generate_world

        path = generate_world(WorldConfig(**settings), args.output_dir, workers=args.workers)
    clips = load_clips(path)
    Console().print(f"wrote {len(clips.clips)} clips of {len(clips.lexicon.classes)} classes to {path} "
                    f"(data fingerprint {clips.fingerprint()[:19]}...)")
    return 0
