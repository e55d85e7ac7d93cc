"""`acpo-bench probes build`: a folder of videos + VGGSounder-format labels -> a clip dataset the suite runs on."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from acpo_bench.clips import DatasetError, load_clips
from acpo_bench.media import write_mp4
from acpo_bench.results import load_results
from acpo_bench.workflows.probes_build import REPORT, build_lexicon, read_labels, vggsounder_labels


def vggsounder_csv(path: Path, clips, extra_rows=()) -> Path:
    """The world's truth written as VGGSounder rows: AV for heard-and-seen, V for seen-but-silent, A for off-screen."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "label", "modality", "background_music", "static_image", "voice_over"])
        for clip in clips:
            for label in sorted(set(clip.visible) | set(clip.audible)):
                modality = {(True, True): "AV", (True, False): "V", (False, True): "A"}[
                    (label in clip.visible, label in clip.audible)]
                writer.writerow([clip.clip_id, label, modality, "False", "False", "True"])
        writer.writerows(extra_rows)
    return path


@pytest.fixture()
def collection(small_world_dir, small_world, tmp_path):
    """The world's mp4 files in a plain folder (one truncated, one without labels) and its labels file."""
    videos = tmp_path / "videos"
    shutil.copytree(small_world_dir / "clips", videos)
    broken = videos / "synth-00002.mp4"
    broken.write_bytes(broken.read_bytes()[:300])
    (videos / "nobody.mp4").write_bytes(b"")
    labels = vggsounder_csv(tmp_path / "labels.csv", small_world.clips, [["not-here", "dog", "AV", "", "", ""]])
    return videos, labels


def test_build_from_mp4_folder_and_vggsounder_labels(collection, small_world, tmp_path):
    videos, labels = collection
    out = tmp_path / "ds"
    assert main(["probes", "build", "--videos", str(videos), "--labels", str(labels), "--output-dir", str(out),
                 "--quiet"]) == 0
    built = load_clips(out)
    truth = {c.clip_id: c for c in small_world.clips}
    assert len(built.clips) == len(truth) - 1
    for clip in built.clips:
        assert (clip.visible, clip.audible) == (truth[clip.clip_id].visible, truth[clip.clip_id].audible)
        assert Path(clip.video).is_file()
    report = json.loads((out / REPORT).read_text())
    reasons = {r["clip"]: r["reason"] for r in report["skipped"]}
    assert set(reasons) == {"synth-00002", "nobody.mp4"}
    assert "cannot open" in reasons["synth-00002"] and "no labels" in reasons["nobody.mp4"]
    assert report["labels_without_video"] == 1
    # the synthetic suite runs on it, and the perfect listener stays perfect
    assert main(["eval", "--model", "audio-oracle", "--tasks", "all", "--data", str(out), "--quiet",
                 "--output-dir", str(tmp_path / "run")]) == 0
    results = load_results(tmp_path / "run")
    assert results["tasks"]["swapped_audio"]["metrics"]["vahr"]["value"] == 0.0
    assert results["tasks"]["sound_presence"]["metrics"]["adversarial_f1"]["value"] == 1.0
    assert results["summary"]["audio_grounding_score"]["value"] == 1.0
    assert main(["eval", "--model", "visual-prior", "--tasks", "swapped_audio", "--data", str(out), "--quiet",
                 "--output-dir", str(tmp_path / "vp")]) == 0
    assert load_results(tmp_path / "vp")["tasks"]["swapped_audio"]["metrics"]["vahr_yn"]["value"] == 1.0


def test_visible_only_labels_are_the_adversarial_negatives(collection, tmp_path):
    videos, labels = collection
    out = tmp_path / "ds"
    assert main(["probes", "build", "--videos", str(videos), "--labels", str(labels), "--output-dir", str(out),
                 "--quiet", "--copy"]) == 0
    rows = list(csv.DictReader(labels.open()))
    silent = {(r["video_id"], r["label"]) for r in rows if r["modality"] == "V"}
    assert silent, "the world has visible-but-silent sources"
    clips = {c.clip_id: c for c in load_clips(out).clips}
    for video_id, label in silent:
        if video_id in clips:
            assert label in clips[video_id].visible and label not in clips[video_id].audible
    assert all(Path(c.video).parent == out / "clips" for c in clips.values())  # --copy


