"""Runs as the reporting commands see them: a results file, its label, and metric look-ups by ``task.metric``.

Everything here reads results files only (``acpo_bench.results``); no task or model code is imported, so a table
can be made for runs of plugins that are not installed.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acpo_bench.results import RESULTS_FILE, load_results

AGS = "ags"  # the audio grounding score, addressed as a column like a task metric


class IncomparableError(ValueError):
    """Runs that measured different things (task versions, data); the message says which files differ and how."""


@dataclass(frozen=True)
class Run:
    path: Path  # the results.json file
    results: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.results["model"].get("name"))

    @property
    def adapter(self) -> str | None:
        adapter = self.results["model"].get("adapter")
        return None if adapter in (None, "") else str(adapter)

    @property
    def label(self) -> str:
        """Model name, plus the adapter directory's last part for a fine-tuned run (``qwen-omni + acpo-7b``), or the
        checkpoint directory's last two parts for a local checkpoint (``qwen-omni @ both-seed0/policy``), so runs of
        one adapter on several checkpoints stay apart; a decoding other than greedy is named too
        (``qwen-omni-tiny · contrastive decoding alpha=1.0 beta=0.1``)."""
        args = self.results["model"].get("args")
        args = args if isinstance(args, dict) else {}
        decoding = args.get("decoding")
        suffix = ""
        if isinstance(decoding, str) and decoding not in ("", "greedy"):
            knobs = " ".join(f"{k}={args[k]}" for k in ("alpha", "beta") if isinstance(args.get(k), str))
            suffix = f" · {decoding} decoding" + (f" {knobs}" if knobs else "")
        if self.adapter is None:
            path = args.get("path")
            if isinstance(path, str) and path.strip("/"):
                return f"{self.name} @ {'/'.join(Path(path.rstrip('/')).parts[-2:])}{suffix}"
            return self.name + suffix
        return f"{self.name} + {Path(self.adapter.rstrip('/')).name or self.adapter}{suffix}"

    @property
    def model_cell(self) -> str:
        """What a table's model column shows: the label of a local checkpoint run (the adapter has its own column)."""
        return self.name if self.adapter is not None else self.label

    @property
    def parameters(self) -> int | None:
        value = self.results["model"].get("parameters")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def date(self) -> str:
        return str(self.results["run_info"].get("started") or "")[:10]

    @property
    def commit(self) -> str:
        return str(self.results["run_info"].get("git_commit") or "")[:7]

    @property
    def data(self) -> dict[str, Any]:
        return self.results["config"].get("data") or {}

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.results["tasks"]

    def metric(self, key: str) -> dict[str, Any] | None:
        """The results entry {value, ci95, higher_is_better, n} of ``task.metric`` or ``ags``; None if absent."""
        if key == AGS:
            return (self.results.get("summary") or {}).get("audio_grounding_score")
        task, metric = split_metric(key)
        return (self.tasks.get(task) or {}).get("metrics", {}).get(metric)

    def value(self, key: str) -> float | None:
        entry = self.metric(key)
        value = None if entry is None else entry.get("value")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def load_run(path: str | Path) -> Run:
    """A results file, or a directory holding ``results.json``."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    return Run(path, load_results(path))


def split_metric(key: str) -> tuple[str, str]:
    task, dot, metric = key.partition(".")
    if not dot or not task or not metric:
        raise ValueError(f"metric {key!r}: write it as task.metric, e.g. swapped_audio.vahr")
    return task, metric


def check_metric_exists(run: Run, key: str) -> None:
    """Raise with the names that do exist (and the closest one) when ``key`` is not in ``run``."""
    if run.metric(key) is not None:
        return
    if key == AGS:
        raise ValueError(f"{run.path}: has no audio grounding score (a component task did not run)")
    task, metric = split_metric(key)
    if task not in run.tasks:
        raise ValueError(f"{run.path}: has no task {task!r} (it has {', '.join(sorted(run.tasks)) or 'none'})")
    names = sorted(run.tasks[task].get("metrics", {}))
    close = difflib.get_close_matches(metric, names, n=1)
    hint = f"; did you mean {task}.{close[0]}?" if close else f"; it has {', '.join(names)}"
    raise ValueError(f"{run.path}: task {task!r} has no metric {metric!r}{hint}")


WORLD_NAMES = {"stamps": "real-media world", "synth": "synthetic world"}


def describe_data(data: dict[str, Any]) -> str:
    """A run's data as a person tells it apart: "stamps-v1-n240-... (the real-media world, 240 clips, 1a2b3c4d5e)"."""
    world = data.get("world")
    kind = f"the {WORLD_NAMES.get(world, world + ' world')}, " if world else ""
    clips = f"{data['clips']} clips, " if data.get("clips") is not None else ""
    return f"{data.get('name')} ({kind}{clips}{_short(data.get('fingerprint'))})"


