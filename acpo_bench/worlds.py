"""The generated worlds a run can use by name (``--data synth``, ``--data stamps``) and which one a model gets.

A checkpoint declares the world it was trained on (``"world"`` in its acpo_bench.json; the embedded
qwen-omni-tiny: the synthetic world). A model that declares none is a real model, and a real model is scored on
media it can perceive: the real-media (stamps) world. Evaluation worlds use seed 0; training worlds a seed apart
(1000), so no evaluation clip is ever trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from acpo_bench.clips import ClipSet

SYNTH, STAMPS = "synth", "stamps"
WORLDS = {
    SYNTH: "the synthetic world: abstract glyphs and synthesized tones (what the embedded qwen-omni-tiny learned)",
    STAMPS: "the real-media world: Tux Paint's drawings of real objects with their own recorded sounds",
}
DEFAULT_WORLD = STAMPS  # for any model that declares no world
TRAIN_SEED = 1000
EVAL_CLIPS = 240


class WorldUnavailable(RuntimeError):
    """A world that cannot be built here; the message names what to install."""


@dataclass(frozen=True)
class WorldSpec:
    kind: str
    clips: int = EVAL_CLIPS
    seed: int = 0
    av_correlation: float | None = None  # None: the world's default (0.9)

    def __post_init__(self) -> None:
        check_world(self.kind, "world")


def check_world(kind: str | None, where: str) -> str | None:
    if kind is not None and kind not in WORLDS:
        raise ValueError(f"{where}: unknown world {kind!r}; the worlds are {', '.join(sorted(WORLDS))}")
    return kind


def world_for(declared: str | None) -> str:
    """The world a model is evaluated and trained on: the one it declares, else the real-media world."""
    return declared or DEFAULT_WORLD


def build(spec: WorldSpec, show_progress: bool = True) -> ClipSet:
    """The world from the cache, built on first use."""
    overrides = {} if spec.av_correlation is None else {"av_correlation": spec.av_correlation}
    if spec.kind == SYNTH:
        from acpo_bench.synth.generate import default_world
        from acpo_bench.synth.world import WorldConfig

        return default_world(WorldConfig(clips=spec.clips, seed=spec.seed, **overrides), show_progress)
    from acpo_bench.stamps.catalog import StampsNotInstalled
    from acpo_bench.stamps.generate import stamps_world
    from acpo_bench.stamps.world import StampsConfig

    try:
        return stamps_world(StampsConfig(clips=spec.clips, seed=spec.seed, **overrides), show_progress)
    except StampsNotInstalled as exc:
        raise WorldUnavailable(f"the real-media world cannot be built: {exc}. (A model that declares no world "
                               f"is evaluated on it; `--data synth` asks for the synthetic world instead.)") from None
