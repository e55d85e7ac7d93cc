"""Recipes: a YAML file of plain values bound to a config dataclass, with ``key=value`` overrides.

YAML holds values only (no expressions, no code); every key must be a field of the dataclass, and each value is
converted to the field's type, so a typo or a wrong type fails with the file and key named.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class RecipeError(ValueError):
    pass


def _convert(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            return None
        return _convert(value, options[0], where)
    if origin is dict:
        # a mapping from YAML, or ``key:value,key:value`` from a command-line override
        key_type, value_type = typing.get_args(annotation) or (str, str)
        if isinstance(value, str):
            pairs = [item.partition(":") for item in value.split(",") if item.strip()]
            if any(not sep for _, sep, _ in pairs):
                raise RecipeError(f"{where}: {value!r} is not a mapping; write key:value,key:value")
            value = {k.strip(): v.strip() for k, _, v in pairs}
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: {value!r} is not a mapping")
        return {_convert(k, key_type, where): _convert(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        inner = typing.get_args(annotation)[0] if typing.get_args(annotation) else str
        items = value.split(",") if isinstance(value, str) else list(value)
        return origin(_convert(v, inner, where) for v in items)
    try:
        if annotation is bool:
            if isinstance(value, str):
                if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                return value.lower() in {"true", "1", "yes"}
            return bool(value)
        if annotation in (int, float, str):
            return annotation(value)
    except (TypeError, ValueError):
        raise RecipeError(f"{where}: {value!r} is not a valid {annotation.__name__}") from None
    return value


def load_recipe(cls: type[T], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Build ``cls`` from a YAML recipe (optional) and ``key=value`` overrides; unknown keys fail loudly."""
    values: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RecipeError(f"{path}: cannot read the recipe ({exc})") from None
        if not isinstance(loaded, dict):
            raise RecipeError(f"{path}: a recipe is a mapping of config keys to values")
        values.update(loaded)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise RecipeError(f"override {item!r} is not key=value")
        values[key.strip()] = value.strip()
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise RecipeError(f"{source}: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(fields)}")
    converted = {k: _convert(v, hints[k], f"{source}: {k}") for k, v in values.items()}
    try:
        return cls(**converted)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{source}: {exc}") from None


def to_yaml(config: Any) -> str:
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
