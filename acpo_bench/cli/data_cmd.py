"""``acpo-bench data synth``: write a synthetic audio-visual world (mp4 clips + manifest) to a directory."""

from __future__ import annotations

import argparse

from rich.console import Console

from acpo_bench.clips import load_clips
from acpo_bench.synth.generate import generate_world
from acpo_bench.synth.world import WorldConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets", description="datasets")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    s = data_sub.add_parser("synth", help="generate a synthetic world", description=__doc__)
    s.add_argument("--output-dir", required=True)
    s.add_argument("--clips", type=int, default=WorldConfig.clips)
    s.add_argument("--seed", type=int, default=WorldConfig.seed)
    s.add_argument("--av-correlation", type=float, default=WorldConfig.av_correlation,
                   help="probability that a visible source is audible (the visual shortcut's strength)")
    s.add_argument("--offscreen-prob", type=float, default=WorldConfig.offscreen_prob,
                   help="probability of an extra audible source that is not visible")
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    config = WorldConfig(clips=args.clips, seed=args.seed, av_correlation=args.av_correlation,
                         offscreen_prob=args.offscreen_prob)
    path = generate_world(config, args.output_dir, workers=args.workers)
    clips = load_clips(path)
    Console().print(f"wrote {len(clips.clips)} clips to {path} (data fingerprint {clips.fingerprint()[:19]}...)")
    return 0
