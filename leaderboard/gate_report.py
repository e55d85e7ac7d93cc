"""The gate's outputs: a rich table, JUnit XML (one test case per metric) and a markdown summary that can be
appended to ``$GITHUB_STEP_SUMMARY``. Each also has a form for an invalid comparison, so CI shows why it stopped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.table import Table
from rich.text import Text

from acpo_bench.leaderboard.gate import GateReport, GateRow
from acpo_bench.leaderboard.text import md_escape

SUITE = "acpo-bench gate"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _arrow(row: GateRow) -> str:
    return "↑" if row.higher_is_better else "↓"


def verdict(report: GateReport) -> str:
    failed = [row.key for row in report.rows if row.failed]
    if failed:
        return f"REGRESSION in {', '.join(failed)}"
    return f"pass: no significant regression beyond tolerance (alpha {report.alpha}, Holm-corrected)"


def rich_table(report: GateReport) -> Table:
    title = Text(f"acpo-bench gate · {report.baseline.label} → {report.candidate.label}")
    table = Table(title=title, title_justify="left")
    for column, justify in (("metric", "left"), ("baseline → candidate", "right"), ("Δ", "right"),
                            ("tol", "right"), ("test", "left"), ("n", "right"), ("p", "right"), ("Holm p", "right"),
                            ("status", "left")):
        table.add_column(column, justify=justify, no_wrap=column != "test")
    for row in report.rows:
        style = {"REGRESSION": "bold red", "pass": "green", "reported": "dim"}[row.status]
        table.add_row(Text(f"{row.key} {_arrow(row)}"), f"{row.baseline:.3f} → {row.candidate:.3f}",
                      f"{row.delta:+.3f}", f"{row.tolerance:.3f}" if row.gated else "—",
                      Text(f"{row.test}: {row.detail}"), str(row.n), _p(row.p_value), _p(row.p_holm),
                      Text(row.status, style=style))
    return table


def markdown(report: GateReport) -> str:
    failed = [f"`{_code(row.key)}`" for row in report.rows if row.failed]
    heading = (f"❌ acpo-bench gate: REGRESSION in {', '.join(failed)}" if failed
               else f"✅ acpo-bench gate: pass (alpha {report.alpha}, Holm-corrected)")
    lines = [f"## {heading}", "",
             f"baseline `{md_escape(str(report.baseline.path))}` ({md_escape(report.baseline.label)}) → candidate "
             f"`{md_escape(str(report.candidate.path))}` ({md_escape(report.candidate.label)})", "",
             "| metric | | baseline | candidate | Δ | tolerance | test | n | detail | p | p (Holm) | status |",
             "|---|:-:|--:|--:|--:|--:|---|--:|---|--:|--:|---|"]
    for row in report.rows:
        status = {"REGRESSION": "**REGRESSION**", "pass": "pass", "reported": "reported (not gated)"}[row.status]
        lines.append(f"| `{_code(row.key)}` | {_arrow(row)} | {row.baseline:.3f} | {row.candidate:.3f} "
                     f"| {row.delta:+.3f} "
                     f"| {f'{row.tolerance:.3f}' if row.gated else '—'} | {row.test} | {row.n} | {row.detail} "
                     f"| {_p(row.p_value)} | {_p(row.p_holm)} | {status} |")
    lines += ["", "A metric fails when its one-sided test of regression (McNemar's exact test for yes/no outcomes, "
              "a paired clip bootstrap otherwise) gives a Holm-corrected p below alpha and its regression exceeds "
              "its tolerance."]
    lines += [f"- note: {md_escape(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    """Text for a markdown code span (which shows everything literally except backticks and table pipes)."""
    return text.replace("`", "'").replace("|", "\\|")


def invalid_markdown(message: str) -> str:
    return ("## ⚠️ acpo-bench gate: invalid comparison (exit 2)\n\n```\n" + message.replace("```", "'''")
            + "\n```\n\nNothing was gated: fix the inputs and run the gate again.\n")


def junit(report: GateReport) -> bytes:
    """JUnit XML: one <testcase> per metric; a regression is a <failure>, a reported metric is <skipped>."""
    suite = ET.Element("testsuite", name=SUITE, tests=str(len(report.rows)),
                       failures=str(sum(row.failed for row in report.rows)), errors="0",
                       skipped=str(sum(not row.gated for row in report.rows)))
    for row in report.rows:
        case = ET.SubElement(suite, "testcase", classname=SUITE, name=row.key)
        text = (f"{row.key} {_arrow(row)}: baseline {row.baseline:.4f}, candidate {row.candidate:.4f} "
                f"(Δ {row.delta:+.4f}, tolerance {row.tolerance:.4f}); {row.test}, n {row.n}, {row.detail}; "
                f"p {_p(row.p_value)}, Holm {_p(row.p_holm)}, alpha {report.alpha}")
        if row.failed:
            ET.SubElement(case, "failure", message=f"regression in {row.key}", type="regression").text = text
        elif not row.gated:
            ET.SubElement(case, "skipped", message="reported, not gated")
        ET.SubElement(case, "system-out").text = text
    return _xml(suite)


def invalid_junit(message: str) -> bytes:
    suite = ET.Element("testsuite", name=SUITE, tests="1", failures="0", errors="1", skipped="0")
    case = ET.SubElement(suite, "testcase", classname=SUITE, name="comparison")
    ET.SubElement(case, "error", message="invalid comparison", type="invalid").text = message
    return _xml(suite)


def _xml(suite: ET.Element) -> bytes:
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
