import hashlib
import json

import numpy as np

from acpo_bench.clips import load_clips
from acpo_bench.synth.generate import default_world, generate_world
from acpo_bench.synth.sources import SOURCES
from acpo_bench.synth.world import WorldConfig, render_audio, render_frames, sample_clip


def test_world_has_the_design_ingredients():
    config = WorldConfig(clips=300, seed=1)
    specs = [sample_clip(config, i) for i in range(config.clips)]
    assert len(SOURCES) >= 12
    assert len({(s.glyph.shape, s.glyph.hue) for s in SOURCES}) == len(SOURCES), "every class looks different"
    assert all(1 <= len(s.visible) <= 3 for s in specs)
    silent_visible = sum(bool(set(s.visible) - set(s.audible)) for s in specs)
    offscreen = sum(bool(set(s.audible) - set(s.visible)) for s in specs)
    assert 0.1 * config.clips < silent_visible < 0.4 * config.clips
    assert 0.2 * config.clips < offscreen < 0.4 * config.clips
    visible_events = [e for s in specs for e in s.events if e.visible]
    assert np.mean([e.audible for e in visible_events]) == np.float64(np.mean([e.audible for e in visible_events]))
    assert 0.85 < np.mean([e.audible for e in visible_events]) < 0.95  # av-correlation 0.9


def test_av_correlation_is_a_parameter():
    low = WorldConfig(clips=200, av_correlation=0.2)
    events = [e for i in range(low.clips) for e in sample_clip(low, i).events if e.visible]
    assert np.mean([e.audible for e in events]) < 0.3


def test_rendering_is_deterministic_and_varies_per_clip():
    config = WorldConfig(seed=3)
    spec = sample_clip(config, 5)
    assert np.array_equal(render_audio(config, spec), render_audio(config, sample_clip(config, 5)))
    assert np.array_equal(render_frames(config, spec), render_frames(config, spec))
    frames = render_frames(config, spec)
    assert frames.shape == (8, 112, 112, 3) and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1]) or spec.visible  # glyphs move or the clip is static
    same_class = [i for i in range(200) if sample_clip(config, i).audible == ("bell",)]
    if len(same_class) >= 2:  # per-clip jitter: two clips of the same single sound differ
        a, b = (render_audio(config, sample_clip(config, i)) for i in same_class[:2])
        assert not np.allclose(a, b)


def test_generated_world_reads_back_through_the_media_path(tmp_path):
    path = generate_world(WorldConfig(clips=6, seed=2), tmp_path / "w", show_progress=False)
    clips = load_clips(path)
    assert len(clips.clips) == 6
    clip = clips.clips[0]
    assert clip.audio_caption and clip.visual_caption and clip.content_id.startswith("synth:")
    meta = json.loads((path / "world.json").read_text())
    assert meta["config"]["clips"] == 6
    assert clips.lexicon.mentions("a dog is barking") == ("dog",)


def test_first_clips_do_not_depend_on_world_size(tmp_path):
    small = load_clips(generate_world(WorldConfig(clips=4), tmp_path / "a", show_progress=False))
    large = load_clips(generate_world(WorldConfig(clips=40), tmp_path / "b", show_progress=False))
    assert [c.content_id for c in small.clips] == [c.content_id for c in large.clips[:4]]
    assert small.fingerprint() == large.head(4).fingerprint()


def test_default_world_is_generated_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ACPO_BENCH_CACHE", str(tmp_path))
    config = WorldConfig(clips=5, seed=11)
    first = default_world(config, show_progress=False)
    manifest = next((tmp_path / "worlds").iterdir()) / "world.json"
    stamp = manifest.stat().st_mtime_ns
    second = default_world(config, show_progress=False)
    assert manifest.stat().st_mtime_ns == stamp
    assert first.fingerprint() == second.fingerprint()


def test_existing_output_dir_is_refused(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "keep.txt").write_text("mine")
    try:
        generate_world(WorldConfig(clips=2), tmp_path / "w", show_progress=False)
    except FileExistsError as exc:
        assert "not empty" in str(exc)
    assert (tmp_path / "w" / "keep.txt").read_text() == "mine"


def _clip_bytes(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((directory / "clips").iterdir())}


def test_generation_is_byte_identical_whatever_the_pool_and_what_ran_before(tmp_path):
    """The same world from a serial run (after encoding another world in this process) and from pools of two and
    three workers: identical mp4 bytes. With x264's macroblock tree on, 23 of 48 clips differed between two pool
    runs (issue 17)."""
    config = WorldConfig(clips=32, seed=5)  # 32: the smallest world generated through the process pool
    generate_world(WorldConfig(clips=3, seed=9), tmp_path / "before", workers=1, show_progress=False)
    serial = _clip_bytes(generate_world(config, tmp_path / "serial", workers=1, show_progress=False))
    assert len(serial) == 32
    for workers in (2, 3):
        assert _clip_bytes(generate_world(config, tmp_path / f"pool{workers}", workers=workers,
                                          show_progress=False)) == serial


def test_the_encoding_is_part_of_the_world_identity(monkeypatch):
    """A new clip encoding renames the world and changes its content ids (so caches and gates never mix encodings)
    while the clips' sampled content stays the same."""
    from acpo_bench.synth import generate, world

    config = WorldConfig(clips=4)
    name, key, spec = generate.world_name(config), config.content_key(), sample_clip(config, 1)
    assert f"e{world.ENCODING_VERSION}-" in name
    monkeypatch.setattr(world, "ENCODING_VERSION", world.ENCODING_VERSION + 1)
    assert config.content_key() != key
    assert sample_clip(config, 1) == spec
