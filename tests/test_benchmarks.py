"""External benchmarks on their real annotation files: AVHBench (QA.json with stand-in videos), CMM (the released
predictions excerpt), the answer rules papers use, missing media, and re-scoring without a model."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from acpo_bench.clips import DatasetError
from acpo_bench.media import write_mp4
from acpo_bench.results import load_results, load_sample_rows, load_samples, without_run_info
from acpo_bench.tasks import BUILTIN
from acpo_bench.tasks._answer_rules import RULES
from acpo_bench.tasks.avhbench import SUBTASKS
from acpo_bench.tasks.avhbench import load_data as load_avhbench
from tests.requires import unavailable

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QA = SHARED / "avhbench" / "QA.json"
CMM_SAMPLE = SHARED / "cmm" / "final_output_sample.jsonl"
# the counts the AVHBench release documents for QA.json (benchmarks.md); the test also recounts the file
PUBLISHED = {"audio_hallucination": 2290, "video_hallucination": 1136, "matching": 1876, "captioning": 1106}


def need(path: Path) -> Path:
    """A real annotation file from ../shared/data: the test fails in CI without it and is skipped elsewhere."""
    if not path.exists():
        unavailable(str(path), "the real annotation files live in ../shared/data beside the repository (CI runs "
                               "beside a copy of shared/)")
    return path


def standin_dir(root: Path, annotation: Path, drop: int = 0) -> tuple[Path, list[str]]:
    """The annotation file plus one tiny stand-in mp4 under every video name (symlinks to one file), minus the
    first ``drop`` videos."""
    ids = sorted({str(item["video_id"]) for item in json.loads(annotation.read_text())})
    (root / "videos").mkdir(parents=True)
    standin = root / "standin.mp4"
    tone = (0.2 * np.sin(np.arange(4000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    write_mp4(standin, np.full((2, 16, 16, 3), 90, dtype=np.uint8), 8, tone)
    for video_id in ids[drop:]:
        os.symlink(standin, root / "videos" / f"{video_id}.mp4")
    shutil.copy(annotation, root / annotation.name)
    return root, ids[:drop]


@pytest.fixture(scope="module")
def avh_dir(tmp_path_factory):
    return standin_dir(tmp_path_factory.mktemp("avhbench"), need(QA))[0]


def metric(results, task, name):
    return results["tasks"][task]["metrics"][name]


def contribution_sums(out: Path, task: str, name: str) -> tuple[float, float]:
    parts = [row["metrics"][name] for row in load_sample_rows(out, task) if name in row["metrics"]]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


@pytest.mark.slow
def test_avhbench_on_the_real_annotation_file(avh_dir, tmp_path):
    """Every item of QA.json becomes one probe; the counts per subtask match the file and the release; the audio
    oracle is exact on the QA subtasks under both answer rules."""
    items = json.loads(QA.read_text())
    counts = Counter(SUBTASKS[item["task"]][0] for item in items)
    assert counts == PUBLISHED
    out = tmp_path / "oracle"
    assert main(["eval", "--model", "audio-oracle", "--tasks", "avhbench,avhbench_lenient", "--data", str(avh_dir),
                 "--output-dir", str(out), "--quiet"]) == 0
    results = load_results(out)
    assert results["config"]["data"]["clips"] == len({item["video_id"] for item in items})
    for task in ("avhbench", "avhbench_lenient"):
        block = results["tasks"][task]
        assert block["n"] == len(items) and block["skipped"] == 0 and block["errors"] == 0
        for key, count in counts.items():
            name = f"{key}_cider" if key == "captioning" else f"{key}_accuracy"
            assert metric(results, task, name)["n"] == count
        for key in ("audio_hallucination", "video_hallucination", "matching"):
            assert metric(results, task, f"{key}_accuracy")["value"] == 1.0
            assert metric(results, task, f"{key}_f1")["value"] == 1.0
        records = load_samples(out, task)
        assert len({r.probe_id for r in records}) == len(items), "repeated items stay separate probes"
        assert Counter(r.question for r in records) == counts
        # the samples file alone reproduces every metric
        for key in counts:
            name = f"{key}_cider" if key == "captioning" else f"{key}_accuracy"
            num, den = contribution_sums(out, task, name)
            assert num / den == pytest.approx(metric(results, task, name)["value"], abs=1e-6)
    assert "captioning_meteor" in results["tasks"]["avhbench"]["metrics"] or (
        "java" in json.dumps(results["tasks"]["avhbench"].get("breakdowns", {})))
    # the two tasks ask the very same probes: the model answered each once
    assert results["run_info"]["answers"]["computed"] == len(items)


@pytest.mark.slow
def test_avhbench_visual_prior_says_yes_to_every_video_driven_sound(avh_dir, tmp_path):
    items = json.loads(QA.read_text())
    vdah = [i for i in items if SUBTASKS[i["task"]][0] == "audio_hallucination"]
    assert main(["eval", "--model", "visual-prior", "--tasks", "avhbench", "--data", str(avh_dir),
                 "--output-dir", str(tmp_path / "vp"), "--quiet"]) == 0
    results = load_results(tmp_path / "vp")
    assert metric(results, "avhbench", "audio_hallucination_yes_ratio")["value"] == 1.0
    share_yes = sum(i["label"] == "Yes" for i in vdah) / len(vdah)
    assert metric(results, "avhbench", "audio_hallucination_accuracy")["value"] == pytest.approx(share_yes)
    assert metric(results, "avhbench", "matching_yes_ratio")["value"] == 1.0


def test_missing_videos_are_named_and_can_be_skipped(tmp_path, capsys):
    val = need(SHARED / "avhbench" / "AVH_val.json")
    root, dropped = standin_dir(tmp_path / "d", val, drop=7)
    assert main(["eval", "--model", "audio-oracle", "--tasks", "avhbench", "--data", str(root / val.name),
                 "--output-dir", str(tmp_path / "r"), "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    total = len({i["video_id"] for i in json.loads(val.read_text())})
    assert f"7 of {total} videos" in err and dropped[0] in err and "--skip-missing" in err
    with pytest.raises(DatasetError, match=dropped[4]):
        load_avhbench(str(root / val.name))
    assert main(["eval", "--model", "audio-oracle", "--tasks", "avhbench", "--data", str(root / val.name),
                 "--output-dir", str(tmp_path / "r"), "--quiet", "--skip-missing"]) == 0
    block = load_results(tmp_path / "r")["tasks"]["avhbench"]
    kept = [i for i in json.loads(val.read_text()) if i["video_id"] not in dropped]
    assert block["skipped"] == 7 and block["n"] == len(kept) and block["errors"] == 0
    assert main(["eval", "--model", "blind", "--tasks", "core", "--skip-missing", "--quiet",
                 "--output-dir", str(tmp_path / "x")]) == 2
    assert "--skip-missing applies to benchmarks" in capsys.readouterr().err


@pytest.mark.parametrize(("reply", "expected", "strict", "lenient", "first5"), [
    ("Yes.", "yes", ("yes", True), ("yes", True), ("yes", True)),
    ("No, it is silent.", "no", ("no", True), ("no", True), ("no", True)),
    ("I cannot hear it.", "yes", ("no", False), ("no", False), ("invalid", False)),  # 'no' inside 'cannot'
    ("It is likely yes.", "yes", ("invalid", False), ("yes", True), ("invalid", False)),
    ("Not at all.", "no", ("no", True), ("no", True), ("no", True)),  # 'not a' holds 'no'
    ("Sure, yes.", "yes", ("yes", True), ("yes", True), ("invalid", False)),
    ("Nothing like that, yes there is", "yes", ("no", False), ("yes", True), ("no", False)),
    ("", "no", ("invalid", False), ("invalid", False), ("invalid", False)),
])
def test_answer_rules(reply, expected, strict, lenient, first5):
    assert RULES["strict"](reply, expected) == strict
    assert RULES["lenient"](reply, expected) == lenient
    assert RULES["first5"](reply, expected) == first5


def test_score_cmm_excerpt_official_rule(tmp_path, capsys):
    """CMM's released excerpt: PA 5/5 and HR 2/5 by the official first-5-characters rule (benchmarks.md)."""
    sample = need(CMM_SAMPLE)
    for task in ("cmm_official", "cmm"):
        out = tmp_path / task
        assert main(["score", "--task", task, "--predictions", str(sample), "--output-dir", str(out)]) == 0
        printed = " ".join(capsys.readouterr().out.split())
        results = load_results(out)
        assert contribution_sums(out, task, "pa") == (5, 5) and contribution_sums(out, task, "hr") == (2, 5)
        assert metric(results, task, "pa")["value"] == 1.0 and metric(results, task, "hr")["value"] == 0.4
        assert metric(results, task, "visual_language_hr")["value"] == 0.4
        assert "5 / 5" in printed and "2 / 5" in printed
    rows = [json.loads(line) for line in sample.read_text().splitlines()]
    official = sum(r["answer"] in r["pred"].strip().lower()[:5] for r in rows) / len(rows)  # calculate_score.py
    assert metric(load_results(tmp_path / "cmm_official"), "cmm_official", "accuracy")["value"] == official


