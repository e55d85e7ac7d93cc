"""Real runs for the leaderboard, plot and gate tests (the reference adapters on the 24-clip world), and helpers
that derive edited copies from them: planted outcomes, renamed models, changed versions; every copy keeps its
samples' sha256 consistent through acpo_bench.results, so only the intended difference remains."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from acpo_bench.cli import main
from acpo_bench.results import load_results, load_sample_rows, write_results, write_samples
from acpo_bench.schemas import SampleRecord

REFERENCE_MODELS = ("audio-oracle", "visual-prior", "always-yes", "blind")


_RUNS: dict[Path, dict[str, Path]] = {}


def make_reference_runs(small_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """model name -> run directory, each evaluated on every task of the small world; made once per session (the
    test modules' ``reference_runs`` fixtures share them)."""
    if small_world_dir in _RUNS:
        return _RUNS[small_world_dir]
    root = tmp_path_factory.mktemp("reference-runs")
    out = _RUNS[small_world_dir] = {}
    for model in REFERENCE_MODELS:
        out[model] = root / model
        assert main(["eval", "--model", model, "--tasks", "all", "--data", str(small_world_dir), "--output-dir",
                     str(out[model]), "--quiet", "--no-cache"]) == 0
    return out


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("cache.sqlite"))
    return dst


def gzip_samples(run: Path) -> Path:
    """Replace each samples_<task>.jsonl of ``run`` by its samples_<task>.jsonl.gz (as leaderboard/results/ stores
    them); the results file is untouched."""
    plain = sorted(run.glob("samples_*.jsonl"))
    assert plain, f"no samples in {run}"
    for path in plain:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        path.unlink()
    return run


def edit_results(run: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    results = load_results(run)
    change(results)
    write_results(run, results)
    return run


def rewrite_samples(run: Path, task: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Edit a task's sample rows, write them back with a fresh sha256, and recompute every metric's value from the
    rows' contributions (so the results file and its samples agree, as after a real run)."""
    rows = change(load_sample_rows(run, task))
    records = [SampleRecord.from_json({k: v for k, v in row.items() if k != "metrics"}) for row in rows]
    contributions = {row["probe_id"]: row["metrics"] for row in rows}
    results = load_results(run)
    block = results["tasks"][task]
    block["samples"] = write_samples(run, task, records, contributions)
    block["n"] = len(rows)
    for name, entry in block["metrics"].items():
        parts = [row["metrics"][name] for row in rows if name in row["metrics"]]
        den = sum(p[1] for p in parts)
        entry["value"] = round(sum(p[0] for p in parts) / den, 6) if den else None
    write_results(run, results)


def plant_flips(run: Path, task: str, metric: str, flips: int, good: float = 1.0) -> list[str]:
    """Turn ``flips`` binary outcomes of ``metric`` from good to bad, one clip after another (a regression spread
    over clips, as a real one is); return their probe ids."""
    flipped: list[str] = []

    def change(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_clip: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["metrics"].get(metric) == [good, 1.0]:
                by_clip.setdefault(row["clip_id"], []).append(row)
        queues = list(by_clip.values())
        while len(flipped) < flips and any(queues):
            for queue in queues:
                if queue and len(flipped) < flips:
                    row = queue.pop(0)
                    row["metrics"][metric] = [1.0 - good, 1.0]
                    flipped.append(row["probe_id"])
        assert len(flipped) == flips, f"only {len(flipped)} outcomes of {metric} could be flipped"
        return rows

    rewrite_samples(run, task, change)
    return flipped


def count_outcomes(run: Path, task: str, metric: str) -> int:
    return sum(metric in row["metrics"] for row in load_sample_rows(run, task))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
