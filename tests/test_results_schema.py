"""Property-based tests of the results schema: sample records survive the JSON round trip (through the real
writers and readers, hash check included), and a damaged or hostile results file is refused with a ResultsError
that names the file, never a crash of another type further on."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acpo_bench.cli import main
from acpo_bench.leaderboard.runs import load_run
from acpo_bench.leaderboard.tables import build, markdown
from acpo_bench.results import (
    RESULTS_FILE,
    ResultsError,
    dumps,
    load_results,
    load_samples,
    write_results,
    write_samples,
)
from acpo_bench.schemas import SampleRecord

# Paths whose bytes are not UTF-8 reach Python as lone low surrogates U+DC80..U+DCFF (os.fsdecode); results files
# must carry them too (an error record names its file).
path_bytes = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)
text = st.text(st.one_of(st.characters(), path_bytes), max_size=40)
labels = st.lists(st.text(min_size=1, max_size=12), max_size=4).map(tuple)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)

records = st.builds(
    SampleRecord,
    probe_id=st.text(min_size=1, max_size=16), task=st.just("t"), clip_id=text, condition=text,
    setting=st.none() | text, groups=labels, kind=st.sampled_from(["yes_no", "open", "caption"]),
    modality=st.sampled_from(["audio", "visual"]), question=text, paraphrase=st.integers(0, 5), prompt=text,
    target=st.none() | text, expected=st.sampled_from([None, "yes", "no"]), visible=labels, audible=labels,
    response=st.none() | text, scored_by=st.sampled_from([None, "loglik", "generate"]),
    answer=st.one_of(st.none(), text, labels), correct=st.sampled_from([None, True, False]), why=text,
    error=st.none() | text, extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3))


@given(records)
def test_sample_record_json_round_trip(record):
    assert SampleRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, max_size=8, unique_by=lambda r: r.probe_id))
def test_samples_round_trip_through_the_files(batch):
    """write_samples + a results file -> load_samples gives the same records (sorted as written), also for text
    carrying a path's non-UTF-8 bytes; the files stay valid UTF-8."""
    with tempfile.TemporaryDirectory() as tmp:
        block = {"samples": write_samples(tmp, "t", batch), "metrics": {}}
        write_results(tmp, minimal_results({"t": block}))
        assert load_samples(tmp, "t") == sorted(batch, key=lambda r: (r.clip_id, r.probe_id))
        for path in Path(tmp).iterdir():
            path.read_bytes().decode("utf-8")


def minimal_results(tasks: dict) -> dict:
    return {"schema_version": 1, "model": {"name": "m"}, "config": {"data": {}}, "tasks": tasks,
            "summary": {"audio_grounding_score": None}, "run_info": {}}


@pytest.fixture(scope="module")
def real_run(small_world_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("schema-run")
    assert main(["eval", "--model", "visual-prior", "--tasks", "core", "--data", str(small_world_dir), "--limit",
                 "3", "--output-dir", str(out), "--quiet", "--no-cache"]) == 0
    return out


def _paths(node, prefix=()):
    """Every (key path) inside a JSON document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _mutate(doc, path, value, delete):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def refused_or_readable(run_dir: Path) -> None:
    """Either a ResultsError naming the file, or a file every reader can use: the leaderboard renders it (or says
    why not, naming the file) and every task's samples load (or are refused with a ResultsError)."""
    try:
        results = load_results(run_dir)
    except ResultsError as exc:
        assert str(exc).startswith(str(run_dir)), exc
        return
    try:
        markdown(build([load_run(run_dir)]))
    except ValueError as exc:  # e.g. no audio grounding score to sort by: the leaderboard's own clear refusal
        assert str(run_dir) in str(exc), exc
    for task in results["tasks"]:
        try:
            load_samples(run_dir, task)
        except ResultsError as exc:
            assert str(run_dir) in str(exc), exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_results_are_refused_with_the_file_named(real_run, data):
    doc = json.loads((real_run / RESULTS_FILE).read_text())
    paths = sorted(_paths(doc), key=repr)
    path = data.draw(st.sampled_from(paths), label="path")
    delete = bool(path) and data.draw(st.booleans(), label="delete")
    value = None if delete else data.draw(json_values, label="value")
    damaged = _mutate(doc, path, value, delete)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        for sample in real_run.glob("samples_*.jsonl"):
            (run_dir / sample.name).write_bytes(sample.read_bytes())
        (run_dir / RESULTS_FILE).write_bytes(dumps(damaged) if isinstance(damaged, dict) else
                                             json.dumps(damaged).encode())
        refused_or_readable(run_dir)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), junk=st.binary(max_size=16), where=st.sampled_from(["results", "samples"]))
