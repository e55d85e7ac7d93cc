"""``acpo-bench view``: one self-contained HTML page to browse a run's probes (or two runs' probes side by side):
the frames and the very audio the model got, the prompt, the reply, the parsed answer, the verdict and why.

Reads results files only (``acpo_bench.results``) and media through the core (viewer_media); the page itself is
viewer_html. With two runs the probes are paired by probe id (a hash of media, recipe, prompt and kind, so the same
probe on another machine has the same id) and those whose answer changed come first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acpo_bench.leaderboard.runs import IncomparableError, Run, describe_data, differences, load_run
from acpo_bench.leaderboard.viewer_html import Choices, RunSummary, page
from acpo_bench.leaderboard.viewer_media import (
    EmbeddedMedia,
    MediaBuilder,
    ProbeInput,
    locate_data,
    probe_input,
    run_media_spec,
)
from acpo_bench.results import ResultsError, load_sample_rows
from acpo_bench.schemas import SampleRecord, stable_hash

# The page's size when --max-media is not given: what the rows take (~140 bytes per probe and run once repeated
# strings are stored once: ~4 MB for the ~28 000 probes of the default suite, ~8 MB for two runs of the pipeline's
# 400 clips), then media in what is left. An input (one (video, audio recipe) pair; every probe asking about it
# shares it) costs 43 KB per second of 16 kHz 16-bit WAV once base64-encoded, plus ~4-8 KB per 160 px JPEG frame:
# ~50 KB for a synthetic-world input (1 s, 2 frames), ~180 KB for a real-media one (4 s), ~440 KB for a 10 s
# benchmark clip, so a fixed count of inputs cannot keep every kind of run under the target; a byte budget does.
PAGE_BUDGET_BYTES = 20_000_000
PAGE_OVERHEAD_BYTES = 300_000  # the page's script, style, tables and the JSON around the media

SIDE_FIELDS = ("response", "answer", "correct", "why", "error")
ROW_FIELDS = ("probe", "task", "clip", "condition", "setting", "kind", "question", "modality", "target", "expected",
              "prompt", "visible", "audible", "metrics", "heard", "media", "note", "change", "sides")
# display order of the A -> B outcomes: regressions first, then fixes, then other answer changes
CHANGE_RANK = {"broken": 0, "fixed": 1, "answer": 2, "one": 3, "same": 4, None: 4}
VERDICT_RANK = {"wrong": 0, "error": 1, "unscored": 2, "correct": 3, "absent": 4}


@dataclass(frozen=True)
class Sample:
    """One samples row: the checked record and the metrics it contributes to."""

    record: SampleRecord
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ProbeRow:
    """One probe of the page: its record in each run (None where a run lacks it) and how the answer changed."""

    sides: tuple[Sample | None, ...]
    change: str | None  # two runs: broken / fixed / answer / same / one; one run: None

    @property
    def first(self) -> Sample:
        return next(s for s in self.sides if s is not None)


@dataclass(frozen=True)
class ViewPage:
    html: str
    notices: list[str]
    probes: int
    probes_with_media: int
    inputs_embedded: int
    media_bytes: int
    data_root: Path | None  # where the media was read (from results.json or --data), None when none was


def build_view(paths: Sequence[str | Path], data: str | None = None, max_media: int | None = None,
               show_progress: bool = True) -> ViewPage:
    """The page for one run, or two runs of the same data (the first is A, "before"; the second B, "after").
    ``max_media``: embed at most this many inputs (None: as many as keep the page under PAGE_BUDGET_BYTES)."""
    if not 1 <= len(paths) <= 2:
        raise ValueError("view takes one run directory, or two to compare")
    if max_media is not None and max_media < 0:
        raise ValueError(f"--max-media must be >= 0, got {max_media}")
    runs = [load_run(p) for p in paths]
    if len(runs) == 2 and (diff := differences(runs[0], runs[1])):
        raise IncomparableError(f"{runs[1].path} cannot be paired with {runs[0].path}: {'; '.join(diff)}. Compare "
                                "runs evaluated on the same data with the same acpo-bench, or view them one at a time")
    rows = ordered(pair_rows(runs))
    notices: list[str] = []
    inputs = [probe_input(row.first.record) for row in rows]
    rows_bytes = len(json.dumps(_payload(runs, rows, inputs, {}, {}), separators=(",", ":")))
    budget = max(0, PAGE_BUDGET_BYTES - PAGE_OVERHEAD_BYTES - rows_bytes)
    embedded, notes, root = _embed(runs, rows, inputs, data, max_media, notices, show_progress, budget)
    payload = _payload(runs, rows, inputs, embedded, notes)
    with_media = sum(1 for r in payload["rows"] if r[ROW_FIELDS.index("media")] >= 0)
    html = page([_summary(run, i, rows) for i, run in enumerate(runs)], _choices(rows), payload, notices)
    return ViewPage(html, notices, len(rows), with_media, len(embedded), sum(m.size for m in embedded.values()),
                    root)


# --- rows ---------------------------------------------------------------------------------------------------------

def read_samples(run: Run, task: str) -> list[Sample]:
    where = run.path.parent / str(run.tasks[task]["samples"].get("path"))
    samples = []
    for number, row in enumerate(load_sample_rows(run.path, task), start=1):
        try:
            record = SampleRecord.from_json(row)
        except (TypeError, KeyError, ValueError) as exc:
            raise ResultsError(f"{where}: line {number} is not a sample record ({exc}); the samples file is damaged: "
                               "re-run `acpo-bench eval`") from None
        for name in ("probe_id", "task", "clip_id", "prompt"):  # they key, pair and sort the rows
            if not isinstance(getattr(record, name), str):
                raise ResultsError(f"{where}: line {number}: {name} is not a string; the samples file is damaged: "
                                   "re-run `acpo-bench eval`")
        metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        samples.append(Sample(record, tuple(sorted(f"{task}.{name}" for name in metrics))))
    return samples


def pair_rows(runs: Sequence[Run]) -> list[ProbeRow]:
    """Every probe of every task, aligned across runs by probe id. Unlike leaderboard.pairing (which refuses
    anything a paired test cannot use), a browser shows probes one run lacks or answered with an error too."""
    rows = []
    for task in dict.fromkeys(t for run in runs for t in run.tasks):
        sides = []
        for run in runs:
            by_id: dict[str, Sample] = {}
            for sample in read_samples(run, task) if task in run.tasks else []:
                if sample.record.probe_id in by_id:  # a run asks each probe once per task
                    raise ResultsError(f"{run.path}: the samples of {task!r} repeat probe {sample.record.probe_id}; "
                                       "the file is damaged: re-run `acpo-bench eval`")
                by_id[sample.record.probe_id] = sample
            sides.append(by_id)
        ids = dict.fromkeys(p for side in sides for p in side)
        rows += [ProbeRow(tuple(side.get(p) for side in sides), change_of(tuple(s.get(p) for s in sides)))
                 for p in ids]
    return rows


def verdict(sample: Sample | None) -> str:
    if sample is None:
        return "absent"
    record = sample.record
    if record.error is not None:
        return "error"
    return "correct" if record.correct is True else "wrong" if record.correct is False else "unscored"


def change_of(sides: tuple[Sample | None, ...]) -> str | None:
    """How B's answer differs from A's: broken (right -> wrong), fixed (wrong -> right), answer (another answer, same
    verdict), same, or one (a probe of one run only)."""
    if len(sides) < 2:
        return None
    a, b = sides
    if a is None or b is None:
        return "one"
    before, after = verdict(a), verdict(b)
    if (before, after) == ("correct", "wrong"):
        return "broken"
    if (before, after) == ("wrong", "correct"):
        return "fixed"
    changed = (a.record.answer, a.record.error, before) != (b.record.answer, b.record.error, after)
    return "answer" if changed else "same"


def ordered(rows: list[ProbeRow]) -> list[ProbeRow]:
    """Changed answers first (two runs), then wrong before right; within that, by task, clip and probe id."""
    tasks = {t: i for i, t in enumerate(dict.fromkeys(r.first.record.task for r in rows))}

    def key(row: ProbeRow) -> tuple:
        record = row.first.record
        return (CHANGE_RANK[row.change], min(VERDICT_RANK[verdict(s)] for s in row.sides), tasks[record.task],
                str(record.clip_id), record.probe_id)

    return sorted(rows, key=key)


def media_order(rows: Sequence[ProbeRow]) -> list[int]:
    """The order in which rows get media: changed answers, then wrong ones, first; within that a hash order of
    probe id, which spreads the media over tasks, clips and conditions (and is the same for the same inputs)."""
    return sorted(range(len(rows)), key=lambda i: (
        CHANGE_RANK[rows[i].change], min(VERDICT_RANK[verdict(s)] for s in rows[i].sides),
        stable_hash(rows[i].first.record.probe_id)))


# --- media --------------------------------------------------------------------------------------------------------

def _embed(runs: Sequence[Run], rows: Sequence[ProbeRow], inputs: Sequence[ProbeInput | str], data: str | None,
           max_media: int | None, notices: list[str], show_progress: bool, budget: int
           ) -> tuple[dict[tuple[str, str], EmbeddedMedia], dict[tuple[str, str], str], Path | None]:
    """Rebuild and encode inputs in media_order until ``max_media`` inputs (or the byte budget) are embedded. Returns
    them, the reasons others could not be (by input key, summarised in ``notices``) and the data directory read."""
    wanted = list(dict.fromkeys(item.key for i in media_order(rows) if isinstance(item := inputs[i], ProbeInput)))
    embedded: dict[tuple[str, str], EmbeddedMedia] = {}
    failed: dict[tuple[str, str], str] = {}
    if max_media == 0:
        return embedded, failed, None
    if not wanted:
        unusable = Counter(item for item in inputs if isinstance(item, str)).most_common(1)
        notices += [f"media not shown: {reason}" for reason, _ in unusable]
        return embedded, failed, None
    located = locate_data(list(runs), data)
    if located.root is None:
        notices.append(located.notice)
        return embedded, failed, None
    specs = [run_media_spec(run) for run in runs]  # read only now: files older than the media field lack some
    if len(specs) == 2 and specs[0] != specs[1]:
        notices.append(f"frames are shown as A sampled them ({specs[0].key()}); B sampled {specs[1].key()}")
    by_key = {item.key: item for item in inputs if isinstance(item, ProbeInput)}
    limit = len(wanted) if max_media is None else min(max_media, len(wanted))
    builder, total = MediaBuilder(located, specs[0]), 0
    with _progress(show_progress, limit) as advance:
        for key in wanted:
            if len(embedded) >= limit:
                break
            built = builder.build(by_key[key])
            if isinstance(built, str):
                failed[key] = built
                continue
            if max_media is None and total + built.size > budget:
                break
            embedded[key], total = built, total + built.size
            advance()
    if failed:
        reasons = Counter(failed.values()).most_common(3)
        notices.append(f"{len(failed)} inputs could not be shown: "
                       + "; ".join(f"{reason} ({n}×)" for reason, n in reasons))
    return embedded, failed, located.root


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar over the inputs being decoded (none with show False: --quiet); yields "one more done"."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("decoding media"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show, transient=True) as progress:
        bar = progress.add_task("media", total=total)
        yield lambda: progress.advance(bar)


# --- the page's data ----------------------------------------------------------------------------------------------

class _Strings:
    """Each distinct string stored once (prompts, replies and reasons repeat across thousands of probes)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, (list, tuple)):  # an open answer: the classes it names
            value = ", ".join(map(str, value))
        text = str(value)
        if text not in self._index:
            self._index[text] = len(self.values)
            self.values.append(text)
        return self._index[text]


