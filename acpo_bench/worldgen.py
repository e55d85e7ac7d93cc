"""Write a generated world (mp4 clips + datasets manifest + lexicon + world.json) atomically, and keep built
worlds in the cache. The synthetic world and the real-media (stamps) world differ only in how one clip is made."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Protocol

from rich.progress import Progress

from acpo_bench.clips import ClipSet, load_clips, write_manifest
from acpo_bench.lexicon import Lexicon
from acpo_bench.paths import cache_root, staged_directory

WORLD_FILE = "world.json"
POOL_MIN_CLIPS = 32  # below this a process pool costs more to start than it saves


class WorldRecipe(Protocol):
    """One world's settings; picklable, so the pool's workers can each write clips from it."""

    clips: int

    def name(self) -> str: ...

    def write_clip(self, index: int, root: str) -> dict: ...  # the clip's mp4 under root, and its manifest row

    def lexicon(self) -> Lexicon: ...

    def metadata(self) -> dict: ...  # written to world.json beside the name


def _write(job: tuple[WorldRecipe, int, str]) -> dict:
    recipe, index, root = job
    return recipe.write_clip(index, root)


def generate(recipe: WorldRecipe, output_dir: str | Path, workers: int | None = None, show_progress: bool = True,
             verb: str = "writing") -> Path:
    """Write every clip into ``output_dir`` (built in a temporary sibling, then renamed: never half-written)."""
    output_dir = Path(output_dir).expanduser().resolve()
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir}: exists and is not empty; choose a new --output-dir")
    with staged_directory(output_dir) as staging:
        (staging / "clips").mkdir()
        jobs = [(recipe, i, str(staging)) for i in range(recipe.clips)]
        workers = workers or min(os.cpu_count() or 1, 8)
        rows: list[dict] = []
        with Progress(disable=not show_progress, transient=True) as progress:
            bar = progress.add_task(f"{verb} {recipe.clips} clips", total=recipe.clips)
            if workers > 1 and recipe.clips >= POOL_MIN_CLIPS:
                with ProcessPoolExecutor(workers) as pool:
                    for row in pool.map(_write, jobs, chunksize=8):
                        rows.append(row)
                        progress.advance(bar)
            else:
                for job in jobs:
                    rows.append(_write(job))
                    progress.advance(bar)
        write_manifest(staging, rows, recipe.lexicon())
        meta = {**recipe.metadata(), "name": recipe.name()}
        (staging / WORLD_FILE).write_text(json.dumps(meta, indent=1))
    return output_dir


def cached(recipe: WorldRecipe, show_progress: bool = True, verb: str = "writing") -> ClipSet:
    """The world from the cache, generated on first use (a second run reuses it)."""
    directory = cache_root() / "worlds" / recipe.name()
    if not (directory / WORLD_FILE).exists():
        try:
            generate(recipe, directory, show_progress=show_progress, verb=verb)
        except FileExistsError:
            if not (directory / WORLD_FILE).exists():  # a concurrent run finished it meanwhile, or a broken leftover
                raise
    return load_clips(directory, name=recipe.name())


def _world_meta(root: str | Path | None) -> dict:
    path = Path(root) / WORLD_FILE if root else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def clip_seconds(root: str | Path | None) -> float | None:
    """How long a generated world's clips are (its config's ``duration``), None for other data."""
    duration = _world_meta(root).get("config", {}).get("duration")
    return float(duration) if isinstance(duration, int | float) else None


def world_kind(root: str | Path | None) -> str | None:
    """Which generated world a clip dataset is ("synth", "stamps"), from its world.json; None for other data."""
    meta = _world_meta(root)
    if not meta:
        return None
    return meta.get("kind", "synth" if "generator_version" in meta else None)  # worlds before "kind" were synth
