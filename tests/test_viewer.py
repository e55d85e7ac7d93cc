"""``acpo-bench view``: the page's escaping and CSP, the media it embeds (the very track the model heard, chosen
deterministically, within its bound), the two-run order, and the errors and notices for bad input."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import re
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from acpo_bench.cli.view_cmd import view_hint
from acpo_bench.leaderboard import viewer
from acpo_bench.leaderboard.viewer import build_view
from acpo_bench.media import decode_audio, rms_dbfs
from acpo_bench.results import load_results, load_samples
from acpo_bench.synth.generate import generate_world
from acpo_bench.synth.world import WorldConfig
from tests.reporting import copy_run, edit_results, rewrite_samples
from tests.viewing import inline_script, make_view_runs, page_data, wav_samples

EVIL_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
EVIL_REPLY = 'yes</script><script>window.__pwned=3</script><!-- & "quoted"'


@pytest.fixture(scope="module")
def view_runs(small_world_dir, tmp_path_factory) -> dict[str, Path]:
    return make_view_runs(small_world_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def one_page(view_runs) -> str:
    return build_view([view_runs["visual-prior"]], show_progress=False).html


def _media_rows(data: dict) -> list[dict]:
    return [row for row in data["rows"] if row["media"] >= 0]


def test_hostile_strings_stay_text(view_runs, tmp_path):
    run = edit_results(copy_run(view_runs["visual-prior"], tmp_path / "evil"),
                       lambda r: r["model"].update(name=EVIL_NAME))
    rewrite_samples(run, "sound_presence", lambda rows: [{**row, "response": EVIL_REPLY} for row in rows])
    page = build_view([run], show_progress=False).html

    # the JSON block and the page's own script open and close; nothing injected opened or closed one
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert EVIL_NAME not in page and EVIL_REPLY not in page and 'onerror="' not in page
    assert f"<h1>acpo-bench samples: {html_lib.escape(EVIL_NAME)}</h1>" in page  # the name, escaped, as text
    data = page_data(page)  # and the JSON gives the very strings back
    assert data["runs"] == [EVIL_NAME]
    replies = {row["sides"][0]["response"] for row in data["rows"] if row["task"] == "sound_presence"}
    assert replies == {EVIL_REPLY}


def test_strict_content_security_policy(one_page):
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', one_page).group(1)
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    digest = lambda text: "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
    style = re.search(r"<style>(.*?)</style>", one_page, re.S).group(1)
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == digest(inline_script(one_page))  # only this page's own script, by hash
    assert directives["style-src"] == digest(style)
    assert directives["img-src"] == "data:" and directives["media-src"] == "data:"
    assert "unsafe" not in csp
    assert "://" not in one_page  # no URL anywhere: every image and track is a data: URI (base64 has no ':')


def test_swapped_probe_plays_the_other_clips_track(one_page, view_runs, small_world_dir):
    """The embedded audio is what the model heard: a swap probe's track is the source clip's own sound (not the
    video's), silence is silence, and the noise floor sits at its recorded level."""
    data = page_data(one_page)
    by_condition = {}
    for row in _media_rows(data):
        by_condition.setdefault(row["condition"], row)
    assert {"own", "swapped", "silence", "noise"} <= set(by_condition)
    samples = {s.probe_id: s for task in ("swapped_audio", "silent_video")
               for s in load_samples(view_runs["visual-prior"], task)}

    swapped = samples[by_condition["swapped"]["probe"]].media
    heard, rate = wav_samples(data["media"][by_condition["swapped"]["media"]]["audio"])
    source = decode_audio(small_world_dir / swapped["audio"]["source"], rate)
    own = decode_audio(small_world_dir / swapped["video"], rate)
    assert by_condition["swapped"]["heard"] == f"swapped in: {swapped['audio']['source']}"
    n = min(len(heard), len(source), len(own))
    assert rate == 16_000 and n > 0.9 * rate  # the 1 s clip, whole
    assert np.max(np.abs(heard[:n] - source[:n])) < 1e-3  # the swapped-in track, to 16-bit precision
    assert np.corrcoef(heard[:n], own[:n])[0, 1] < 0.5  # and not the video's own sound

    silence, _ = wav_samples(data["media"][by_condition["silence"]["media"]]["audio"])
    assert len(silence) == len(heard) and not silence.any()
    noise, _ = wav_samples(data["media"][by_condition["noise"]["media"]]["audio"])
    level = samples[by_condition["noise"]["probe"]].media["audio"]["noise_dbfs"]
    assert abs(rms_dbfs(noise.astype(np.float32)) - level) < 0.5


def test_media_choice_is_deterministic_and_bounded(view_runs, tmp_path):
    """B fixes the answers about one input only (clip 3 under the noise floor): with room for one input, the media
    goes to that one, whatever the hash order says; and the same runs give the same page, byte for byte."""
    before = view_runs["visual-prior"]
    after = copy_run(before, tmp_path / "after")
    fixed: set[str] = set()

    def fix_one_input(rows):
        for row in rows:
            if row["clip_id"] == "synth-00003" and row["condition"] == "noise" and row["correct"] is False:
                row.update(correct=True, answer="no", response="no", why="said no, expected no")
                fixed.add(row["probe_id"])
        return rows

    rewrite_samples(after, "silent_video", fix_one_input)
    assert len(fixed) > 1
    first = build_view([before, after], max_media=1, show_progress=False)
    assert first.html == build_view([before, after], max_media=1, show_progress=False).html
    data = page_data(first.html)
    assert first.inputs_embedded == 1 and len(data["media"]) == 1
    with_media = _media_rows(data)
    assert {row["probe"] for row in data["rows"] if row["change"] == "fixed"} == fixed
    assert fixed <= {row["probe"] for row in with_media}  # the changed probes' input is the one embedded
    assert {(row["clip"], row["condition"]) for row in with_media} == {("synth-00003", "noise")}
    assert len(with_media) > len(fixed)  # every probe asking about that input shows it, changed or not

    five = build_view([before, after], max_media=5, show_progress=False)
    none = build_view([before, after], max_media=0, show_progress=False)
    assert five.inputs_embedded == 5 and none.inputs_embedded == 0 and not _media_rows(page_data(none.html))
    per_input = (len(five.html) - len(none.html)) / 5
    assert 20_000 < per_input < 120_000  # a 1 s, 16 kHz WAV (43 KB in base64) and two small JPEGs


def test_default_page_budget_is_respected(view_runs, monkeypatch):
    """The page, rows and media together, stays within PAGE_BUDGET_BYTES: the rows first, media in what is left."""
    run = [view_runs["visual-prior"]]
    everything = build_view(run, show_progress=False)
    assert everything.inputs_embedded == 24 and len(everything.html) < viewer.PAGE_BUDGET_BYTES
    bare = build_view(run, max_media=0, show_progress=False)
    target = len(bare.html) + everything.media_bytes // 3  # room for about a third of the media
    monkeypatch.setattr(viewer, "PAGE_BUDGET_BYTES", target + viewer.PAGE_OVERHEAD_BYTES)
    bounded = build_view(run, show_progress=False)
    assert 0 < bounded.inputs_embedded < everything.inputs_embedded
    assert len(bounded.html) <= target + 2_000  # (+ each input's few bytes of JSON)
    monkeypatch.setattr(viewer, "PAGE_BUDGET_BYTES", len(bare.html) // 2)  # not even the rows fit: no media
    assert build_view(run, show_progress=False).inputs_embedded == 0
    rows = page_data(bounded.html)["rows"]
    assert any("media budget" in row["note"] for row in rows if row["media"] < 0)


def test_two_runs_show_changed_answers_first(view_runs):
    vp, ao = view_runs["visual-prior"], view_runs["audio-oracle"]
    expected = {"fixed": 0, "broken": 0}
    for task in ("swapped_audio", "silent_video", "sound_presence", "visual_presence"):
        after = {s.probe_id: s.correct for s in load_samples(ao, task)}
        for s in load_samples(vp, task):
            expected["fixed"] += s.correct is False and after[s.probe_id] is True
            expected["broken"] += s.correct is True and after[s.probe_id] is False
    assert expected["fixed"] > 50 and expected["broken"] == 0  # the oracle fixes what the visual prior got wrong

    changes = [row["change"] for row in page_data(build_view([vp, ao], max_media=0, show_progress=False).html)["rows"]]
    assert changes[:expected["fixed"]] == ["fixed"] * expected["fixed"]
    assert "fixed" not in changes[expected["fixed"]:]
    reverse = build_view([ao, vp], max_media=0, show_progress=False)
    backwards = [row["change"] for row in page_data(reverse.html)["rows"]]
    assert backwards[:expected["fixed"]] == ["broken"] * expected["fixed"]  # B = the visual prior: regressions first
    assert set(backwards[expected["fixed"]:]) <= {"answer", "same"}


def test_one_run_lists_wrong_answers_first(one_page):
    verdicts = [row["sides"][0]["correct"] for row in page_data(one_page)["rows"]]
    wrong = verdicts.count(False)
    assert wrong > 0 and verdicts[:wrong] == [False] * wrong


def test_missing_data_dir_writes_the_page_without_media(view_runs, tmp_path, capsys):
    run = edit_results(copy_run(view_runs["visual-prior"], tmp_path / "moved"),
                       lambda r: r["run_info"].update(data_path="/nowhere/worlds/small"))
    out = tmp_path / "page.html"
    assert main(["view", str(run), "--output", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    notice = next(line for line in err.splitlines() if line.startswith("note:"))
    assert "/nowhere/worlds/small" in notice and "--data" in notice
    page = out.read_text()
    data = page_data(page)
    probes = sum(block["n"] for block in load_results(run)["tasks"].values())
    assert len(data["rows"]) == probes and not data["media"] and not _media_rows(data)
    assert html_lib.escape("/nowhere/worlds/small") in page  # the notice is on the page too


def test_data_option_finds_a_moved_data_dir(view_runs, small_world_dir, tmp_path):
    run = edit_results(copy_run(view_runs["visual-prior"], tmp_path / "moved"),
                       lambda r: r["run_info"].update(data_path=None))
    view = build_view([run], data=str(small_world_dir), max_media=3, show_progress=False)
    assert view.inputs_embedded == 3 and not view.notices


def test_other_data_is_refused_per_file(view_runs, tmp_path):
    """A --data directory holding other clips under the same names (every synthetic world names its clips alike)
    shows no media rather than the wrong media."""
    other = generate_world(WorldConfig(clips=6, seed=8), tmp_path / "other", show_progress=False)
    view = build_view([view_runs["visual-prior"]], data=str(other), max_media=3, show_progress=False)
    assert view.inputs_embedded == 0
    assert any("another clip than the run saw" in n for n in view.notices)


def test_samples_without_media_are_listed_without_it(view_runs, tmp_path):
    run = copy_run(view_runs["visual-prior"], tmp_path / "old")
    rewrite_samples(run, "silent_video", lambda rows: [{**row, "media": None} for row in rows])
    data = page_data(build_view([run], show_progress=False).html)
    old = [row for row in data["rows"] if row["task"] == "silent_video"]
    assert old and all(row["media"] < 0 and "no media recorded" in row["note"] for row in old)
    assert any(row["media"] >= 0 for row in data["rows"] if row["task"] != "silent_video")


def test_edited_media_record_is_not_shown(view_runs, tmp_path):
    """A recipe that does not hash to the probe id is not that probe's input: not shown as if it were."""
    run = copy_run(view_runs["visual-prior"], tmp_path / "edited")

    def to_silence(rows):
        for row in rows:
            if row["media"]["audio"]["kind"] == "swap":
                row["media"]["audio"].update(kind="silence", source=None, source_id=None)
        return rows

    rewrite_samples(run, "swapped_audio", to_silence)
    rows = page_data(build_view([run], show_progress=False).html)["rows"]
    edited = [row for row in rows if row["task"] == "swapped_audio" and row["condition"] == "swapped"]
    assert edited and all(row["media"] < 0 and "does not match the probe id" in row["note"] for row in edited)


def test_bad_input_is_a_clear_error(view_runs, small_world_dir, tmp_path, capsys):
    out = str(tmp_path / "page.html")
    assert main(["view", str(tmp_path / "nothing"), "--output", out]) == 2
    assert "no such results file" in capsys.readouterr().err

    damaged = copy_run(view_runs["visual-prior"], tmp_path / "damaged")
    with open(damaged / "samples_silent_video.jsonl", "a") as fh:
        fh.write('{"probe_id": "x"}\n')
    assert main(["view", str(damaged), "--output", out]) == 2
    err = capsys.readouterr().err
    assert "samples_silent_video.jsonl" in err and "sha256" in err

    other = edit_results(copy_run(view_runs["audio-oracle"], tmp_path / "other-data"),
                         lambda r: r["config"]["data"].update(fingerprint="sha256:" + "0" * 64, name="elsewhere"))
    assert main(["view", str(view_runs["visual-prior"]), str(other), "--output", out]) == 2
    err = capsys.readouterr().err
    assert "cannot be paired" in err and "elsewhere" in err
    assert not Path(out).exists()


@pytest.mark.parametrize(("value", "message"), [("-1", "must be 0 or more inputs to embed, got -1"),
                                               ("many", "'many' is not a whole number")])
def test_max_media_must_be_a_count(value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["view", str(tmp_path), "--output", str(tmp_path / "p.html"), "--max-media", value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_view_hint_names_the_command():
    assert view_hint("runs/my model") == ("browse the samples: acpo-bench view 'runs/my model' "
                                          "--output 'runs/my model/samples.html'")
