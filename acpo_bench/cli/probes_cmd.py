"""``acpo-bench probes build``: a labelled video collection -> a clip dataset that every synthetic-suite task runs on
(``acpo-bench eval --data DIR``)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acpo_bench.cli.common import positive_int
from acpo_bench.clips import load_clips
from acpo_bench.workflows.probes_build import DESCRIBES, REPORT, build_probes_dataset

SHOW_SKIPPED = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probes", help="probe datasets from your own videos", description=__doc__)
    probes_sub = p.add_subparsers(dest="probes_command", required=True, metavar="SUBCOMMAND")
    b = probes_sub.add_parser("build", help="labelled videos -> clip dataset", description=__doc__)
    b.add_argument("--videos", required=True, help="a directory of videos, named {video_id}.mp4 (searched "
                                                   "recursively)")
    b.add_argument("--labels", required=True,
                   help="VGGSounder-format CSV/JSONL (video_id, label, modality A|V|AV), per-clip class lists "
                        "(video_id, labels) with --describes, or 'vggsounder' for the vggsounder package's labels")
    b.add_argument("--describes", choices=sorted(DESCRIBES), default=None,
                   help="what per-clip class lists (or label rows without a modality column) name")
    b.add_argument("--synonyms", default=None, help="a JSON file {label: [synonym, ...]} extending the lexicon")
    b.add_argument("--captions", default=None,
                   help="JSONL {video_id, audio_caption, visual_caption}: enables swapped_audio's T-/D-CIDEr")
    b.add_argument("--output-dir", required=True)
    b.add_argument("--copy", action="store_true", help="copy the videos into the dataset (default: clips/ holds "
                                                       "relative symlinks to them)")
    b.add_argument("--workers", type=positive_int("worker processes"), default=None,
                   help="processes that check the media (default: CPUs)")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    console = Console()
    with Progress(disable=args.quiet, transient=True) as progress:
        bar = progress.add_task("checking media", total=None)
        report = build_probes_dataset(args.videos, args.labels, args.output_dir, describes=args.describes,
                                      synonyms=args.synonyms, captions=args.captions, copy=args.copy,
                                      workers=args.workers, advance=lambda n: progress.advance(bar, n))
    if report.skipped:
        table = Table(title=f"{len(report.skipped)} clip(s) left out", title_justify="left")
        table.add_column("clip")
        table.add_column("reason")
        for clip, reason in report.skipped[:SHOW_SKIPPED]:
            table.add_row(clip, reason)
        if len(report.skipped) > SHOW_SKIPPED:
            table.add_row("...", f"{len(report.skipped) - SHOW_SKIPPED} more in {report.output_dir / REPORT}")
        console.print(table)
    for note in report.lexicon_notes:
        console.print(f"[yellow]lexicon:[/yellow] {note}")
    clips = load_clips(report.output_dir)
    console.print(f"wrote {report.written} clips ({len(clips.lexicon.classes)} classes) to {report.output_dir}; "
                  f"{len(report.skipped)} left out, {report.labels_without_video} labelled videos not found. "
                  f"Next: acpo-bench eval --model NAME --tasks all --data {report.output_dir}")
    return 0
