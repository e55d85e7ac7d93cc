"""``acpo-bench list``: tasks, suites and models, built-in and from plugins."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from acpo_bench import registry
from acpo_bench.models import BUILTIN as BUILTIN_MODELS
from acpo_bench.models import DESCRIPTIONS
from acpo_bench.tasks import BUILTIN as BUILTIN_TASKS
from acpo_bench.tasks.suites import SUITES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list tasks, suites and models", description=__doc__)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    tasks = Table(title="tasks", title_justify="left")
    for column in ("name", "version", "source", "description"):
        tasks.add_column(column)
    for name, target in registry.targets(registry.TASK_GROUP, BUILTIN_TASKS).items():
        source = "built-in" if name in BUILTIN_TASKS else "plugin"
        try:
            task = registry.resolve(target)
            tasks.add_row(name, str(task.version), source, task.description)
        except Exception as exc:  # a broken plugin is listed with its error, not hidden
            tasks.add_row(name, "?", source, f"[red]cannot load {target}: {exc}[/red]")
    suites = Table(title="suites", title_justify="left")
    for column in ("name", "tasks", "clips", "description"):
        suites.add_column(column)
    for name, suite in SUITES.items():
        suites.add_row(name, ", ".join(suite.tasks), "all" if suite.clips is None else str(suite.clips),
                       suite.description)
    models = Table(title="models", title_justify="left")
    for column in ("name", "source", "description"):
        models.add_column(column)
    for name, target in registry.targets(registry.MODEL_GROUP, BUILTIN_MODELS).items():
        models.add_row(name, "built-in" if name in BUILTIN_MODELS else "plugin", DESCRIPTIONS.get(name, target))
    for table in (tasks, suites, models):
        console.print(table)
    return 0
