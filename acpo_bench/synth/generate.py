"""Write a synthetic world to disk (mp4 clips + datasets manifest + lexicon), atomically, and find the default one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from rich.progress import Progress

from acpo_bench.clips import ClipSet, load_clips, write_manifest
from acpo_bench.lexicon import Lexicon
from acpo_bench.media import write_mp4
from acpo_bench.paths import cache_root
from acpo_bench.synth.sources import synonyms
from acpo_bench.synth.world import (
    GENERATOR_VERSION,
    WorldConfig,
    audio_caption,
    render_audio,
    render_frames,
    sample_clip,
    visual_caption,
)

WORLD_FILE = "world.json"


def _write_clip(args: tuple[WorldConfig, int, str]) -> dict:
    config, index, root = args
    spec = sample_clip(config, index)
    name = f"clips/synth-{index:05d}.mp4"
    write_mp4(os.path.join(root, name), render_frames(config, spec), config.fps, render_audio(config, spec))
    return {
        "clip_id": f"synth-{index:05d}",
        "video": name,
        "visible": list(spec.visible),
        "audible": list(spec.audible),
        "offscreen": sorted(e.label for e in spec.events if e.audible and not e.visible),
        "silent_visible": sorted(e.label for e in spec.events if e.visible and not e.audible),
        "audio_caption": audio_caption(spec),
        "visual_caption": visual_caption(config, spec),
        "content_id": f"synth:{config.content_key()}:{index}",
        "events": [asdict(e) for e in spec.events],
    }


def generate_world(config: WorldConfig, output_dir: str | Path, workers: int | None = None,
                   show_progress: bool = True) -> Path:
    """Render every clip into ``output_dir`` (built in a temporary sibling, then renamed: never half-written)."""
    output_dir = Path(output_dir).expanduser().resolve()
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir}: exists and is not empty; choose a new --output-dir")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent))
    try:
        (staging / "clips").mkdir()
        jobs = [(config, i, str(staging)) for i in range(config.clips)]
        workers = workers or min(os.cpu_count() or 1, 8)
        rows: list[dict] = []
        with Progress(disable=not show_progress, transient=True) as progress:
            bar = progress.add_task(f"synthesizing {config.clips} clips", total=config.clips)
            if workers > 1 and config.clips >= 32:
                with ProcessPoolExecutor(workers) as pool:
                    for row in pool.map(_write_clip, jobs, chunksize=8):
                        rows.append(row)
                        progress.advance(bar)
            else:
                for job in jobs:
                    rows.append(_write_clip(job))
                    progress.advance(bar)
        write_manifest(staging, rows, Lexicon(synonyms()))
        meta = {"generator_version": GENERATOR_VERSION, "config": asdict(config), "name": world_name(config)}
        (staging / WORLD_FILE).write_text(json.dumps(meta, indent=1))
        if output_dir.exists():
            output_dir.rmdir()
        os.replace(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


def world_name(config: WorldConfig) -> str:
    return f"synth-v{GENERATOR_VERSION}-n{config.clips}-{config.content_key()[:10]}"


def default_world(config: WorldConfig | None = None, show_progress: bool = True) -> ClipSet:
    """The world for ``config`` from the cache, generated on first use (a second run reuses it)."""
    config = config or WorldConfig()
    directory = cache_root() / "worlds" / world_name(config)
    if not (directory / WORLD_FILE).exists():
        try:
            generate_world(config, directory, show_progress=show_progress)
        except FileExistsError:
            if not (directory / WORLD_FILE).exists():  # a concurrent run finished it meanwhile, or a broken leftover
                raise
    return load_clips(directory, name=world_name(config))
