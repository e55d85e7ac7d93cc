"""`acpo-bench gate` end to end on real runs: the improving direction passes, the swapped files exit 1, planted
regressions are caught (or allowed within tolerance), and every invalid comparison exits 2 with its reason."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from acpo_bench.cli import main
from acpo_bench.leaderboard.gate import DEFAULT_GATE, run_gate
from acpo_bench.leaderboard.runs import load_run
from acpo_bench.results import load_results, load_sample_rows, samples_filename
from tests.reporting import (
    copy_run,
    count_outcomes,
    edit_results,
    gzip_samples,
    make_reference_runs,
    plant_flips,
    rewrite_samples,
)

OWN = "visual_presence.own_accuracy"


@pytest.fixture(scope="session")
def reference_runs(small_world_dir, tmp_path_factory):
    return make_reference_runs(small_world_dir, tmp_path_factory)


def gate(baseline: Path, candidate: Path, *extra: str) -> int:
    return main(["gate", "--baseline", str(baseline), "--candidate", str(candidate), "--resamples", "2000", *extra])


def test_improving_candidate_passes_and_swapped_files_fail(reference_runs, tmp_path, capsys):
    before, after = reference_runs["visual-prior"], reference_runs["audio-oracle"]
    junit, summary = tmp_path / "gate.xml", tmp_path / "summary.md"
    assert gate(before, after, "--junit", str(junit), "--summary", str(summary)) == 0
    cases = ET.parse(junit).getroot().find("testsuite")
    assert cases.get("failures") == "0"
    assert [c.get("name") for c in cases.iter("testcase")] == [m.key for m in DEFAULT_GATE]
    assert "✅" in summary.read_text()

    assert gate(after, before, "--junit", str(junit), "--summary", str(summary)) == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    # the visual-prior hears what it sees: every audio-grounding metric regresses, the visual control does not
    assert failed == {"swapped_audio.vahr", "silent_video.silent_hallucination_rate", "sound_presence.adversarial_f1"}
    text = summary.read_text()
    assert text.count("## ") == 2 and "REGRESSION in `swapped_audio.vahr`" in text  # appended, as GitHub collects it
    assert "REGRESSION" in capsys.readouterr().out


def test_tests_chosen_by_outcome_type(reference_runs):
    report = run_gate(load_run(reference_runs["audio-oracle"]), load_run(reference_runs["visual-prior"]))
    tests = {row.key: row.test for row in report.rows}
    # several correlated probes per clip (paraphrases): the clip-clustered McNemar test
    assert tests["swapped_audio.vahr"] == "mcnemar-clustered" and tests[OWN] == "mcnemar-clustered"
    assert tests["sound_presence.adversarial_f1"] == "bootstrap"  # F1 is a ratio of sums, not a 0/1 outcome
    vahr = next(r for r in report.rows if r.key == "swapped_audio.vahr")
    n = count_outcomes(reference_runs["audio-oracle"], "swapped_audio", "vahr")
    # every probe regressed: z = Σ w_k / sqrt(Σ w_k²) over clips, a vanishing p, at most 4x after Holm
    assert vahr.n == n and vahr.p_value < 1e-6 and vahr.p_holm <= 4 * vahr.p_value
    assert next(r for r in report.rows if r.key == "visual_presence.swapped_accuracy").status == "reported"


def test_identical_runs_pass(reference_runs):
    run = load_run(reference_runs["blind"])
    report = run_gate(run, run)
    assert report.passed and all(row.p_value == 1.0 and row.delta == 0 for row in report.rows)


def test_planted_regression_against_tolerance(reference_runs, tmp_path):
    """own_accuracy carries a 0.02 tolerance by default: a significant drop below it passes, above it fails."""
    base = reference_runs["visual-prior"]
    n = count_outcomes(base, "visual_presence", "own_accuracy")
    within = max(7, math.floor(0.02 * n) - 1)  # 7 clips each one worse: exact p 2^-7, x4 after Holm < 0.05
    assert within / n < 0.02, "the small world has too few visual probes for this test"
    small = copy_run(base, tmp_path / "small")
    plant_flips(small, "visual_presence", "own_accuracy", within)
    report = run_gate(load_run(base), load_run(small))
    row = next(r for r in report.rows if r.key == OWN)
    assert row.p_holm < 0.05 and row.regression == pytest.approx(within / n, abs=1e-6)
    assert report.passed and row.status == "pass"
    assert gate(base, small) == 0
    assert gate(base, small, "--metric", OWN) == 1  # no tolerance: the same drop fails
    assert gate(base, small, "--metric", f"{OWN}:{(within + 1) / n}") == 0

    big = copy_run(base, tmp_path / "big")
    plant_flips(big, "visual_presence", "own_accuracy", math.ceil(0.05 * n))
    assert gate(base, big) == 1


def test_a_few_flips_are_not_significant(reference_runs, tmp_path):
    base = reference_runs["visual-prior"]
    noisy = copy_run(base, tmp_path / "noisy")
    plant_flips(noisy, "visual_presence", "own_accuracy", 3)  # one-sided p = 1/8
    assert gate(base, noisy, "--metric", OWN) == 0


def test_lower_is_better_direction(reference_runs, tmp_path):
    """VAHR is lower-better: raising it is a regression, lowering it is not."""
    base = reference_runs["audio-oracle"]  # VAHR 0 everywhere
    worse = copy_run(base, tmp_path / "worse")
    n = count_outcomes(base, "swapped_audio", "vahr")
    plant_flips(worse, "swapped_audio", "vahr", n // 2, good=0.0)
    assert gate(base, worse, "--metric", "swapped_audio.vahr") == 1
    assert gate(worse, base, "--metric", "swapped_audio.vahr") == 0


def expect_invalid(baseline: Path, candidate: Path, capsys, *fragments: str, extra: tuple[str, ...] = ()) -> None:
    junit = baseline.parent / "invalid.xml"
    assert gate(baseline, candidate, "--junit", str(junit), *extra) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    assert ET.parse(junit).getroot().find("testsuite/testcase/error") is not None


def test_unknown_and_descriptive_metrics_exit_2(reference_runs, capsys):
    a, b = reference_runs["audio-oracle"], reference_runs["visual-prior"]
    expect_invalid(a, b, capsys, "did you mean swapped_audio.vahr", extra=("--metric", "swapped_audio.vahrr"))
    expect_invalid(a, b, capsys, "no task 'nope'", extra=("--metric", "nope.x"))
    expect_invalid(a, b, capsys, "descriptive", extra=("--metric", "sound_presence.adversarial_yes_ratio"))
    expect_invalid(a, b, capsys, "task.metric", extra=("--metric", "vahr"))


def test_different_data_exits_2(reference_runs, small_world_dir, tmp_path, capsys):
    other = tmp_path / "limited"
    assert main(["eval", "--model", "visual-prior", "--tasks", "all", "--data", str(small_world_dir), "--limit", "12",
                 "--output-dir", str(other), "--quiet", "--no-cache"]) == 0
    expect_invalid(reference_runs["visual-prior"], other, capsys, "different data")


def test_task_version_mismatch_exits_2(reference_runs, tmp_path, capsys):
    bumped = edit_results(copy_run(reference_runs["blind"], tmp_path / "v2"),
                          lambda r: r["tasks"]["silent_video"].update(version=99))
    expect_invalid(reference_runs["blind"], bumped, capsys, "version 1", "99")


def test_missing_or_modified_samples_exit_2(reference_runs, tmp_path, capsys):
    base = reference_runs["blind"]
    missing = copy_run(base, tmp_path / "missing")
    (missing / samples_filename("swapped_audio")).unlink()
    expect_invalid(base, missing, capsys, "missing")
    tampered = copy_run(base, tmp_path / "tampered")
    path = tampered / samples_filename("silent_video")
    path.write_text(path.read_text().replace('"no"', '"yes"', 1))
    expect_invalid(base, tampered, capsys, "sha256")


def test_gzipped_samples_gate_as_the_plain_ones(reference_runs, tmp_path, capsys):
    """samples_<task>.jsonl.gz (how leaderboard/results/ stores them) pair exactly as the plain files do."""
    plain = {name: reference_runs[name] for name in ("visual-prior", "audio-oracle")}
    packed = {name: gzip_samples(copy_run(run, tmp_path / name)) for name, run in plain.items()}
    for before, after in (("visual-prior", "audio-oracle"), ("audio-oracle", "visual-prior")):
        expected = run_gate(load_run(plain[before]), load_run(plain[after]))
        got = run_gate(load_run(packed[before]), load_run(packed[after]))
        assert got.rows == expected.rows and got.passed == expected.passed
        mixed = run_gate(load_run(plain[before]), load_run(packed[after]))  # one run of each form
        assert mixed.rows == expected.rows
    assert gate(packed["visual-prior"], packed["audio-oracle"]) == 0
    assert gate(packed["audio-oracle"], packed["visual-prior"]) == 1
    capsys.readouterr()


def test_damaged_or_doubled_gzipped_samples_exit_2(reference_runs, tmp_path, capsys):
    base = reference_runs["blind"]
    name = samples_filename("swapped_audio") + ".gz"
    damages = {"truncated": lambda b: b[: len(b) // 2], "garbled": lambda b: b[:20] + b"\0" * 64 + b[84:],
               "not-gzip": lambda b: b"{}\n" + b}
    for label, damage in damages.items():
        run = gzip_samples(copy_run(base, tmp_path / label))
        (run / name).write_bytes(damage((run / name).read_bytes()))
        expect_invalid(base, run, capsys, str(run / name), "not a readable gzip file")
    doubled = gzip_samples(copy_run(base, tmp_path / "doubled"))
    (doubled / samples_filename("swapped_audio")).write_bytes(b"")
    expect_invalid(base, doubled, capsys, str(doubled / samples_filename("swapped_audio")), str(doubled / name),
                   "keep one of them")


def test_unpaired_and_errored_probes_exit_2(reference_runs, tmp_path, capsys):
    base = reference_runs["blind"]
    dropped = copy_run(base, tmp_path / "dropped")
    rewrite_samples(dropped, "swapped_audio", lambda rows: rows[1:])
    expect_invalid(base, dropped, capsys, "only in the baseline")

    def fail_one(rows):
        row = next(r for r in rows if "vahr" in r["metrics"])
        row.update(error="adapter crashed", metrics={}, answer=None, response=None, correct=None)
        return rows

    errored = copy_run(base, tmp_path / "errored")
    rewrite_samples(errored, "swapped_audio", fail_one)
    expect_invalid(base, errored, capsys, "ended in an error")


def test_nan_exits_2(reference_runs, tmp_path, capsys):
    base = reference_runs["blind"]
    nan = copy_run(base, tmp_path / "nan")

    def poison(rows):
        next(r for r in rows if "silent_hallucination_rate" in r["metrics"])["metrics"][
            "silent_hallucination_rate"] = [float("nan"), 1.0]
        return rows

    rewrite_samples(nan, "silent_video", poison)
    expect_invalid(base, nan, capsys, "NaN")


def test_results_value_must_match_samples(reference_runs, tmp_path, capsys):
    base = reference_runs["blind"]
    edited = edit_results(copy_run(base, tmp_path / "edited"),
                          lambda r: r["tasks"]["swapped_audio"]["metrics"]["vahr"].update(value=0.5))
    expect_invalid(base, edited, capsys, "do not belong together")
    assert load_results(base)["tasks"]["swapped_audio"]["metrics"]["vahr"]["value"] != 0.5
    assert load_sample_rows(base, "swapped_audio")  # the original is untouched
