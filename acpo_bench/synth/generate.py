"""The synthetic world on disk: one clip = a rendered glyph scene and its synthesized track (worldgen writes it)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from acpo_bench import worldgen
from acpo_bench.clips import ClipSet
from acpo_bench.lexicon import Lexicon
from acpo_bench.media import ENCODING_VERSION, write_mp4
from acpo_bench.synth.sources import synonyms
from acpo_bench.synth.world import (
    GENERATOR_VERSION,
    WorldConfig,
    audio_caption,
    render_audio,
    render_frames,
    sample_clip,
    visual_caption,
)

WORLD_FILE = worldgen.WORLD_FILE


@dataclass(frozen=True)
class SynthWorld:
    config: WorldConfig

    @property
    def clips(self) -> int:
        return self.config.clips

    def name(self) -> str:
        return world_name(self.config)

    def write_clip(self, index: int, root: str) -> dict:
        config = self.config
        spec = sample_clip(config, index)
        name = f"clips/synth-{index:05d}.mp4"
        write_mp4(os.path.join(root, name), render_frames(config, spec), config.fps, render_audio(config, spec))
        fields = spec.manifest_fields()
        events = fields.pop("events")
        return {"clip_id": f"synth-{index:05d}", "video": name, **fields,
                "audio_caption": audio_caption(spec), "visual_caption": visual_caption(config, spec),
                "content_id": f"synth:{config.content_key()}:{index}", "events": events}

    def lexicon(self) -> Lexicon:
        return Lexicon(synonyms())

    def metadata(self) -> dict:
        return {"kind": "synth", "generator_version": GENERATOR_VERSION, "encoding_version": ENCODING_VERSION,
                "config": asdict(self.config)}


def generate_world(config: WorldConfig, output_dir: str | Path, workers: int | None = None,
                   show_progress: bool = True) -> Path:
    return worldgen.generate(SynthWorld(config), output_dir, workers, show_progress, verb="synthesizing")


def world_name(config: WorldConfig) -> str:
    return f"synth-v{GENERATOR_VERSION}e{ENCODING_VERSION}-n{config.clips}-{config.content_key()[:10]}"


def default_world(config: WorldConfig | None = None, show_progress: bool = True) -> ClipSet:
    """The world for ``config`` from the cache, generated on first use (a second run reuses it)."""
    return worldgen.cached(SynthWorld(config or WorldConfig()), show_progress, verb="synthesizing")
