"""``acpo-bench view``: a self-contained HTML page to browse a run's probes (frames, the audio the model heard, the
prompt, its reply, the parsed answer, the verdict and why), with filters; with a second run, the probes whose answer
changed come first. The page fetches nothing (strict Content-Security-Policy): open it from disk or attach it."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from rich.console import Console
from rich.text import Text

from acpo_bench.leaderboard.viewer import build_view
from acpo_bench.results import atomic_write

PAGE_NAME = "samples.html"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="HTML page to browse a run's probes: frames, audio, replies, verdicts",
                       description=__doc__)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="an eval output directory (results.json + samples); a second one is compared with the first")
    p.add_argument("--output", required=True, metavar="FILE.html", help="the page to write")
    p.add_argument("--max-media", type=media_count, default=None, metavar="N",
                   help="embed the frames and audio of at most N probe inputs (a video with an audio recipe; the "
                        "probes asking about one input share it). Default: as many as fit in ~15 MB")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="the data directory the run was evaluated on, when the one results.json records is not on "
                        "this machine")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def media_count(text: str) -> int:
    """--max-media: a whole number, 0 (a page without media) or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give how many inputs to embed (0: none)"
                                         ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more inputs to embed, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    if len(args.runs) > 2:
        raise ValueError(f"view takes one RUN_DIR, or two to compare; got {len(args.runs)}")
    view = build_view(args.runs, data=args.data, max_media=args.max_media, show_progress=not args.quiet)
    output = Path(args.output)
    atomic_write(output, view.html.encode("utf-8", "replace"))
    console = Console(stderr=True, highlight=False)
    for notice in view.notices:
        console.print(Text.assemble(("note: ", "bold yellow"), notice), soft_wrap=True)
    # the data directory can come from results.json, a file from elsewhere: say which files went into the page
    media = f" in {view.data_root}" if view.data_root else ""
    console.print(f"page: {output} ({output.stat().st_size / 1e6:.1f} MB; {view.probes} probes, "
                  f"{view.probes_with_media} with media from {view.inputs_embedded} inputs{media})", soft_wrap=True)
    return 0


def view_hint(output_dir: str | Path) -> str:
    """The one line `acpo-bench eval` prints after a run: how to browse its samples."""
    directory = Path(output_dir)
    return (f"browse the samples: acpo-bench view {shlex.quote(str(directory))} "
            f"--output {shlex.quote(str(directory / PAGE_NAME))}")
