"""Rich tables printed by the commands (read from results dicts, never from live objects)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table

# widest a table may be measured at when output is not a terminal (a pipe, a log file, CI)
UNBOUNDED = 10_000


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    return "—" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def print_table(console: Console, table: RenderableType) -> None:
    """Print ``table`` whole. On a terminal rich fits it to the window; elsewhere (a pipe, a file, CI) the console
    has a fixed default width of 80 and rich would cut long task and metric names to "swapped_au…", so the table
    gets the width it needs: nothing reflows in a log, and a name that is cut cannot be searched for."""
    if console.is_terminal:
        console.print(table)
        return
    needed = Measurement.get(console, console.options.update_width(UNBOUNDED), table).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width


def summary_table(results: dict[str, Any]) -> Table:
    model = results["model"]
    title = f"{model['name']}" + (f" + {model['adapter']}" if model.get("adapter") else "")
    table = Table(title=f"acpo-bench · {title} · {results['config']['data']['name']}", title_justify="left")
    for column, justify in (("task", "left"), ("metric", "left"), ("value", "right"), ("95% CI", "right"),
                            ("n", "right"), ("better", "center")):
        table.add_column(column, justify=justify)
    for name, block in results["tasks"].items():
        first = True
        for metric in block.get("headline") or list(block["metrics"])[:4]:
            value = block["metrics"].get(metric)
            if value is None:
                continue
            arrow = {True: "↑", False: "↓", None: ""}[value["higher_is_better"]]
            label = name if first else ""
            if first:
                label += _problems(block)
            table.add_row(label, metric, fmt(value["value"]), fmt_ci(value["ci95"]), str(value["n"]), arrow)
            first = False
        table.add_section()
    ags = (results.get("summary") or {}).get("audio_grounding_score")
    if ags:
        table.add_row("[bold]audio grounding score[/bold]", "AGS", f"[bold]{fmt(ags['value'])}[/bold]",
                      fmt_ci(ags["ci95"]), "", "↑")
    return table


def _problems(block: dict[str, Any]) -> str:
    """" (2 errors, 3 skipped)": only the counts that are not zero (explained under the table)."""
    parts = [f"{block[key]} {word}" for key, word in (("errors", "errors"), ("skipped", "skipped"))
             if block.get(key)]
    return f" ({', '.join(parts)})" if parts else ""


def legend(results: dict[str, Any]) -> str:
    """One line under the table: what its abbreviations mean and which way is better."""
    shown = [m for block in results["tasks"].values() for m in block.get("headline") or block["metrics"]]
    parts = []
    if any(m.startswith("vahr") for m in shown):
        parts.append("VAHR = video-driven audio hallucination rate, how often the model says it hears a sound it "
                     "only sees (lower is better ↓)")
    if (results.get("summary") or {}).get("audio_grounding_score"):
        parts.append("AGS = audio grounding score, 0 to 1, how far the answers follow the audio rather than the "
                     "video (higher is better ↑)")
    return " · ".join(parts) or "better: ↑ higher is better, ↓ lower is better"


def skipped_lines(results: dict[str, Any]) -> list[str]:
    """Why each task skipped clips, one line per reason (files written before reasons were recorded: the count)."""
    lines = []
    for name, block in results["tasks"].items():
        if not block.get("skipped"):
            continue
        reasons = block.get("skipped_reasons") or {"reason not recorded": block["skipped"]}
        for reason, count in reasons.items():
            lines.append(f"{name}: {count} {'clip' if count == 1 else 'clips'} skipped, {reason}")
    return lines


def print_summary(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    print_table(console, summary_table(results))
    console.print(legend(results), soft_wrap=True, highlight=False)
    for line in skipped_lines(results):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
