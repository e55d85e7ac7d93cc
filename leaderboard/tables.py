"""The leaderboard: one row per run, a column group per task (its headline metrics with 95% CIs), the audio
grounding score for sorting, and optionally a Δ-vs-baseline group whose CIs come from the paired clip bootstrap.

``build`` turns results files into a ``Leaderboard``; ``markdown``, ``csv_text`` and ``latex`` render it (HTML lives
in html.py). Results files are untrusted: every string from one goes through the format's escaping (text.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from acpo_bench.leaderboard.gate import DEFAULT_GATE
from acpo_bench.leaderboard.pairing import InvalidComparison, metric_arrays, pair_task
from acpo_bench.leaderboard.runs import (
    AGS,
    Run,
    check_comparable,
    check_metric_exists,
    describe_data,
    differences,
    reference_run,
)
from acpo_bench.leaderboard.stats import paired_bootstrap
from acpo_bench.leaderboard.text import csv_safe, latex_escape, md_escape

SUMMARY_GROUP = "summary"
DELTA_GROUP = "Δ vs baseline"
DELTA_RESAMPLES = 2000  # the Δ CIs are for reading, not for decisions (that is the gate's job)
DELTA_DEFAULT = tuple(m.key for m in DEFAULT_GATE)


@dataclass(frozen=True)
class Column:
    key: str  # "ags" or "task.metric"
    group: str  # the task, or "summary"
    label: str  # the metric name
    higher_is_better: bool | None

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]


@dataclass(frozen=True)
class Cell:
    value: float | None
    ci95: tuple[float, float] | None = None


@dataclass(frozen=True)
class Row:
    run: Run
    cells: dict[str, Cell]
    deltas: dict[str, Cell] = field(default_factory=dict)  # candidate - baseline, per column key
    mixed: tuple[str, ...] = ()  # what this run measured differently from the reference (--allow-mixed)
    is_baseline: bool = False


@dataclass(frozen=True)
class Leaderboard:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    sort_key: str
    reference: Run
    baseline: Run | None = None
    notes: tuple[str, ...] = ()

    @property
    def groups(self) -> list[tuple[str, list[Column]]]:
        out: list[tuple[str, list[Column]]] = []
        for column in self.columns:
            if not out or out[-1][0] != column.group:
                out.append((column.group, []))
            out[-1][1].append(column)
        return out

    delta_keys: tuple[str, ...] = ()

    @property
    def delta_columns(self) -> tuple[Column, ...]:
        """Columns that get a Δ when there is a baseline."""
        return tuple(c for c in self.columns if c.key in self.delta_keys) if self.baseline else ()

    def best(self, key: str) -> float | None:
        column = next(c for c in self.columns if c.key == key)
        values = [v for row in self.rows if (v := row.cells[key].value) is not None]
        if not values or column.higher_is_better is None:
            return None
        return max(values) if column.higher_is_better else min(values)


def find_run(runs: Sequence[Run], name: str) -> Run:
    """A run by label (``name + adapter``), model name when unique, or results path."""
    for matches in ([r for r in runs if r.label == name], [r for r in runs if r.name == name],
                    [r for r in runs if str(r.path) == name or str(r.path.parent) == name.rstrip("/")]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValueError(f"--baseline {name!r} matches {len(matches)} runs "
                             f"({', '.join(str(r.path) for r in matches)}); name one by its results path")
    raise ValueError(f"--baseline {name!r} is none of the runs: {', '.join(sorted(r.label for r in runs))}")


def build(runs: Sequence[Run], baseline: str | None = None, sort: str | None = None, allow_mixed: bool = False,
          metrics: Sequence[str] | None = None, seed: int = 0) -> Leaderboard:
    if not runs:
        raise ValueError("no results files given")
    runs = list(runs)
    base = find_run(runs, baseline) if baseline else None
    reference = base or reference_run(runs)
    mixed: dict[Any, list[str]] = {}
    if allow_mixed:
        mixed = {run.path: diff for run in runs if (diff := differences(reference, run))}
    else:
        check_comparable(runs, reference)
    columns = _columns(runs, reference, metrics)
    sort_key = sort or AGS
    if not any(c.key == sort_key for c in columns):
        if not any(run.metric(sort_key) is not None for run in runs):
            check_metric_exists(reference, sort_key)  # raises with the names that exist
        columns.append(_column(runs, sort_key))
    notes: list[str] = []
    # Δ for what a before/after is about (the AGS and the gate's metrics) unless the columns were chosen by hand
    delta_keys = tuple(c.key for c in columns if c.higher_is_better is not None
                       and (metrics or c.key == AGS or c.key in DELTA_DEFAULT))
    delta_columns = [c for c in columns if c.key in delta_keys]
    rows = [Row(run, {c.key: _cell(run, c.key) for c in columns},
                _deltas(base, run, delta_columns, seed, notes) if base is not None and run is not base else {},
                tuple(mixed.get(run.path, ())), run is base) for run in runs]
    direction = next(c for c in columns if c.key == sort_key).higher_is_better
    rows.sort(key=lambda r: _sort_value(r.cells[sort_key].value, direction))
    if mixed:
        notes.insert(0, f"† measured differently from {reference.label} ({reference.path}); compare with care")
    return Leaderboard(tuple(columns), tuple(rows), sort_key, reference, base, tuple(notes), delta_keys)


def _sort_value(value: float | None, higher_is_better: bool | None) -> tuple[int, float]:
    """Best first; runs without the value last. A descriptive metric sorts high to low."""
    if value is None:
        return (1, 0.0)
    return (0, value if higher_is_better is False else -value)


def _column(runs: Sequence[Run], key: str) -> Column:
    entry = next((e for run in runs if (e := run.metric(key)) is not None), {})
    group, label = (SUMMARY_GROUP, "AGS") if key == AGS else key.split(".", 1)
    return Column(key, group, label, entry.get("higher_is_better", True if key == AGS else None))


def _columns(runs: Sequence[Run], reference: Run, metrics: Sequence[str] | None) -> list[Column]:
    if metrics:
        for key in metrics:
            if not any(run.metric(key) is not None for run in runs):
                check_metric_exists(reference, key)
        return [_column(runs, key) for key in metrics]
    keys = [AGS] if any(run.metric(AGS) is not None for run in runs) else []
    tasks: list[str] = []
    for run in [reference, *runs]:  # in the order the runs evaluated them (the tasks block is sorted by name)
        order = [t for t in run.results["config"].get("tasks") or [] if t in run.tasks] + sorted(run.tasks)
        tasks += [t for t in dict.fromkeys(order) if t not in tasks]
    for task in tasks:
        block = next(run.tasks[task] for run in [reference, *runs] if task in run.tasks)
        keys += [f"{task}.{m}" for m in block.get("headline") or list(block.get("metrics", {}))[:4]]
    return [_column(runs, key) for key in keys]


def _cell(run: Run, key: str) -> Cell:
    entry = run.metric(key) or {}
    ci = entry.get("ci95")
    return Cell(run.value(key), (float(ci[0]), float(ci[1])) if ci and None not in ci else None)


def _deltas(base: Run, run: Run, columns: Sequence[Column], seed: int, notes: list[str]) -> dict[str, Cell]:
    """Δ = run - baseline per column; a paired clip-bootstrap CI where the two runs' samples pair up."""
    out: dict[str, Cell] = {}
    paired: dict[str, Any] = {}
    for column in columns:
        if column.higher_is_better is None:
            continue
        b, v = base.value(column.key), run.value(column.key)
        if b is None or v is None:
            out[column.key] = Cell(None)
            continue
        ci = None
        if column.key != AGS:  # the AGS Δ has no CI here: its parts live in three tasks' samples
            task, metric = column.key.split(".", 1)
            if task not in paired:
                try:
                    paired[task] = pair_task(base, run, task)
                except InvalidComparison as exc:
                    paired[task] = None
                    notes.append(f"no Δ CI for {run.label} on {task}: {exc}")
            if paired[task] is not None:
                arrays = metric_arrays(paired[task], metric)
                if arrays.base_den.sum() > 0 and arrays.cand_den.sum() > 0:
                    ci = paired_bootstrap(*arrays.per_clip(paired[task].clip_index, paired[task].n_clips),
                                          higher_is_better=bool(column.higher_is_better),
                                          n_resamples=DELTA_RESAMPLES, seed=seed).delta_ci95
        out[column.key] = Cell(v - b, ci)
    return out