def _payload(runs: Sequence[Run], rows: Sequence[ProbeRow], inputs: Sequence[ProbeInput | str],
             embedded: dict[tuple[str, str], EmbeddedMedia], failed: dict[tuple[str, str], str]) -> dict[str, Any]:
    strings = _Strings()
    media_index = {key: i for i, key in enumerate(embedded)}
    out = []
    for i, row in enumerate(rows):
        record = row.first.record
        item = inputs[i]
        if isinstance(item, str):
            media, note = -1, item
        elif item.key in media_index:
            media, note = media_index[item.key], None
        else:
            media, note = -1, failed.get(item.key, "not embedded: the page's media budget went to other probes "
                                                   "(--max-media)")
        sides = [None if s is None else _side(s.record, strings) for s in row.sides]
        values = {"probe": record.probe_id,  # unique: not worth a string-table entry
                  "task": strings(record.task), "clip": strings(record.clip_id),
                  "condition": strings(record.condition), "setting": strings(record.setting),
                  "kind": strings(record.kind), "question": strings(record.question),
                  "modality": strings(record.modality), "target": strings(record.target),
                  "expected": strings(record.expected), "prompt": strings(record.prompt),
                  "visible": [strings(v) for v in record.visible], "audible": [strings(v) for v in record.audible],
                  "metrics": [strings(m) for m in sorted({m for s in row.sides if s for m in s.metrics})],
                  "heard": strings(item.heard() if isinstance(item, ProbeInput) else None),
                  "media": media, "note": strings(note), "change": strings(row.change), "sides": sides}
        out.append([values[name] for name in ROW_FIELDS])
    media = [{"frames": list(m.frames), "audio": m.audio, "frame_count": m.frame_count} for m in embedded.values()]
    return {"runs": [run.label for run in runs], "fields": list(ROW_FIELDS), "side_fields": list(SIDE_FIELDS),
            "strings": strings.values, "rows": out, "media": media}


