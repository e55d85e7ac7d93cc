"""Find tasks and models by name: a visible dict of built-in "module:attr" targets plus entry points.

Nothing registers itself at import time; an unknown name fails with the closest matches, and a plugin that fails
to import fails loudly with its own error.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any

TASK_GROUP = "acpo_bench.tasks"
MODEL_GROUP = "acpo_bench.models"


class UnknownNameError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def targets(group: str, builtin: dict[str, str]) -> dict[str, str]:
    """Name -> "module:attr" for the built-ins and every installed plugin of ``group`` (built-ins win)."""
    found = {ep.name: ep.value for ep in entry_points(group=group)}
    found.update(builtin)
    return dict(sorted(found.items()))


def resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    obj = module
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def load(group: str, name: str, builtin: dict[str, str], kind: str) -> Any:
    known = targets(group, builtin)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(known)} "
                               f"(`acpo-bench list` shows them; plugins register under the {group!r} entry points)")
    return resolve(known[name])