# --- rendering ------------------------------------------------------------------------------------------------

def fmt_value(cell: Cell, signed: bool = False) -> str:
    if cell.value is None:
        return "—"
    spec = "+.3f" if signed else ".3f"
    return f"{cell.value:{spec}}"


def fmt_ci(cell: Cell, signed: bool = False) -> str:
    if cell.ci95 is None:
        return ""
    spec = "+.3f" if signed else ".3f"
    return f"[{cell.ci95[0]:{spec}}, {cell.ci95[1]:{spec}}]"


def fmt_params(n: int | None) -> str:
    if n is None:
        return "—"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)


def caption(lb: Leaderboard) -> str:
    data = lb.reference.data
    sort = next(c for c in lb.columns if c.key == lb.sort_key)
    text = (f"data {describe_data(data)}; values with 95% clip-bootstrap CIs; "
            f"sorted by {sort.group + '.' if sort.group != SUMMARY_GROUP else ''}{sort.label} {sort.arrow}")
    if lb.baseline is not None:
        text += f"; Δ = run − {lb.baseline.label} with paired clip-bootstrap CIs (the AGS Δ without one)"
    return text


def _model_cells(row: Row) -> list[str]:
    run = row.run
    return [run.model_cell, run.adapter or "", fmt_params(run.parameters), run.date, run.commit]


MODEL_HEADERS = ("model", "adapter", "params", "date", "commit")


