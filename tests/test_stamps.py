"""The real-media world: Tux Paint's stamps as classes, clips with the synthetic world's semantics on real pictures
and recordings, reproducible bytes, and the default world a model without a declared world gets."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from acpo_bench.clips import ClipSet, load_clips
from acpo_bench.lexicon import Lexicon
from acpo_bench.media import MediaSpec, decode_audio, decode_video, rms_dbfs
from acpo_bench.stamps.catalog import CLASSES, DROPPED, description_names, load_catalog, stamps_dir, synonyms
from acpo_bench.stamps.generate import StampsWorld, generate_stamps_world
from acpo_bench.stamps.world import StampsConfig
from acpo_bench.worldgen import WORLD_FILE, world_kind


def _is_dropped(stem: str) -> bool:
    return any(stem == d or (d.endswith("*") and stem.startswith(d[:-1])) for d in DROPPED)


def test_every_stamp_with_its_own_recording_is_used_or_dropped_with_a_reason():
    root = stamps_dir()
    used = {stem for c in CLASSES for stem in c.stamps}
    recorded = set()
    for sound in root.rglob("*.ogg"):
        stem = sound.with_suffix("")
        if (stem.with_suffix(".png").is_file() or stem.with_suffix(".svg").is_file()):
            recorded.add(str(stem.relative_to(root)))  # <stem>.ogg beside its picture: the stamp's own sound
    # spoken names (<stem>_<locale>.ogg) and description voices (<stem>_desc*.ogg) have no picture of that name
    assert used <= recorded
    assert recorded - used == {s for s in recorded if _is_dropped(s)}
    assert not any(_is_dropped(s) for s in used)


def test_classes_come_from_the_stamps_descriptions():
    catalog = load_catalog()
    assert len(catalog) >= 40
    forms = synonyms(catalog)
    lexicon = Lexicon(forms)  # raises if two classes claim one word
    assert len(lexicon.classes) == len(CLASSES)
    for name, stamps in catalog.items():
        for stamp in stamps:
            assert stamp.description, f"{stamp.stem} has no description"
            assert set(description_names(stamp.description)) <= set(forms[name])
    assert description_names("A baby sheep (a lamb).") == ["baby sheep", "lamb"]
    # a verb shared by classes names none of them; a class name is never another class's verb
    assert "barking" not in forms["dog"] and "crow" not in forms["rooster"]
    assert lexicon.mentions("a dog woofs while a rooster is crowing, no cow") == ("dog", "rooster")


def test_clips_have_the_synthetic_semantics_on_real_media(small_stamps_dir):
    clips = load_clips(small_stamps_dir)
    meta = json.loads((small_stamps_dir / WORLD_FILE).read_text())
    assert meta["kind"] == "stamps" and world_kind(small_stamps_dir) == "stamps"
    assert meta["source"]["package"] == "tuxpaint-stamps-default"
    assert len(clips.lexicon.classes) >= 40
    import datasets

    rows = datasets.load_from_disk(str(small_stamps_dir / "manifest"))
    saw_offscreen = saw_silent = False
    for clip, row in zip(clips.clips, rows, strict=True):
        video = decode_video(clip.video, MediaSpec(frames=4))
        assert video.frames.shape[1:] == (224, 224, 3)
        assert 3.0 <= video.duration <= 5.0
        audio = decode_audio(clip.video)
        assert abs(len(audio) / 16000 - 4.0) < 0.1
        assert set(row["offscreen"]) == set(row["audible"]) - set(row["visible"])
        assert set(row["silent_visible"]) == set(row["visible"]) - set(row["audible"])
        assert len(row["stamps"]) == len(row["events"])
        saw_offscreen |= bool(row["offscreen"])
        saw_silent |= bool(row["silent_visible"])
        for event in row["events"]:  # each audible source is louder than the background noise in its window
            if event["audible"]:
                start, stop = int(event["onset"] * 16000), int(event["offset"] * 16000)
                assert rms_dbfs(audio[start:stop]) > rms_dbfs(audio) - 10
        assert clip.audio_caption and clip.visual_caption.startswith("the video shows")
    assert saw_offscreen and saw_silent


def _digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((directory / "clips").iterdir())}


@pytest.mark.slow
def test_generation_is_byte_identical_whatever_the_pool(tmp_path):
    config = StampsConfig(clips=32, seed=3)  # 32: the smallest world generated through the process pool
    one = generate_stamps_world(config, tmp_path / "serial", workers=1, show_progress=False)
    two = generate_stamps_world(config, tmp_path / "pool", workers=2, show_progress=False)
    assert _digest(one) == _digest(two)
    assert load_clips(one).fingerprint() == load_clips(two).fingerprint()


def test_world_name_follows_the_settings_and_the_collection():
    first = StampsWorld.installed(StampsConfig(clips=10))
    assert first.name().startswith("stamps-v1-n10-")
    assert StampsWorld.installed(StampsConfig(clips=10, seed=1)).name() != first.name()
    other = StampsWorld(first.config, first.root, "another collection")
    assert other.name() != first.name()


@pytest.mark.parametrize("bad", [{"size": 112}, {"duration": 1.0}, {"av_correlation": 1.5}, {"classes": ("x",)}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        StampsConfig(**bad)


def test_reference_adapters_are_exact_on_the_real_media_world(small_stamps_dir, tmp_path):
    def run(model: str) -> dict:
        out = tmp_path / model
        assert main(["eval", "--model", model, "--tasks", "all", "--data", str(small_stamps_dir), "--output-dir",
                     str(out), "--quiet"]) == 0
        return json.loads((out / "results.json").read_text())

    oracle, prior = run("audio-oracle"), run("visual-prior")

    def metric(results: dict, task: str, name: str) -> float:
        return results["tasks"][task]["metrics"][name]["value"]

    assert metric(oracle, "swapped_audio", "vahr_yn") == 0
    assert metric(oracle, "sound_presence", "adversarial_f1") == 1
    assert metric(prior, "swapped_audio", "vahr_yn") == 1
    assert oracle["config"]["data"]["world"] == "stamps"
    assert oracle["config"]["data"]["name"] == load_clips(small_stamps_dir).name


def test_a_model_without_a_declared_world_defaults_to_real_media(monkeypatch):
    from acpo_bench.workflows.evaluation import load_data, resolve_tasks

    built = []
    monkeypatch.setattr("acpo_bench.worlds.build", lambda spec, show_progress=True: built.append(spec.kind))
    tasks, _ = resolve_tasks("core")
    load_data(tasks, None, show_progress=False)  # a model that declares no world: a real model
    load_data(tasks, None, show_progress=False, world="synth")  # the embedded glyph model
    load_data(tasks, "synth", show_progress=False, world="stamps")  # --data names a world: it wins
    load_data(tasks, "stamps", show_progress=False, world="synth")
    assert built == ["stamps", "synth", "synth", "stamps"]


def test_the_embedded_models_declare_their_worlds():
    from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT, checkpoint_settings

    assert checkpoint_settings(TINY_CHECKPOINT)["world"] == "synth"


def test_without_the_stamps_the_run_stops_naming_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACPO_BENCH_STAMPS", str(tmp_path / "nowhere"))
    monkeypatch.setenv("ACPO_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["eval", "--model", "audio-oracle", "--tasks", "core", "--output-dir", str(out), "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "tuxpaint-stamps-default" in err and "--data synth" in err
    if os.path.exists("/usr/bin/apt-get"):
        assert "apt-get install -y tuxpaint-stamps-default" in err
    assert not (out / "results.json").exists()
    assert main(["data", "build", "stamps", "--output-dir", str(tmp_path / "w"), "--clips", "2"]) == 2


def test_data_build_writes_a_world(tmp_path, capsys):
    assert main(["data", "build", "stamps", "--output-dir", str(tmp_path / "w"), "--clips", "3", "--seed", "5",
                 "--av-correlation", "0.5"]) == 0
    clips = load_clips(tmp_path / "w")
    assert len(clips.clips) == 3 and "70 classes" in capsys.readouterr().out
    meta = json.loads((tmp_path / "w" / WORLD_FILE).read_text())
    assert meta["config"]["seed"] == 5 and meta["config"]["av_correlation"] == 0.5
    assert np.isfinite(len(clips.lexicon.classes))


def test_the_tiny_recipe_hears_a_real_media_clip_to_its_end(small_stamps_dir, small_world):
    """The 4 s clips reach the model whole (a 2 s window would drop sources that sound late), while the glyph
    world's 1 s clips keep the 2 s window the shipped qwen-omni-tiny was built with."""
    from acpo_bench.media_store import MediaStore
    from acpo_bench.models.qwen_omni.features import Featurizer
    from acpo_bench.models.qwen_omni.tiny import build_processor, build_tokenizer
    from acpo_bench.schemas import AudioRecipe
    from acpo_bench.training.sft_tiny import VIDEO_KWARGS, audio_seconds, vocabulary_texts

    stamps = load_clips(small_stamps_dir)
    assert (audio_seconds(stamps), audio_seconds(small_world)) == (4, 2)
    assert audio_seconds(ClipSet("plain", (), stamps.lexicon)) == 2  # no world.json: the default
    processor = build_processor(build_tokenizer(vocabulary_texts(stamps)), audio_seconds(stamps))
    clip = stamps.clips[0]
    media = MediaStore(MediaSpec(frames=2)).load(clip.video, clip.content_id, AudioRecipe("own"))
    inputs = Featurizer(processor, VIDEO_KWARGS)((clip.content_id, "own"), media)
    assert int(inputs.feature_attention_mask.sum()) == 400  # 4 s of 10 ms mel frames
    assert inputs.video_grid_thw.tolist() == [[1, 8, 8]]  # the glyph model's 112x112: 8x8 patches of 14 pixels


