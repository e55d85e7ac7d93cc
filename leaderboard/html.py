"""The leaderboard as one self-contained HTML file: inline CSS, a few lines of inline JS to sort columns, inline SVG
before/after charts for runs that share a base model. Nothing is fetched: no scripts, fonts or CDNs.

Results files are untrusted: every string from one is HTML-escaped, numbers are formatted here, and a
Content-Security-Policy allows only this page's own script and style (by hash), so even a string that slipped
through escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from acpo_bench.leaderboard.tables import (
    MODEL_HEADERS,
    Cell,
    Column,
    Leaderboard,
    Row,
    caption,
    fmt_ci,
    fmt_params,
    fmt_value,
)
from acpo_bench.leaderboard.text import html_escape as esc

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1f24; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #d0d7de; white-space: nowrap; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
th.group { text-align: center; border-bottom: 2px solid #8c959f; }
th[data-col] { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; }
td.best { font-weight: 600; }
small { color: #57606a; }
tr.baseline td { background: #fff8c5; }
.charts svg { margin: 1em 1em 0 0; border: 1px solid #d0d7de; }
"""

# Sorting: the first click on a column puts the best value first (by the metric's direction), the next reverses;
# rows without a value stay last either way.
SCRIPT = """
(function () {
  var table = document.getElementById("board");
  var body = table.tBodies[0];
  var heads = table.querySelectorAll("th[data-col]");
  function key(row, col) { return row.cells[col].getAttribute("data-v"); }
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var col = Number(th.getAttribute("data-col"));
      var numeric = th.getAttribute("data-type") === "num";
      var current = th.getAttribute("aria-sort");
      var ascending = current ? current === "descending" : th.getAttribute("data-first") === "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, col), y = key(b, col);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var d = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page(lb: Leaderboard) -> str:
    csp = f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; img-src data:"
    charts = before_after_charts(lb)
    notes = "".join(f"<li>{esc(n)}</li>" for n in lb.notes)
    notes += "".join(f"<li>† {esc(r.run.label)}: {esc('; '.join(r.mixed))}</li>" for r in lb.rows if r.mixed)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>acpo-bench leaderboard</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>acpo-bench leaderboard</h1>\n"
        f"<p>{esc(caption(lb))}. Click a column header to sort; bold is the best in its column.</p>\n"
        f"{_table(lb)}\n" + (f"<ul class=\"notes\">{notes}</ul>\n" if notes else "")
        + (f"<h2>Before / after</h2>\n<div class=\"charts\">{charts}</div>\n" if charts else "")
        + f"<script>{SCRIPT}</script>\n</body>\n</html>\n")


def _first(column: Column) -> str:
    return "ascending" if column.higher_is_better is False else "descending"


def _table(lb: Leaderboard) -> str:
    groups = [("", len(MODEL_HEADERS))] + [(g, len(cols)) for g, cols in lb.groups]
    if lb.delta_columns:
        groups.append(("Δ vs " + lb.baseline.label, len(lb.delta_columns)))
    top = "".join(f"<th class=\"group\" colspan=\"{n}\">{esc(g)}</th>" for g, n in groups)
    heads = [f"<th data-col=\"{i}\" data-type=\"{'num' if h == 'params' else 'text'}\" "
             f"data-first=\"{'descending' if h == 'params' else 'ascending'}\">{esc(h)}</th>"
             for i, h in enumerate(MODEL_HEADERS)]
    offset = len(MODEL_HEADERS)
    heads += [f"<th data-col=\"{offset + i}\" data-type=\"num\" data-first=\"{_first(c)}\" "
              f"title=\"{esc(c.key)}\">{esc(c.label)} {c.arrow}</th>" for i, c in enumerate(lb.columns)]
    offset += len(lb.columns)
    heads += [f"<th data-col=\"{offset + i}\" data-type=\"num\" data-first=\"{_first(c)}\" "
              f"title=\"Δ {esc(c.key)}\">Δ {esc(c.label)}</th>" for i, c in enumerate(lb.delta_columns)]
    body = "\n".join(_row(lb, row) for row in lb.rows)
    return (f"<table id=\"board\">\n<thead>\n<tr>{top}</tr>\n<tr>{''.join(heads)}</tr>\n</thead>\n"
            f"<tbody>\n{body}\n</tbody>\n</table>")


def _row(lb: Leaderboard, row: Row) -> str:
    run = row.run
    label = (esc(run.model_cell) + (" †" if row.mixed else "")
             + (" <small>(baseline)</small>" if row.is_baseline else ""))
    cells = [f"<td data-v=\"{esc(run.model_cell)}\" title=\"{esc(run.path)}\">{label}</td>",
             f"<td data-v=\"{esc(run.adapter or '')}\">{esc(run.adapter or '')}</td>",
             f"<td class=\"num\" data-v=\"{'' if run.parameters is None else run.parameters}\">"
             f"{esc(fmt_params(run.parameters))}</td>",
             f"<td data-v=\"{esc(run.date)}\">{esc(run.date)}</td>",
             f"<td data-v=\"{esc(run.commit)}\"><code>{esc(run.commit)}</code></td>"]
    for c in lb.columns:
        cell = row.cells[c.key]
        best = " best" if lb.best(c.key) is not None and cell.value == lb.best(c.key) else ""
        cells.append(_num(cell, f"num{best}", signed=False))
    cells += [_num(row.deltas.get(c.key) or Cell(None), "num", signed=True) for c in lb.delta_columns]
    return f"<tr class=\"{'baseline' if row.is_baseline else ''}\">" + "".join(cells) + "</tr>"


def _num(cell: Cell, cls: str, signed: bool) -> str:
    value = "" if cell.value is None else repr(cell.value)
    ci = fmt_ci(cell, signed)
    return (f"<td class=\"{cls}\" data-v=\"{value}\">{fmt_value(cell, signed)}"
            + (f" <small>{ci}</small>" if ci else "") + "</td>")


# --- before/after charts ----------------------------------------------------------------------------------------

COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700")


def base_model_groups(rows: Sequence[Row]) -> list[tuple[Row, list[Row]]]:
    """(base run, its fine-tuned runs): runs of one model name, the base being the one without an adapter."""
    out = []
    for name in dict.fromkeys(r.run.name for r in rows):
        same = [r for r in rows if r.run.name == name]
        base = next((r for r in same if r.run.adapter is None), None)
        tuned = [r for r in same if r.run.adapter is not None]
        if base is not None and tuned:
            out.append((base, tuned))
    return out


def before_after_charts(lb: Leaderboard) -> str:
    columns = [c for c in lb.columns if c.higher_is_better is not None]
    return "\n".join(_chart(base, tuned, columns) for base, tuned in base_model_groups(lb.rows))


def _chart(base: Row, tuned: list[Row], columns: list[Column]) -> str:
    """Per metric a 0..1 scale with each run's point and 95% CI whisker: grey before, colours after."""
    runs = [("before: " + base.run.label, "#6e7781", base)] + [
        ("after: " + r.run.label, COLORS[i % len(COLORS)], r) for i, r in enumerate(tuned)]
    values = [x for _, _, r in runs for c in columns for x in ([r.cells[c.key].value] + list(r.cells[c.key].ci95 or []))
              if x is not None]
    lo, hi = min([0.0, *values]), max([1.0, *values])
    left, width, row_h, top = 230, 360, 22, 30 + 16 * len(runs)
    height = top + row_h * len(columns) * len(runs) + 30

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * width

    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + 40}\" height=\"{height}\" "
             f"role=\"img\" aria-label=\"before and after: {esc(base.run.name)}\">",
             f"<text x=\"8\" y=\"18\" font-weight=\"600\">{esc(base.run.name)}</text>"]
    for i, (label, color, _) in enumerate(runs):
        parts.append(f"<circle cx=\"14\" cy=\"{30 + 16 * i}\" r=\"4\" fill=\"{color}\"/>"
                     f"<text x=\"24\" y=\"{34 + 16 * i}\" font-size=\"12\">{esc(label)}</text>")
    y = top
    for c in columns:
        parts.append(f"<text x=\"8\" y=\"{y + row_h * len(runs) / 2 + 4}\" font-size=\"12\">"
                     f"{esc(c.group)}.{esc(c.label)} {c.arrow}</text>")
        for _, color, r in runs:
            cell = r.cells[c.key]
            cy = y + row_h / 2
            parts.append(f"<line x1=\"{x(lo):.1f}\" x2=\"{x(hi):.1f}\" y1=\"{cy}\" y2=\"{cy}\" stroke=\"#eaeef2\"/>")
            if cell.ci95 is not None:
                parts.append(f"<line x1=\"{x(cell.ci95[0]):.1f}\" x2=\"{x(cell.ci95[1]):.1f}\" y1=\"{cy}\" "
                             f"y2=\"{cy}\" stroke=\"{color}\" stroke-width=\"2\"/>")
            if cell.value is not None:
                parts.append(f"<circle cx=\"{x(cell.value):.1f}\" cy=\"{cy}\" r=\"4\" fill=\"{color}\">"
                             f"<title>{esc(r.run.label)}: {fmt_value(cell)} {fmt_ci(cell)}</title></circle>")
            y += row_h
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f"<text x=\"{x(v):.1f}\" y=\"{height - 10}\" font-size=\"11\" text-anchor=\"middle\">"
                     f"{v:g}</text>")
    parts.append("</svg>")
    return "".join(parts)
