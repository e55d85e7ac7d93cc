"""Security: weights from safetensors only, checkpoint code only when asked, no shell built from strings, no
unpickling, and media paths read from annotation files confined to the data directory."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from acpo_bench.cli import main
from acpo_bench.clips import DatasetError, load_clips, write_manifest
from acpo_bench.registry import resolve
from acpo_bench.tasks import BUILTIN
from acpo_bench.workflows.rescore import rescore

ROOT = Path(__file__).resolve().parents[1]
ESCAPES = ["../../etc/passwd", "/etc/passwd", "clips/../../../etc/passwd", "..", ""]


def python_sources() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in tracked.stdout.split() if (ROOT / line).is_file()]


def unsafe_calls(tree: ast.AST) -> list[str]:
    """torch.load without weights_only=True, pickle loads, a shell, os.system/popen, eval/exec, remote code on."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        literal = {k: v.value for k, v in keywords.items() if isinstance(v, ast.Constant)}
        if name == "torch.load" and literal.get("weights_only") is not True:
            found.append(f"line {node.lineno}: torch.load without weights_only=True")
        if name in ("pickle.load", "pickle.loads", "os.system", "os.popen", "eval", "exec"):
            found.append(f"line {node.lineno}: {name}")
        if keywords.get("shell") is not None and literal.get("shell") is not False:
            found.append(f"line {node.lineno}: {name}(shell=...)")
        if literal.get("trust_remote_code") is True:
            found.append(f"line {node.lineno}: {name}(trust_remote_code=True)")
    return found


def test_the_source_has_no_unsafe_calls():
    sources = python_sources()
    assert len(sources) > 50
    problems = {str(p.relative_to(ROOT)): unsafe_calls(ast.parse(p.read_text(), str(p))) for p in sources}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_scan_finds_what_it_looks_for():
    code = ("torch.load(f)\ntorch.load(f, weights_only=False)\nsubprocess.run(cmd, shell=True)\nos.system(c)\n"
            "pickle.loads(b)\nM.from_pretrained(p, trust_remote_code=True)\ntorch.load(f, weights_only=True)\n"
            "subprocess.run(['ls'], shell=False)\n")
    assert len(unsafe_calls(ast.parse(code))) == 6


@pytest.fixture(scope="module")
def checkpoint(tiny_model):
    name, args = tiny_model
    if name == "qwen-omni-tiny":
        from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT

        return TINY_CHECKPOINT
    return Path(args.removeprefix("path="))


