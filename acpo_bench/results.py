"""The results file (versioned JSON) and the per-task samples files (JSONL): the only things leaderboard and gate
read. Everything that can differ between two identical runs (times, host, cache hits) lives in ``run_info``."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acpo_bench.schemas import SampleRecord

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"


class ResultsError(ValueError):
    pass


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared like any file
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def samples_filename(task: str) -> str:
    return f"samples_{task}.jsonl"


def write_samples(directory: str | Path, task: str, records: Sequence[SampleRecord],
                  contributions: dict[str, dict[str, list[float]]] | None = None) -> dict[str, str]:
    """Write records sorted by (clip, probe id), each with its ``metrics`` contributions ({metric: [num, den]}),
    and return the {path, sha256} block for the results file."""
    ordered = sorted(records, key=lambda r: (r.clip_id, r.probe_id))
    contributions = contributions or {}
    blob = "".join(json.dumps({**r.to_json(), "metrics": contributions.get(r.probe_id, {})}, sort_keys=True,
                              ensure_ascii=False) + "\n" for r in ordered).encode()
    name = samples_filename(task)
    atomic_write(Path(directory) / name, blob)
    return {"path": name, "sha256": hashlib.sha256(blob).hexdigest()}


def dumps(results: dict[str, Any]) -> bytes:
    return (json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_results(directory: str | Path, results: dict[str, Any]) -> Path:
    path = Path(directory) / RESULTS_FILE
    atomic_write(path, dumps(results))
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check a results file (a file path, or a directory holding results.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema_version {data.get('schema_version') if isinstance(data, dict) else None}"
                           f" is not {SCHEMA_VERSION}; re-run `acpo-bench eval` with this version")
    for key in ("model", "config", "tasks", "run_info"):
        if key not in data:
            raise ResultsError(f"{path}: missing the {key!r} block")
    return data


def load_samples(results_path: str | Path, task: str) -> list[SampleRecord]:
    """The records of one task, checked against the sha256 the results file recorded."""
    return [SampleRecord.from_json(row) for row in load_sample_rows(results_path, task)]


def load_sample_rows(results_path: str | Path, task: str) -> list[dict[str, Any]]:
    """The raw rows of one task's samples file (records plus their ``metrics`` contributions), hash-checked."""
    results_path = Path(results_path)
    if results_path.is_dir():
        results_path = results_path / RESULTS_FILE
    block = load_results(results_path)["tasks"].get(task)
    if block is None:
        raise ResultsError(f"{results_path}: has no task {task!r}")
    path = results_path.parent / block["samples"]["path"]
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"{path}: samples file named by {results_path} is missing") from None
    if hashlib.sha256(blob).hexdigest() != block["samples"]["sha256"]:
        raise ResultsError(f"{path}: contents do not match the sha256 in {results_path}; the samples were modified")
    return [json.loads(line) for line in blob.decode().splitlines() if line]


def without_run_info(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if k != "run_info"}


def task_block(outcome: Any, samples: dict[str, str]) -> dict[str, Any]:
    """The results entry of one task (``outcome`` is a runner.TaskOutcome)."""
    summary = outcome.summary
    return {
        "version": outcome.task.version,
        "n": len(outcome.records),
        "skipped": outcome.skipped,
        "errors": outcome.errors,
        "headline": list(outcome.task.headline),
        "metrics": {name: value.to_json() for name, value in summary.metrics.items()},
        "per_class": summary.per_class,
        "per_paraphrase": summary.per_paraphrase,
        **({"breakdowns": summary.breakdowns} if summary.breakdowns else {}),
        "samples": samples,
    }
