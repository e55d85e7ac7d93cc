"""Reference adapters whose scores are exact by construction: they read the probe's truth instead of the media.

audio-oracle: a perfect model (audio questions from the true audible set, visual ones from the visible set).
visual-prior: answers audio questions as if the audible set were the visible set: maximal visual dominance.
always-yes: yes to every yes/no question, every class to every open prompt.
blind: sees and hears nothing: "no" and "I cannot tell".
"""

from __future__ import annotations

from collections.abc import Sequence

from acpo_bench.adapter import Request
from acpo_bench.schemas import stable_hash

LOGPROB_FALSE = -30.0  # log-prob of the rejected choice: finite, so results stay valid JSON


def _listing(prefix: str, labels: Sequence[str], empty: str) -> str:
    if not labels:
        return empty
    items = [f"a {label}" for label in labels]
    return prefix + (items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]) + "."


class ReferenceAdapter:
    """Shared mechanics; subclasses say which set answers audio and visual questions."""

    name = "reference"
    supports_loglik = True
    parameter_count = 0
    default_batch_size = 512

    def fingerprint(self) -> str:
        return "sha256:" + stable_hash("reference-adapter", self.name, 1, length=64)

    def heard(self, request: Request) -> tuple[str, ...]:
        raise NotImplementedError

    def seen(self, request: Request) -> tuple[str, ...]:
        return request.probe.visible

    def yes(self, request: Request) -> bool:
        probe = request.probe
        labels = self.heard(request) if probe.modality == "audio" else self.seen(request)
        return bool(labels) if probe.target is None else probe.target in labels

    def text(self, request: Request) -> str:
        probe = request.probe
        if probe.kind == "yes_no":
            return "Yes." if self.yes(request) else "No."
        if probe.modality == "audio":
            return _listing("I hear ", self.heard(request), "I hear no sound.")
        return _listing("I see ", self.seen(request), "I see nothing.")

    def score_choices(self, requests: Sequence[Request], choices: Sequence[str]) -> list[dict[str, float]]:
        out = []
        for request in requests:
            answer = "yes" if self.yes(request) else "no"
            out.append({c: (0.0 if c == answer else LOGPROB_FALSE) for c in choices})
        return out

    def generate(self, requests: Sequence[Request], max_new_tokens: int) -> list[str]:
        return [self.text(r) for r in requests]


class AudioOracle(ReferenceAdapter):
    name = "audio-oracle"

    def heard(self, request: Request) -> tuple[str, ...]:
        return request.probe.audible


class VisualPrior(ReferenceAdapter):
    name = "visual-prior"

    def heard(self, request: Request) -> tuple[str, ...]:
        return request.probe.visible


class AlwaysYes(ReferenceAdapter):
    name = "always-yes"

    def yes(self, request: Request) -> bool:
        return True

    def heard(self, request: Request) -> tuple[str, ...]:
        return request.vocabulary

    def seen(self, request: Request) -> tuple[str, ...]:
        return request.vocabulary


class Blind(ReferenceAdapter):
    name = "blind"

    def yes(self, request: Request) -> bool:
        return False

    def text(self, request: Request) -> str:
        return "No." if request.probe.kind == "yes_no" else "I cannot tell."


def _factory(cls: type[ReferenceAdapter]):
    def load(model_args: dict[str, str], adapter: str | None = None) -> ReferenceAdapter:
        if model_args:
            raise ValueError(f"{cls.name} takes no --model-args (got {sorted(model_args)})")
        if adapter:
            raise ValueError(f"{cls.name} takes no --adapter")
        return cls()
    return load


audio_oracle = _factory(AudioOracle)
visual_prior = _factory(VisualPrior)
always_yes = _factory(AlwaysYes)
blind = _factory(Blind)