def test_score_avhbench_predictions_file_under_both_rules(tmp_path):
    items = json.loads(need(SHARED / "avhbench" / "AVH_val.json").read_text())[:6]
    hedged = [f"It is likely {item['label'].lower()}." for item in items[:3]]  # invalid for the strict parser
    replies = [*hedged, "I cannot hear it.", "Not at all.", "yes"]
    path = tmp_path / "preds.jsonl"
    rows = [{**item, "pred": reply} for item, reply in zip(items, replies, strict=True)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    scores = {}
    for task in ("avhbench", "avhbench_lenient"):
        assert main(["score", "--task", task, "--predictions", str(path), "--output-dir", str(tmp_path / task)]) == 0
        scores[task] = metric(load_results(tmp_path / task), task, "accuracy")["value"]
    labels = [item["label"].lower() for item in items]
    expect = {name: np.mean([RULES[rule](reply, label)[1] for reply, label in zip(replies, labels, strict=True)])
              for name, rule in (("avhbench", "strict"), ("avhbench_lenient", "lenient"))}
    assert scores == pytest.approx(expect) and scores["avhbench"] != scores["avhbench_lenient"]


def test_score_rejects_a_file_it_cannot_read(tmp_path, capsys):
    path = tmp_path / "x.jsonl"
    path.write_text('{"video_id": "1", "task": "AV Matching", "text": "?", "label": "Yes"}\n')
    assert main(["score", "--task", "avhbench", "--predictions", str(path)]) == 2
    assert "no 'pred'" in capsys.readouterr().err
    path.write_text('{"hello": 1}\n')
    assert main(["score", "--task", "sound_presence", "--predictions", str(path)]) == 2
    assert "not acpo-bench sample records" in capsys.readouterr().err


def test_rescoring_our_samples_reproduces_the_run(small_world_dir, tmp_path):
    assert main(["eval", "--model", "visual-prior", "--tasks", "sound_presence", "--data", str(small_world_dir),
                 "--output-dir", str(tmp_path / "run"), "--quiet", "--scoring", "generate"]) == 0
    samples = tmp_path / "run" / "samples_sound_presence.jsonl"
    assert main(["score", "--task", "sound_presence", "--predictions", str(samples),
                 "--output-dir", str(tmp_path / "rescored")]) == 0
    ran, rescored = load_results(tmp_path / "run"), load_results(tmp_path / "rescored")
    for name, value in ran["tasks"]["sound_presence"]["metrics"].items():
        assert rescored["tasks"]["sound_presence"]["metrics"][name] == value, name
    assert (tmp_path / "rescored" / "samples_sound_presence.jsonl").read_bytes() == samples.read_bytes()


def test_rescoring_gzipped_samples_matches_the_plain_file(small_world_dir, tmp_path, capsys):
    assert main(["eval", "--model", "visual-prior", "--tasks", "sound_presence", "--data", str(small_world_dir),
                 "--output-dir", str(tmp_path / "run"), "--quiet", "--scoring", "generate", "--no-cache"]) == 0
    samples = tmp_path / "run" / "samples_sound_presence.jsonl"
    packed = tmp_path / "samples_sound_presence.jsonl.gz"
    packed.write_bytes(gzip.compress(samples.read_bytes(), mtime=0))
    for source, out in ((samples, "plain"), (packed, "packed")):
        assert main(["score", "--task", "sound_presence", "--predictions", str(source),
                     "--output-dir", str(tmp_path / out)]) == 0
    plain, unpacked = load_results(tmp_path / "plain"), load_results(tmp_path / "packed")
    assert without_run_info(unpacked) == without_run_info(plain)
    assert (tmp_path / "packed" / samples.name).read_bytes() == samples.read_bytes()
    capsys.readouterr()
    packed.write_bytes(packed.read_bytes()[:-9])  # cut inside the trailer
    assert main(["score", "--task", "sound_presence", "--predictions", str(packed)]) == 2
    err = capsys.readouterr().err
    assert str(packed) in err and "not a readable gzip file" in err and "Traceback" not in err


def test_swap_captions_protocol_on_avhbench_clips(tmp_path, capsys):
    val = need(SHARED / "avhbench" / "AVH_val.json")
    root, _ = standin_dir(tmp_path / "d", val)
    args = ["eval", "--model", "audio-oracle", "--tasks", "avhbench_swap_captions", "--data", str(root / val.name),
            "--output-dir", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 2
    assert "modality_captions.jsonl" in capsys.readouterr().err
    ids = sorted({i["video_id"] for i in json.loads(val.read_text())})[:5]
    lines = [{"video_id": v, "audio_caption": f"a {s} sound", "visual_caption": f"a {c} scene"}
             for v, s, c in zip(ids, ("dog barking", "bell ringing", "car engine", "rain", "crowd"),
                                ("park", "church", "street", "forest", "stadium"), strict=True)]
    (root / "modality_captions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(args) == 0
    block = load_results(tmp_path / "r")["tasks"]["avhbench_swap_captions"]
    assert block["n"] == 2 * len(ids) and block["errors"] == 0
    assert {"t_cider_audio", "d_cider_audio", "t_cider_visual", "d_cider_visual"} <= set(block["metrics"])
    records = load_samples(tmp_path / "r", "avhbench_swap_captions")
    for r in records:
        assert r.extra["references"] != r.extra["distractors"]


def _cmm_media(root: Path) -> None:
    tone = (0.2 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    for name in ("a", "b"):
        (root / "raw_files").mkdir(parents=True, exist_ok=True)
        write_mp4(root / "raw_files" / f"{name}.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8, tone)


def _cmm_rows() -> list[dict]:
    def row(sub, modality, video, audio, question, answer):
        return {"category": "c", "sub_category": sub, "modality": modality, "granularity": "object-level",
                "correlation_type": None, "video_path": video, "audio_path": audio, "question": question,
                "answer": answer}
    return [row("visual dominance", "visual", "./raw_files/a.mp4", None, "Did you see dog in the video?", "yes"),
            row("visual dominance", "visual", "./raw_files/a.mp4", None, "Did you see cat in the video?", "no"),
            row("audio-language", "audio", None, "./raw_files/c.wav", "Did you hear rain in the audio?", "no"),
            row("visual-audio-language", "audio", "./raw_files/b.mp4", None, "Did you hear bell in the audio?",
                "yes")]


def test_cmm_eval_on_its_own_files(tmp_path, capsys):
    root = tmp_path / "cmm"
    _cmm_media(root)
    (root / "cmm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _cmm_rows()))
    args = ["eval", "--model", "audio-oracle", "--tasks", "cmm,cmm_official", "--data", str(root), "--quiet",
            "--output-dir", str(tmp_path / "r")]
    assert main(args) == 2  # the audio-only record's wav is not there
    assert "1 of 3 media files" in " ".join(capsys.readouterr().err.split())
    assert main([*args, "--skip-missing"]) == 0
    block = load_results(tmp_path / "r")["tasks"]["cmm"]
    assert block["n"] == 3 and block["skipped"] == 1 and block["errors"] == 0
    assert block["metrics"]["pa"]["value"] == 1.0 and block["metrics"]["hr"]["value"] == 1.0
    assert block["metrics"]["visual_dominance_pa"]["n"] == 1


def test_benchmark_tasks_are_registered_but_not_in_suites():
    from acpo_bench.tasks.suites import SUITES

    for name in ("avhbench", "avhbench_lenient", "avhbench_swap_captions", "cmm", "cmm_official"):
        assert name in BUILTIN
        assert all(name not in suite.tasks for suite in SUITES.values())
