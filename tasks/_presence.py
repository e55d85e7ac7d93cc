"""The POPE-style presence metrics shared by sound_presence and visual_presence."""

from __future__ import annotations

from acpo_bench.metrics import RatioMetric, binary_metrics, rate
from acpo_bench.tasks._probes import SETTINGS


def presence_metrics(condition: str | None = None) -> list[RatioMetric]:
    """Overall accuracy, then accuracy/precision/recall/F1/yes-ratio/invalid-rate per setting.

    With a ``condition`` (own / swapped audio) every name is prefixed by it and only that condition's records count.
    """
    def in_condition(r) -> bool:
        return condition is None or r.condition == condition

    prefix = f"{condition}_" if condition else ""
    out = [rate(f"{prefix}accuracy", True, in_condition, lambda r: bool(r.correct))]
    for setting in SETTINGS:
        out += binary_metrics(f"{prefix}{setting}", lambda r, s=setting: s in r.groups and in_condition(r))
    return out