def data_differences(data: dict[str, Any], reference: dict[str, Any]) -> str:
    """How ``data`` differs from ``reference``, field by field, then what they share: "data: 240 clips vs 48 clips,
    fingerprint b0f0b1a474 vs 5ca875867f (both synth-v1e2-n240-..., the synthetic world)". A --limit run keeps its
    world's name, so names alone can be identical: the clip count and the fingerprint always show."""
    def clips(block: dict[str, Any]) -> str:
        return "clip count not recorded" if block.get("clips") is None else f"{block['clips']} clips"

    def world(block: dict[str, Any]) -> str:
        kind = block.get("world")
        return f"the {WORLD_NAMES.get(kind, f'{kind} world')}" if kind else "not a generated world"

    def name(block: dict[str, Any]) -> str:
        return str(block.get("name"))

    parts = [f"{show(data)} vs {show(reference)}" for show in (clips, world, name) if show(data) != show(reference)]
    parts.append(f"fingerprint {_short(data.get('fingerprint'))} vs {_short(reference.get('fingerprint'))}")
    shared = [show(data) for show in (name, clips, world) if show(data) == show(reference)]
    both = f" (both {', '.join(shared)})" if shared else ""
    return f"data: {', '.join(parts)}{both}"


def differences(reference: Run, other: Run) -> list[str]:
    """What makes ``other`` measure something different from ``reference``: the data, or a shared task's version."""
    out = []
    ref_fp, fp = reference.data.get("fingerprint"), other.data.get("fingerprint")
    if ref_fp != fp:
        out.append(data_differences(other.data, reference.data))
    for task in sorted(set(reference.tasks) & set(other.tasks)):
        ref_v, v = reference.tasks[task].get("version"), other.tasks[task].get("version")
        if ref_v != v:
            out.append(f"{task} version {v} vs {ref_v}")
    return out


def reference_run(runs: list[Run]) -> Run:
    """The run the others are compared with: the most common (data, task versions) setting, first one on ties."""
    def setting(run: Run) -> tuple:
        return (run.data.get("fingerprint"), tuple(sorted((t, b.get("version")) for t, b in run.tasks.items())))

    common = Counter(setting(r) for r in runs).most_common(1)[0][0]
    return next(r for r in runs if setting(r) == common)


def check_comparable(runs: list[Run], reference: Run) -> dict[Path, list[str]]:
    """Per run, what differs from ``reference``; raises IncomparableError naming every difference when any does."""
    mixed = {run.path: diff for run in runs if (diff := differences(reference, run))}
    if mixed:
        lines = "\n".join(f"  {path}: {'; '.join(diff)}" for path, diff in mixed.items())
        raise IncomparableError(f"these results are not comparable with {reference.path} (each: this run's vs "
                                f"that one's):\n{lines}\n"
                                "evaluate every model on the same data with the same task versions, or pass "
                                "--allow-mixed to list them anyway, marked")
    return mixed


def _short(fingerprint: Any) -> str:
    return str(fingerprint).removeprefix("sha256:")[:10]
