"""What a task plugin is: three small functions and a version.

``build(clips, seed) -> probes`` decides what to ask; ``score(probe, response, lexicon) -> record`` judges one answer;
``aggregate(records, bootstrap) -> TaskSummary`` turns records into metrics with CIs. A third-party task is a module
exposing a :class:`Task`, registered under the ``acpo_bench.tasks`` entry-point group. Metrics are ratio metrics
(``acpo_bench.metrics``) so that every sample records its contribution and any metric can be recomputed and paired
from the samples file alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from acpo_bench.clips import ClipSet
from acpo_bench.lexicon import Lexicon
from acpo_bench.metrics import (
    ClipBootstrap,
    MetricValue,
    RatioMetric,
    breakdown,
    compute,
    contributions,
    paraphrase_spread,
)
from acpo_bench.schemas import Probe, Response, SampleRecord
from acpo_bench.scoring import score_probe


@dataclass(frozen=True)
class TaskSummary:
    metrics: dict[str, MetricValue]
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_paraphrase: dict[str, dict] = field(default_factory=dict)
    breakdowns: dict[str, dict] = field(default_factory=dict)
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # for composites; never written
    contributions: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)  # -> samples file


NO_PROBE = "the task asks nothing about this clip"


@dataclass(frozen=True)
class Task:
    name: str
    version: int
    description: str
    build: Callable[[ClipSet, int], list[Probe]]
    aggregate: Callable[[Sequence[SampleRecord], ClipBootstrap], TaskSummary]
    headline: tuple[str, ...]
    score: Callable[[Probe, Response, Lexicon], SampleRecord] = score_probe
    # a task whose data is not a clip dataset (a benchmark's own annotation files) brings its own loader:
    # load_data(directory) -> ClipSet; None means `acpo_bench.clips.load_clips`. A loader that also takes
    # `skip_missing=True` supports `acpo-bench eval --skip-missing` (evaluate the items whose media are present)
    load_data: Callable[[str], ClipSet] | None = None
    # a benchmark whose released predictions files have their own row format (CMM's final_output.json, AVHBench
    # outputs) reads them for `acpo-bench score`: read_predictions(rows, source) -> [(probe, response), ...].
    # Every task re-scores acpo-bench's own samples_<task>.jsonl without it.
    read_predictions: Callable[[list[dict], str], list[tuple[Probe, Response]]] | None = None
    # why build asks nothing about clips.clips[index] (with this seed), in a few words ("no swap partner"): the
    # results file counts the skipped clips per reason and eval prints them. None: a generic reason
    skip_reason: Callable[[ClipSet, int, int], str] | None = None

    def why_skipped(self, clips: ClipSet, index: int, seed: int) -> str:
        return self.skip_reason(clips, index, seed) if self.skip_reason is not None else NO_PROBE


def summarize(records: Sequence[SampleRecord], metrics: Sequence[RatioMetric], bootstrap: ClipBootstrap,
              class_metrics: Sequence[RatioMetric] | None = None, **breakdowns: dict) -> TaskSummary:
    """The usual aggregate: every metric with its CI, per queried class, and per paraphrase with the spread."""
    values, reps = compute(records, metrics, bootstrap)
    per_class = breakdown(records, class_metrics if class_metrics is not None else metrics, lambda r: r.target)
    return TaskSummary(metrics=values, per_class=per_class, per_paraphrase=paraphrase_spread(records, metrics),
                       breakdowns=breakdowns, replicates=reps, contributions=contributions(records, metrics))
