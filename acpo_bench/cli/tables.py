"""Rich tables printed by the commands (read from results dicts, never from live objects)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    return "—" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


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
            if first and (block["errors"] or block["skipped"]):
                label += f" ({block['errors']} err, {block['skipped']} skip)"
            table.add_row(label, metric, fmt(value["value"]), fmt_ci(value["ci95"]), str(value["n"]), arrow)
            first = False
        table.add_section()
    ags = (results.get("summary") or {}).get("audio_grounding_score")
    if ags:
        table.add_row("[bold]audio grounding score[/bold]", "AGS", f"[bold]{fmt(ags['value'])}[/bold]",
                      fmt_ci(ags["ci95"]), "", "↑")
    return table


def print_summary(results: dict[str, Any], console: Console | None = None) -> None:
    (console or Console()).print(summary_table(results))