def markdown(lb: Leaderboard) -> str:
    """A GitHub-flavoured markdown table (``<br>`` separates group and metric in headers)."""
    headers = list(MODEL_HEADERS) + [f"{c.group}<br>{md_escape(c.label)} {c.arrow}".strip() for c in lb.columns]
    headers += [f"Δ {c.group}<br>{md_escape(c.label)}" for c in lb.delta_columns]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(["---"] * 2 + [":-:"] * 3 + ["--:"] * (len(headers) - 5)) + "|"]
    for row in lb.rows:
        model = [md_escape(x) for x in _model_cells(row)]
        if row.mixed:
            model[0] += " †"
        if row.is_baseline:
            model[0] += " *(baseline)*"
        cells = []
        for c in lb.columns:
            text = f"{fmt_value(row.cells[c.key])} {fmt_ci(row.cells[c.key])}".strip()
            best = lb.best(c.key)
            cells.append(f"**{text}**" if best is not None and row.cells[c.key].value == best else text)
        deltas = [f"{fmt_value(d, True)} {fmt_ci(d, True)}".strip() if (d := row.deltas.get(c.key)) else ""
                  for c in lb.delta_columns]
        lines.append("| " + " | ".join(model + cells + deltas) + " |")
    lines += ["", md_escape(caption(lb)) + ". **Bold**: best in its column."]
    for note in lb.notes:
        lines.append(f"- {md_escape(note)}")
    for row in lb.rows:
        if row.mixed:
            lines.append(f"- † {md_escape(row.run.label)}: {md_escape('; '.join(row.mixed))}")
    return "\n".join(lines) + "\n"


def csv_text(lb: Leaderboard) -> str:
    """One row per run; each metric as value, ci_low, ci_high columns (and delta columns with a baseline)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [*MODEL_HEADERS, "parameters_exact", "data", "data_fingerprint", "results", "baseline", "mixed"]
    for c in lb.columns:
        header += [c.key, f"{c.key}.ci_low", f"{c.key}.ci_high"]
    for c in lb.delta_columns:
        header += [f"delta.{c.key}", f"delta.{c.key}.ci_low", f"delta.{c.key}.ci_high"]
    writer.writerow(header)

    def nums(cell: Cell | None) -> list[str]:
        if cell is None or cell.value is None:
            return ["", "", ""]
        ci = cell.ci95 or ("", "")
        return [repr(cell.value), *(repr(x) if x != "" else "" for x in ci)]

    for row in lb.rows:
        run = row.run
        line = [csv_safe(x) for x in (*_model_cells(row), run.parameters if run.parameters is not None else "",
                                      run.data.get("name", ""), run.data.get("fingerprint", ""), run.path,
                                      int(row.is_baseline), "; ".join(row.mixed))]
        for c in lb.columns:
            line += nums(row.cells[c.key])
        for c in lb.delta_columns:
            line += nums(row.deltas.get(c.key))
        writer.writerow(line)
    return out.getvalue()


def latex(lb: Leaderboard) -> str:
    """A booktabs table (``\\usepackage{booktabs}``): grouped headers with \\cmidrule, best values in bold."""
    n_model = len(MODEL_HEADERS)
    groups = lb.groups + ([(DELTA_GROUP, list(lb.delta_columns))] if lb.delta_columns else [])
    spec = "@{}" + "l" * 2 + "r" + "l" * (n_model - 3) + "".join("r" * len(cols) for _, cols in groups) + "@{}"
    head, rules, start = [f"\\multicolumn{{{n_model}}}{{@{{}}l}}{{}}"], [], n_model + 1
    for group, cols in groups:
        head.append(f"\\multicolumn{{{len(cols)}}}{{c}}{{{latex_escape(group)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + len(cols) - 1}}}")
        start += len(cols)
    labels = [h.capitalize() for h in MODEL_HEADERS]
    labels += [latex_escape(f"{c.label} {c.arrow}".strip()) for _, cols in lb.groups for c in cols]
    labels += [latex_escape(c.label) for c in lb.delta_columns]
    lines = ["% acpo-bench leaderboard: needs \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering",
             "\\scriptsize", "\\setlength{\\tabcolsep}{3pt}", "\\begin{tabular}{" + spec + "}", "\\toprule",
             " & ".join(head) + " \\\\", "".join(rules), " & ".join(labels) + " \\\\", "\\midrule"]
    for row in lb.rows:
        model = [latex_escape(x) for x in _model_cells(row)]
        if row.mixed:
            model[0] += latex_escape("†")
        if row.is_baseline:
            model[0] += " (baseline)"
        cells = []
        for c in lb.columns:
            cell = row.cells[c.key]
            value = fmt_value(cell)
            if lb.best(c.key) is not None and cell.value == lb.best(c.key):
                value = "\\textbf{" + value + "}"
            ci = fmt_ci(cell)
            cells.append(value + _tiny(ci))
        for c in lb.delta_columns:
            d = row.deltas.get(c.key)
            cells.append("" if d is None else fmt_value(d, True) + _tiny(fmt_ci(d, True)))
        lines.append(" & ".join(model + cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    notes = [caption(lb), *lb.notes]
    notes += [f"† {row.run.label}: {'; '.join(row.mixed)}" for row in lb.rows if row.mixed]
    lines += ["\\caption{" + latex_escape("; ".join(notes)) + "}", "\\label{tab:acpo-bench}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def _tiny(ci: str) -> str:
    return " {\\tiny " + ci + "}" if ci else ""