def test_truncated_or_garbled_files_are_refused(real_run, cut, junk, where):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        for source in real_run.iterdir():
            if source.suffix in (".json", ".jsonl"):
                (run_dir / source.name).write_bytes(source.read_bytes())
        target = run_dir / RESULTS_FILE if where == "results" else sorted(run_dir.glob("samples_*.jsonl"))[0]
        blob = target.read_bytes()
        target.write_bytes(blob[: int(len(blob) * cut)] + junk)
        refused_or_readable(run_dir)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/samples_x.jsonl", "..", ""])
def test_samples_path_cannot_leave_the_results_directory(real_run, tmp_path, name):
    for source in real_run.iterdir():
        if source.suffix in (".json", ".jsonl"):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    results = load_results(tmp_path)
    task = next(iter(results["tasks"]))
    results["tasks"][task]["samples"]["path"] = name
    write_results(tmp_path, results)
    with pytest.raises(ResultsError, match="must be a file name beside the results file"):
        load_samples(tmp_path, task)


@pytest.mark.slow
def test_every_reader_field_damaged_in_turn_is_refused_or_readable(real_run):
    """Deterministic sweep beside the random one: every block and field down to task level, and every field of one
    metric entry per task, replaced by each wrong type or deleted."""
    doc = json.loads((real_run / RESULTS_FILE).read_text())
    paths = [p for p in _paths(doc) if len(p) <= 3 and p[:2] != ("run_info", "versions")]
    for task, block in doc["tasks"].items():
        metric = next(iter(block["metrics"]))
        paths += [("tasks", task, "metrics", metric, key) for key in block["metrics"][metric]]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        for sample in real_run.glob("samples_*.jsonl"):
            (run_dir / sample.name).write_bytes(sample.read_bytes())
        for path in paths:
            for value, delete in [([], False), ({}, False), ("x", False), (True, False), (None, bool(path))]:
                damaged = _mutate(doc, path, value, delete)
                (run_dir / RESULTS_FILE).write_bytes(dumps(damaged) if isinstance(damaged, dict) else
                                                     json.dumps(damaged).encode())
                refused_or_readable(run_dir)


def test_skipped_reasons_are_checked_and_optional(real_run, tmp_path):
    """Files written before reasons were recorded load as before; a damaged reasons block names its field."""
    from acpo_bench.cli.tables import skipped_lines

    for source in real_run.iterdir():
        if source.suffix in (".json", ".jsonl"):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    results = load_results(tmp_path)
    task = next(iter(results["tasks"]))
    assert isinstance(results["tasks"][task]["skipped_reasons"], dict)
    older = copy.deepcopy(results)
    del older["tasks"][task]["skipped_reasons"]
    older["tasks"][task]["skipped"] = 2
    write_results(tmp_path, older)
    assert "skipped_reasons" not in load_results(tmp_path)["tasks"][task]
    assert f"{task}: 2 clips skipped, reason not recorded" in skipped_lines(older)
    for damaged in (["no partner"], {"no partner": "3"}, "3"):
        results["tasks"][task]["skipped_reasons"] = damaged
        write_results(tmp_path, results)
        with pytest.raises(ResultsError, match=rf"tasks\.{task}\.skipped_reasons is .* expected an object of "
                                               "reason -> number of clips skipped"):
            load_results(tmp_path)