def test_class_lists_with_a_modality_flag_and_synonyms(small_world_dir, small_world, tmp_path):
    lists = tmp_path / "lists.jsonl"
    lists.write_text("".join(json.dumps({"video_id": c.clip_id, "labels": list(c.audible)}) + "\n"
                             for c in small_world.clips[:6]))
    args = ["probes", "build", "--videos", str(small_world_dir / "clips"), "--labels", str(lists), "--quiet"]
    assert main([*args, "--output-dir", str(tmp_path / "x")]) == 2  # which modality do they name?
    synonyms = tmp_path / "syn.json"
    label = small_world.clips[0].audible[0]
    synonyms.write_text(json.dumps({label: ["thingamajig"]}))
    assert main([*args, "--describes", "both", "--synonyms", str(synonyms), "--output-dir", str(tmp_path / "b")]) == 0
    built = load_clips(tmp_path / "b")
    assert len(built.clips) == 6
    for clip, source in zip(built.clips, small_world.clips[:6], strict=True):
        assert clip.visible == clip.audible == source.audible
    assert built.lexicon.mentions("I hear a thingamajig.") == (label,)


def test_output_dir_is_never_half_written(collection, tmp_path):
    videos, _ = collection
    bad = tmp_path / "bad.csv"
    bad.write_text("video_id,label,modality\nsynth-00000,dog,X\n")
    with pytest.raises(DatasetError, match="modality 'X'"):
        read_labels(str(bad))
    assert main(["probes", "build", "--videos", str(videos), "--labels", str(bad), "--output-dir",
                 str(tmp_path / "out"), "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_lexicon_splits_comma_aliases():
    lexicon, notes = build_lexicon(["bird chirping, tweeting", "dog barking", "people whistling"])
    assert lexicon.mentions("Something is tweeting; no dog barking.") == ("bird chirping, tweeting",)
    assert not notes


def test_labels_from_the_vggsounder_package(tmp_path):
    """`--labels vggsounder` reads the package's bundled labels; stand-in videos carry real VGGSounder ids."""
    path = vggsounder_labels()
    rows = list(csv.DictReader(path.open()))
    by_video: dict[str, list[dict]] = {}
    for row in rows:
        by_video.setdefault(row["video_id"], []).append(row)
    chosen = [v for v, rs in by_video.items() if {"A", "V"} <= {r["modality"] for r in rs} or len(rs) > 2][:3]
    videos = tmp_path / "videos"
    videos.mkdir()
    tone = (0.2 * np.sin(np.arange(8000) * 0.2)).astype(np.float32)
    for video_id in chosen:
        write_mp4(videos / f"{video_id}.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8, tone)
    out = tmp_path / "ds"
    assert main(["probes", "build", "--videos", str(videos), "--labels", "vggsounder", "--output-dir", str(out),
                 "--quiet"]) == 0
    built = {c.clip_id: c for c in load_clips(out).clips}
    assert set(built) == set(chosen)
    for video_id in chosen:
        audible = {r["label"] for r in by_video[video_id] if r["modality"] in ("A", "AV")}
        visible = {r["label"] for r in by_video[video_id] if r["modality"] in ("V", "AV")}
        assert (set(built[video_id].audible), set(built[video_id].visible)) == (audible, visible)


@pytest.mark.parametrize("name, text, message", [
    ("labels.json", '[{"video_id": "a", "label": "dog"', r"labels.json: not valid JSON"),
    ("labels.jsonl", '{"video_id": "a", "label": "dog", "modality": "A"}\n{oops}\n', r"labels.jsonl: line 2 is not"),
])
def test_broken_label_files_name_the_file(tmp_path, name, text, message):
    from acpo_bench.workflows.probes_build import _rows

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        _rows(path)
