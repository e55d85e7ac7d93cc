"""The real-media world on disk: one clip = a stamp scene's frames and recordings, encoded reproducibly."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from acpo_bench import worldgen
from acpo_bench.clips import ClipSet
from acpo_bench.lexicon import Lexicon
from acpo_bench.media import ENCODING_VERSION, write_mp4
from acpo_bench.stamps.catalog import CLASSES, PACKAGE, catalog_digest, load_catalog, stamps_dir, synonyms
from acpo_bench.stamps.world import (
    NOUN,
    STAMPS_VERSION,
    StampsConfig,
    _catalog,
    render_audio,
    render_frames,
    sample_scene,
)
from acpo_bench.synth.world import audio_caption, visual_caption


@dataclass(frozen=True)
class StampsWorld:
    config: StampsConfig
    root: str  # the stamp collection read
    collection: str  # the digest of its pictures and recordings

    @classmethod
    def installed(cls, config: StampsConfig, root: str | Path | None = None) -> StampsWorld:
        """The world built from the installed stamps (StampsNotInstalled, naming the install command, if absent)."""
        root = Path(root) if root else stamps_dir()
        return cls(config, str(root), catalog_digest(load_catalog(root)))

    @property
    def clips(self) -> int:
        return self.config.clips

    def name(self) -> str:
        return f"stamps-v{STAMPS_VERSION}-n{self.config.clips}-{self.config.content_key(self.collection)[:10]}"

    def write_clip(self, index: int, root: str) -> dict:
        config, catalog = self.config, _catalog(self.root)
        spec, choice, mirrored = sample_scene(config, index)
        stamps = {label: catalog[label][k] for label, k in choice.items()}
        name = f"clips/stamps-{index:05d}.mp4"
        write_mp4(os.path.join(root, name), render_frames(config, spec, stamps, mirrored), config.fps,
                  render_audio(config, spec, stamps))
        fields = spec.manifest_fields()
        events = fields.pop("events")
        phrases = {c.name: c.phrases for c in CLASSES}
        return {"clip_id": f"stamps-{index:05d}", "video": name, **fields,
                "audio_caption": audio_caption(spec, phrases), "visual_caption": visual_caption(config, spec, NOUN),
                "content_id": f"stamps:{config.content_key(self.collection)}:{index}", "events": events,
                "stamps": [stamps[e["label"]].stem for e in events]}

    def lexicon(self) -> Lexicon:
        return Lexicon(synonyms(_catalog(self.root)))

    def metadata(self) -> dict:
        return {"kind": "stamps", "generator_version": STAMPS_VERSION, "encoding_version": ENCODING_VERSION,
                "config": asdict(self.config),
                "source": {"package": PACKAGE, "directory": self.root, "digest": self.collection,
                           "license": "GPL-2.0-or-later (Tux Paint stamps; read from this installation, not "
                                      "redistributed)"}}


def generate_stamps_world(config: StampsConfig, output_dir: str | Path, workers: int | None = None,
                          show_progress: bool = True) -> Path:
    return worldgen.generate(StampsWorld.installed(config), output_dir, workers, show_progress, verb="composing")


def stamps_world(config: StampsConfig | None = None, show_progress: bool = True) -> ClipSet:
    """The real-media world for ``config`` from the cache, built on first use."""
    return worldgen.cached(StampsWorld.installed(config or StampsConfig()), show_progress, verb="composing")