def test_the_real_media_recipe_sees_the_clips_at_their_own_224_pixels(small_stamps_dir):
    from acpo_bench.media_store import MediaStore
    from acpo_bench.models.qwen_omni.features import Featurizer
    from acpo_bench.models.qwen_omni.tiny import build_processor, build_tokenizer
    from acpo_bench.schemas import AudioRecipe
    from acpo_bench.training import recipe
    from acpo_bench.training.sft_tiny import TinySFTConfig, video_kwargs, vocabulary_texts

    config = recipe.load_recipe(TinySFTConfig, Path(recipe.__file__).parent / "recipes" / "tiny_stamps_sft.yaml")
    assert config.frame_side == 224
    stamps = load_clips(small_stamps_dir)
    processor = build_processor(build_tokenizer(vocabulary_texts(stamps)), 4, config.frame_side)
    clip = stamps.clips[0]
    media = MediaStore(MediaSpec(frames=2)).load(clip.video, clip.content_id, AudioRecipe("own"))
    inputs = Featurizer(processor, video_kwargs(config.frame_side))((clip.content_id, "own"), media)
    assert inputs.video_grid_thw.tolist() == [[1, 16, 16]]  # 224 / 14 patches a side, not downscaled
    with pytest.raises(ValueError, match="multiple of 28"):
        TinySFTConfig(frame_side=200)
