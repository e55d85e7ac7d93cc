"""The results file (versioned JSON) and the per-task samples files (JSONL): the only things leaderboard and gate
read. Everything that can differ between two identical runs (times, host, cache hits) lives in ``run_info``.

Samples are written plain (``samples_<task>.jsonl``); for storage they may be gzipped (``samples_<task>.jsonl.gz``,
as the committed runs in leaderboard/results/ are), and every reader accepts either. The sha256 in the results file is
that of the plain bytes, so compressing a samples file changes nothing else."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
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


GZIP_SUFFIX = ".gz"


def read_maybe_gzipped(path: Path, blob: bytes) -> bytes:
    """``blob`` (the bytes of ``path``) as plain bytes: decompressed when the name ends in .gz. A damaged or
    truncated .gz is a ResultsError naming the file."""
    if not path.name.endswith(GZIP_SUFFIX):
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; a cut stream is an EOFError
        raise ResultsError(f"{path}: not a readable gzip file ({exc}); the compressed samples are damaged or "
                           "truncated: restore the file, or gzip the plain samples again") from None


def write_samples(directory: str | Path, task: str, records: Sequence[SampleRecord],
                  contributions: dict[str, dict[str, list[float]]] | None = None) -> dict[str, str]:
    """Write records sorted by (clip, probe id), each with its ``metrics`` contributions ({metric: [num, den]}),
    and return the {path, sha256} block for the results file."""
    blob = samples_bytes(records, contributions)
    name = samples_filename(task)
    atomic_write(Path(directory) / name, blob)
    return {"path": name, "sha256": hashlib.sha256(blob).hexdigest()}


def samples_bytes(records: Sequence[SampleRecord], contributions: dict[str, dict[str, list[float]]] | None = None
                  ) -> bytes:
    ordered = sorted(records, key=lambda r: (r.clip_id, r.probe_id))
    contributions = contributions or {}
    return _utf8("".join(json.dumps({**r.to_json(), "metrics": contributions.get(r.probe_id, {})}, sort_keys=True,
                                    ensure_ascii=False) + "\n" for r in ordered))


def samples_block(records: Sequence[SampleRecord], contributions: dict[str, dict[str, list[float]]] | None = None,
                  task: str | None = None) -> dict[str, str | None]:
    """The {path, sha256} block of samples that are not written here (a data-parallel rank other than 0)."""
    return {"path": samples_filename(task) if task else None,
            "sha256": hashlib.sha256(samples_bytes(records, contributions)).hexdigest()}


def dumps(results: dict[str, Any]) -> bytes:
    return _utf8(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _utf8(text: str) -> bytes:
    """UTF-8, where a path's non-UTF-8 bytes (which Python carries as lone surrogates) become the JSON escape
    ``\\udcXX``: the file stays valid UTF-8 and JSON, and reading it back gives the very same path."""
    return text.encode("utf-8", "backslashreplace")


def write_results(directory: str | Path, results: dict[str, Any]) -> Path:
    path = Path(directory) / RESULTS_FILE
    atomic_write(path, dumps(results))
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check a results file (a file path, or a directory holding results.json).

    Results files are input from elsewhere (a colleague, CI, a download): every field a reader relies on is
    checked, and anything else is a ResultsError naming the file and the field, never a crash further on.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, expected a results file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not UTF-8 text (byte {exc.start}); results files are JSON written by "
                           "`acpo-bench eval`") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc}); the file is damaged or not a results file") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise ResultsError(f"{path}: schema_version {version!r} is not {SCHEMA_VERSION}; re-run `acpo-bench eval` "
                           "with this version")
    check_results(data, path)
    return data


def check_results(data: dict[str, Any], path: str | Path) -> None:
    """The structure readers rely on: blocks are objects, metric values numbers (or null), samples named."""
    def fail(field: str, value: Any, expected: str) -> None:
        shown = json.dumps(value)[:60] if _jsonable(value) else repr(value)[:60]
        raise ResultsError(f"{path}: {field} is {shown} ({type(value).__name__}); expected {expected}. The file "
                           "is damaged or was edited by hand: re-run `acpo-bench eval` (or restore the file)")

    for key in ("model", "config", "tasks", "run_info"):
        if key not in data:
            raise ResultsError(f"{path}: missing the {key!r} block; re-run `acpo-bench eval` to write a whole file")
        if not isinstance(data[key], dict):
            fail(key, data[key], "an object")
    if not isinstance(data.get("summary", {}), (dict, type(None))):
        fail("summary", data["summary"], "an object")
    ags = (data.get("summary") or {}).get("audio_grounding_score")
    if ags is not None:
        _check_metric(ags, "summary.audio_grounding_score", fail)
    names = data["config"].get("tasks")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        fail("config.tasks", names, "a list of task names")
    data_block = data["config"].get("data", {})
    if not isinstance(data_block, (dict, type(None))):
        fail("config.data", data_block, "an object")
    for key in ("name", "fingerprint", "world"):  # compared, hashed and named when runs are put side by side
        if not isinstance((data_block or {}).get(key), (str, type(None))):
            fail(f"config.data.{key}", data_block[key], "a string")
    clips = (data_block or {}).get("clips")
    if clips is not None and not _is_number(clips):
        fail("config.data.clips", clips, "a count")
    for name, block in data["tasks"].items():
        where = f"tasks.{name}"
        if not isinstance(block, dict):
            fail(where, block, "an object")
        if not isinstance(block.get("version"), (int, str, type(None))) or isinstance(block.get("version"), bool):
            fail(f"{where}.version", block["version"], "the task version (an integer)")
        headline = block.get("headline")
        if headline is not None and not (isinstance(headline, list) and all(isinstance(h, str) for h in headline)):
            fail(f"{where}.headline", headline, "a list of metric names")
        metrics = block.get("metrics", {})
        if not isinstance(metrics, dict):
            fail(f"{where}.metrics", metrics, "an object")
        for metric, entry in metrics.items():
            _check_metric(entry, f"{where}.metrics.{metric}", fail)
        samples = block.get("samples")
        if not isinstance(samples, dict):
            fail(f"{where}.samples", samples, "an object with path and sha256")
        for key in ("path", "sha256"):
            if not isinstance(samples.get(key), (str, type(None))):
                fail(f"{where}.samples.{key}", samples.get(key), "a string")
        for key in ("n", "errors", "skipped"):
            if key in block and not _is_number(block[key]):
                fail(f"{where}.{key}", block[key], "a count")
        reasons = block.get("skipped_reasons")  # absent from files written before it was recorded
        if reasons is not None and not (isinstance(reasons, dict) and all(_is_number(n) for n in reasons.values())):
            fail(f"{where}.skipped_reasons", reasons, "an object of reason -> number of clips skipped")


def _check_metric(entry: Any, where: str, fail) -> None:
    if not isinstance(entry, dict):
        fail(where, entry, "an object with value, ci95 and higher_is_better")
    if entry.get("value") is not None and not _is_number(entry["value"]):
        fail(f"{where}.value", entry["value"], "a number or null")
    ci = entry.get("ci95")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(_is_number(v) for v in ci)):
        fail(f"{where}.ci95", ci, "[low, high] or null")
    if entry.get("higher_is_better") not in (True, False, None):
        fail(f"{where}.higher_is_better", entry["higher_is_better"], "true, false or null")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def load_samples(results_path: str | Path, task: str) -> list[SampleRecord]:
    """The records of one task, checked against the sha256 the results file recorded."""
    path, rows = _sample_rows(results_path, task)
    records = []
    for number, row in enumerate(rows, start=1):
        try:
            records.append(SampleRecord.from_json(row))
        except (TypeError, KeyError, ValueError) as exc:
            raise ResultsError(f"{path}: line {number} is not a sample record ({exc})") from None
    return records


def load_sample_rows(results_path: str | Path, task: str) -> list[dict[str, Any]]:
    """The raw rows of one task's samples file (records plus their ``metrics`` contributions), hash-checked.

    The samples path comes from the results file, so it must name a file beside it: a path that climbs out of the
    results directory ("../..", absolute) is refused rather than read."""
    return _sample_rows(results_path, task)[1]


def samples_file(results_path: str | Path, task: str) -> tuple[Path, bytes]:
    """The file that holds one task's samples (the name in the results file, or that name + .gz) and its plain
    bytes, checked against the recorded sha256. Both forms present at once is an error: which one counts would be
    a guess."""
    results_path = Path(results_path)
    if results_path.is_dir():
        results_path = results_path / RESULTS_FILE
    block = load_results(results_path)["tasks"].get(task)
    if block is None:
        raise ResultsError(f"{results_path}: has no task {task!r}")
    name = block["samples"].get("path")
    if not name or Path(name).name != name or name in (".", ".."):
        raise ResultsError(f"{results_path}: tasks.{task}.samples.path {name!r} must be a file name beside the "
                           "results file (samples_<task>.jsonl); refusing to read elsewhere")
    named = results_path.parent / name
    forms = [named] if name.endswith(GZIP_SUFFIX) else [named, named.with_name(name + GZIP_SUFFIX)]
    present = [p for p in forms if os.path.lexists(p)]
    if len(present) > 1:
        raise ResultsError(f"{present[0]} and {present[1]}: both hold the samples of {task!r} named by "
                           f"{results_path}; keep one of them (the .gz is the plain file compressed)")
    path = present[0] if present else named
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        also = f" (nor {forms[1].name})" if len(forms) > 1 else ""
        raise ResultsError(f"{path}: samples file named by {results_path} is missing{also}") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read the samples ({exc.strerror or exc})") from None
    blob = read_maybe_gzipped(path, blob)
    if hashlib.sha256(blob).hexdigest() != block["samples"].get("sha256"):
        raise ResultsError(f"{path}: contents do not match the sha256 in {results_path}; the samples were modified")
    return path, blob


def _sample_rows(results_path: str | Path, task: str) -> tuple[Path, list[dict[str, Any]]]:
    path, blob = samples_file(results_path, task)
    rows = []
    # split on "\n" only: str.splitlines would also cut at U+0085 or U+2028, which JSON text may hold unescaped
    for number, raw in enumerate(blob.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8", "replace"))
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{path}: line {number} is not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise ResultsError(f"{path}: line {number} is {type(row).__name__}, expected a JSON object")
        rows.append(row)
    return path, rows


def without_run_info(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if k != "run_info"}


def task_block(outcome: Any, samples: dict[str, str]) -> dict[str, Any]:
    """The results entry of one task (``outcome`` is a runner.TaskOutcome)."""
    summary = outcome.summary
    return {
        "version": outcome.task.version,
        "n": len(outcome.records),
        "skipped": outcome.skipped,
        "skipped_reasons": dict(outcome.skipped_reasons),
        "errors": outcome.errors,
        "headline": list(outcome.task.headline),
        "metrics": {name: value.to_json() for name, value in summary.metrics.items()},
        "per_class": summary.per_class,
        "per_paraphrase": summary.per_paraphrase,
        **({"breakdowns": summary.breakdowns} if summary.breakdowns else {}),
        "samples": samples,
    }