def _side(record: SampleRecord, strings: _Strings) -> list[Any]:
    """One run's answer to a probe, as SIDE_FIELDS."""
    values = {"response": strings(record.response), "answer": strings(record.answer),
              "correct": record.correct if isinstance(record.correct, bool) else None,
              "why": strings(record.why), "error": strings(record.error)}
    return [values[name] for name in SIDE_FIELDS]


def _summary(run: Run, side: int, rows: Sequence[ProbeRow]) -> RunSummary:
    samples = [row.sides[side] for row in rows if row.sides[side] is not None]
    return RunSummary(label=run.label, path=str(run.path), data=describe_data(run.data), probes=len(samples),
                      verdicts=dict(Counter(verdict(s) for s in samples)))


def _choices(rows: Sequence[ProbeRow]) -> Choices:
    records = [s.record for row in rows for s in row.sides if s is not None]

    def values(get: Callable[[SampleRecord], Any]) -> list[str]:
        return sorted({str(v) for r in records if (v := get(r)) not in (None, "")})

    return Choices(tasks=list(dict.fromkeys(r.task for r in records)),
                   metrics=sorted({m for row in rows for s in row.sides if s for m in s.metrics}),
                   questions=values(lambda r: r.question), kinds=values(lambda r: r.kind),
                   classes=sorted({str(c) for r in records for c in (r.target, *r.visible, *r.audible) if c}),
                   conditions=values(lambda r: r.condition))
