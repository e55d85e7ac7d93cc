"""The model adapter interface: what every model (real, server, reference baseline) implements.

Adapters take requests in order and return answers in the same order; they batch as they like. Tasks never see
adapters and adapters never see tasks: they meet through :class:`~acpo_bench.schemas.Probe` and ``Response``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from acpo_bench.media import Media
from acpo_bench.schemas import Probe


@dataclass(frozen=True)
class Request:
    """A probe with its decoded media. ``vocabulary`` is the dataset's label set (used by reference baselines).

    An adapter with a ``prepare(probe, spec, load)`` method builds its own inputs ahead of the model (the runner
    calls it in worker threads, ``load()`` decodes the media); its result is ``prepared`` and ``media`` is then None.
    """

    probe: Probe
    media: Media | None
    vocabulary: tuple[str, ...] = ()
    prepared: Any = None


@runtime_checkable
class Adapter(Protocol):
    name: str
    supports_loglik: bool  # can answer yes/no from choice log-probs in one forward
    parameter_count: int | None
    default_batch_size: int

    def fingerprint(self) -> str:
        """Stable identity of what answers: weights (or their revision/hash), adapter, dtype, prompt format."""

    def score_choices(self, requests: Sequence[Request], choices: Sequence[str]) -> list[dict[str, float]]:
        """Log-prob of each choice as the answer to each request."""

    def generate(self, requests: Sequence[Request], max_new_tokens: int) -> list[str]:
        """Greedy free-text answer to each request."""


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the message names what is missing (path, cache, extra) and what to do."""


def parse_model_args(text: str | None) -> dict[str, str]:
    """``"path=/x,dtype=bf16"`` -> ``{"path": "/x", "dtype": "bf16"}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model-args: {part!r} is not key=value (example: path=/ckpt,dtype=bf16)")
        out[key.strip()] = value.strip()
    return out