def test_weights_load_from_safetensors_only(checkpoint, tmp_path):
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.adapter import ModelLoadError
    from acpo_bench.models.qwen_omni.adapter import qwen_omni

    pickled = tmp_path / "pickled"  # the same weights as a pickle, the format that can carry code
    shutil.copytree(checkpoint, pickled, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save(Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(checkpoint).state_dict(),
               pickled / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"no \*\.safetensors weights"):
        qwen_omni({"path": str(pickled)})


@pytest.mark.parametrize(("args", "trusted"), [({}, False), ({"trust_remote_code": "true"}, True)])
def test_checkpoint_code_runs_only_when_asked(checkpoint, monkeypatch, args, trusted):
    import transformers

    from acpo_bench.models.qwen_omni.adapter import qwen_omni

    seen = []
    for cls in (transformers.Qwen2_5OmniThinkerForConditionalGeneration, transformers.Qwen2_5OmniProcessor):
        original = cls.from_pretrained.__func__

        def spy(klass, *a, _original=original, **kw):
            seen.append((klass.__name__, kw))
            return _original(klass, *a, **kw)
        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    qwen_omni({"path": str(checkpoint), **args})
    calls: dict[str, dict] = {}
    for name, kw in seen:
        calls.setdefault(name, kw)  # our own call comes first
    assert calls["Qwen2_5OmniProcessor"]["trust_remote_code"] is trusted
    assert calls["Qwen2_5OmniThinkerForConditionalGeneration"]["trust_remote_code"] is trusted
    assert calls["Qwen2_5OmniThinkerForConditionalGeneration"]["use_safetensors"] is True


# --- paths from annotation files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("escape", ESCAPES)
def test_clip_manifest_paths_stay_inside_the_dataset(small_world_dir, tmp_path, escape, capsys):
    data = tmp_path / "data"
    shutil.copytree(small_world_dir / "clips", data / "clips")
    rows = [{"clip_id": "ok", "video": "clips/synth-00000.mp4", "visible": ["dog"], "audible": ["dog"]},
            {"clip_id": "evil", "video": escape, "visible": ["dog"], "audible": ["dog"]}]
    write_manifest(data, rows)
    with pytest.raises(DatasetError, match=r"row 1 \(evil\): video .* is not a relative path inside the data"):
        load_clips(data)
    assert main(["eval", "--model", "audio-oracle", "--tasks", "core", "--data", str(data), "--quiet",
                 "--output-dir", str(tmp_path / "r")]) == 2
    assert "refusing to read it" in capsys.readouterr().err


def test_symlinks_inside_the_dataset_are_followed(small_world_dir, tmp_path):
    """probes build links videos it does not copy; a link inside the directory is the dataset's own choice."""
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    (data / "clips" / "a.mp4").symlink_to(small_world_dir / "clips" / "synth-00000.mp4")
    write_manifest(data, [{"clip_id": "a", "video": "./clips/a.mp4", "visible": [], "audible": []}])
    assert Path(load_clips(data).clips[0].video) == (small_world_dir / "clips" / "synth-00000.mp4").resolve()


@pytest.mark.parametrize("escape", ESCAPES[:3])
def test_avhbench_video_ids_cannot_name_files_outside(tmp_path, escape):
    task = resolve(BUILTIN["avhbench"])
    rows = [{"video_id": escape, "task": "Audio-driven Video Hallucination", "text": "Is the dog visible in the "
             "video?", "label": "Yes"}]
    (tmp_path / "QA.json").write_text(json.dumps(rows))
    with pytest.raises(DatasetError, match=r"item 0: video_id .* is not a relative path inside the data directory"):
        task.load_data(str(tmp_path))
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(json.dumps({**rows[0], "pred": "Yes"}) + "\n")
    with pytest.raises(DatasetError, match=r"record 0: video_id"):
        rescore(task, predictions)


@pytest.mark.parametrize("field", ["video_path", "audio_path"])
@pytest.mark.parametrize("escape", ESCAPES[:3])
def test_cmm_media_paths_cannot_leave_the_data_directory(tmp_path, field, escape):
    task = resolve(BUILTIN["cmm"])
    row = {"category": "c", "sub_category": "visual dominance", "modality": "visual", "granularity": "object-level",
           "video_path": "./raw_files/a.mp4", "audio_path": None, "question": "Did you see dog in the video?",
           "answer": "yes", field: escape}
    (tmp_path / "cmm.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError, match=rf"record 0: {field} .* is not a relative path inside"):
        task.load_data(str(tmp_path))
    predictions = tmp_path / "final_output.json"
    predictions.write_text(json.dumps([{**row, "pred": "yes"}]))
    with pytest.raises(DatasetError, match=rf"record 0: {field}"):
        rescore(task, predictions)


def test_probes_build_names_only_paths_inside_its_output(small_world_dir, small_world, tmp_path):
    """Label rows are matched to files found under --videos by name, so a video_id such as ../../etc/passwd names
    nothing; the manifest written names clips/<file> (relative symlinks, or copies) and nothing outside."""
    videos = tmp_path / "videos"
    shutil.copytree(small_world_dir / "clips", videos)
    lists = tmp_path / "labels.jsonl"
    rows = [{"video_id": c.clip_id, "labels": list(c.audible)} for c in small_world.clips[:4]]
    rows.append({"video_id": "../../etc/passwd", "labels": ["dog"]})
    lists.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "ds"
    assert main(["probes", "build", "--videos", str(videos), "--labels", str(lists), "--describes", "both",
                 "--output-dir", str(out), "--quiet"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["written"] == 4 and report["labels_without_video"] == 1
    import datasets

    manifest = datasets.load_from_disk(str(out / "manifest"))
    assert all(v.startswith("clips/") and (out / v).is_symlink() for v in manifest["video"])
    assert {Path(c.video) for c in load_clips(out).clips} == {(videos / f"{r['video_id']}.mp4").resolve()
                                                                for r in rows[:4]}
