"""Hostile media: every file of a generated corpus decodes correctly or fails with a clear reason, and an eval over
all of them finishes with one error record per unanswerable probe; --max-error-rate turns too many into exit 3."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from acpo_bench.clips import load_clips, write_manifest
from acpo_bench.media import MediaError, MediaSpec, decode_audio, decode_video
from acpo_bench.registry import resolve
from acpo_bench.results import load_results, load_samples
from acpo_bench.runner import build_probes
from acpo_bench.tasks import BUILTIN
from tests import hostile_media
from tests.mediafiles import index_frame, read_index, write_timed

SPECS = (MediaSpec(frames=2), MediaSpec(frames=7), MediaSpec(frames=None, fps=1))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    # the data directory's own name is not UTF-8 either: every path of the eval below carries those bytes
    root = tmp_path_factory.mktemp("hostile") / os.fsdecode(b"data-\xff\xfe")
    return root, hostile_media.build(root / "media")


def test_corpus_covers_the_hostile_kinds(corpus):
    names = {case.name for case in corpus[1]}
    for kind in ("truncated", "zero-byte", "no audio stream", "audio-only", "0.1 s", "10 min", "8-channel",
                 "96 kHz", "variable frame rate", "1x1", "4000x3", "rotated", "unsupported codec", "non-UTF-8",
                 "directory"):
        assert any(kind in name for name in names), kind


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key())
def test_each_file_decodes_correctly_or_fails_with_its_reason(corpus, spec):
    for case in corpus[1]:
        if case.error:
            with pytest.raises(MediaError, match=case.error) as info:
                decode_video(case.path, spec)
            assert os.fsdecode(case.path) in str(info.value), "the message names the file"
        else:
            track = decode_video(case.path, spec)
            assert track.frames.dtype == np.uint8 and len(track.frames) == len(track.times)
            if case.check_video:
                case.check_video(track)
        if case.audio_error:
            with pytest.raises(MediaError, match=case.audio_error) as info:
                decode_audio(case.path)
            assert os.fsdecode(case.path) in str(info.value), "the message names the file"
        else:
            audio = decode_audio(case.path)
            assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio)
            if case.check_audio:
                case.check_audio(audio)


def test_seeking_samples_the_same_frames_as_decoding_everything(corpus):
    """The 10-minute clip is sampled by seeking: the same frames as a decode of every frame, at a fraction of the
    decoding work (each sampled frame costs at most one group of pictures)."""
    long = next(c for c in corpus[1] if c.name == "10 min clip")
    total = int(hostile_media.LONG_SECONDS * hostile_media.LONG_FPS)
    for spec in (MediaSpec(frames=1), MediaSpec(frames=7), MediaSpec(frames=None, fps=0.05)):
        seeking, everything = decode_video(long.path, spec), decode_video(long.path, spec, seek=False)
        assert np.array_equal(seeking.frames, everything.frames)
        assert seeking.times.tolist() == everything.times.tolist()
        long.check_video(seeking)
        assert seeking.decoded_frames <= len(seeking.times) * hostile_media.LONG_GOP + 1 < total


def test_seeking_is_exact_with_b_frames_and_a_late_start(tmp_path):
    """Frames reordered by B-frames and a stream whose first timestamp is not 0: seeking still lands on the frame on
    screen at each sampled time."""
    count, fps, offset = 240, 4, 3.0
    times = [offset + i / fps for i in range(count)]
    path = write_timed(tmp_path / "late.mp4", np.stack([index_frame(i) for i in range(count)]), times, gop=12)
    for spec in SPECS:
        seeking, everything = decode_video(path, spec), decode_video(path, spec, seek=False)
        assert np.array_equal(seeking.frames, everything.frames)
        expected = [int((t + 1e-9) * fps) for t in seeking.times]
        assert [read_index(f) for f in seeking.frames] == expected


def hostile_dataset(root: Path, cases) -> Path:
    """A clip dataset over the corpus (every case a manifest can name: Arrow strings must be UTF-8, so the
    non-UTF-8 file name stays a media-level case while the directory's own name carries such bytes here)."""
    labels = ("dog", "bell", "cat", "bird")
    rows = []
    for i, case in enumerate(c for c in cases if not c.name.startswith("path with non-UTF-8")):
        rows.append({"clip_id": f"h{i:02d}", "video": os.path.relpath(case.path, root),
                     "visible": [labels[i % 4]], "audible": [labels[(i + 1) % 4]]})
    write_manifest(root, rows)
    return root


@pytest.mark.slow
def test_eval_over_the_corpus_finishes_with_clear_error_records(corpus, tmp_path):
    root, cases = corpus
    data = hostile_dataset(root, cases)
    out = tmp_path / "run"
    args = ["eval", "--model", "audio-oracle", "--tasks", "all", "--data", os.fsdecode(data), "--output-dir",
            str(out), "--quiet"]
    assert main(args) == 0
    clips = load_clips(data)
    by_path = {os.fsdecode(c.path.resolve()): c for c in cases}
    reason = {c.clip_id: by_path[c.video] for c in clips.clips}
    tasks = {name: resolve(target) for name, target in BUILTIN.items() if name in load_results(out)["tasks"]}
    probes = {p.probe_id: p for ps, _ in build_probes(tasks, clips, 0).values() for p in ps}
    content = {c.content_id: reason[c.clip_id] for c in clips.clips}
    errors = total = 0
    for task in tasks:
        for record in load_samples(out, task):
            total += 1
            probe = probes[record.probe_id]
            video_case = reason[probe.clip_id]  # the video is decoded first, then the audio the recipe names
            audio_case = {"own": video_case, "swap": content.get(probe.audio.source_id)}.get(probe.audio.kind)
            expected = video_case.error or (audio_case and audio_case.audio_error)
            if expected:
                errors += 1
                assert record.error and expected in record.error, (probe.clip_id, record.error)
                assert record.correct is None and record.response is None
            else:
                assert record.error is None, (video_case.name, record.error)
    results = load_results(out)
    assert sum(block["errors"] for block in results["tasks"].values()) == errors > 0
    assert total > errors, "the decodable files were answered"
    rate = errors / total
    assert main([*args, "--max-error-rate", f"{rate * 0.99:.6f}"]) == 3
    assert main([*args, "--max-error-rate", f"{min(1.0, rate * 1.01):.6f}"]) == 0


def test_an_unforeseen_media_failure_is_an_error_record(small_world_dir, tmp_path, monkeypatch):
    """A decoder failure no rule foresaw (here: a RuntimeError from one file) costs that file's probes, not the run."""
    from acpo_bench import media_store

    real = media_store.MediaStore.load

    def load(self, video, video_id, recipe):
        if video.endswith("synth-00001.mp4"):
            raise RuntimeError("decoder fell over")
        return real(self, video, video_id, recipe)

    monkeypatch.setattr(media_store.MediaStore, "load", load)
    out = tmp_path / "r"
    assert main(["eval", "--model", "audio-oracle", "--tasks", "sound_presence", "--data", str(small_world_dir),
                 "--limit", "3", "--output-dir", str(out), "--quiet", "--no-cache"]) == 0
    rows = load_samples(out, "sound_presence")
    broken = [r for r in rows if r.clip_id == "synth-00001"]
    assert broken and all("cannot load media (RuntimeError: decoder fell over)" in r.error for r in broken)
    assert all(r.error is None for r in rows if r.clip_id != "synth-00001")
