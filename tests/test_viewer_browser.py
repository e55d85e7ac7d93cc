"""The viewer page in a real headless Chromium (the ``browser`` fixture of conftest.py): filters change the rows
shown, a swapped-audio probe's <audio> holds a real, non-silent track (decoded by the browser's own Web Audio), an
injected script in a model name and in a reply did not run, and nothing was fetched. ACPO_VIEW_SCREENSHOT=path keeps
a screenshot (the README's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from acpo_bench.cli import main
from tests.browsing import assert_quiet_self_contained_page
from tests.reporting import copy_run, edit_results, rewrite_samples
from tests.viewing import make_view_runs, page_data, wav_samples

pytestmark = pytest.mark.slow

EVIL_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
EVIL_REPLY = 'no</script><script>window.__pwned=3</script><img src=x onerror="window.__pwned=4">'

# The track of the first shown row, decoded by Chromium (Web Audio, at the file's own rate: no resampling).
DECODE_AUDIO = """
var done = arguments[arguments.length - 1];
var audio = document.querySelector("#rows article.probe audio");
var text = atob(audio.src.split(",")[1]), bytes = new Uint8Array(text.length);
for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
new OfflineAudioContext(1, 1, 16000).decodeAudioData(bytes.buffer).then(function (buffer) {
  var data = buffer.getChannelData(0), sum = 0;
  for (var j = 0; j < data.length; j++) { sum += data[j] * data[j]; }
  done({rms: Math.sqrt(sum / data.length), duration: buffer.duration, rate: buffer.sampleRate,
        task: audio.closest("article").getAttribute("data-task"),
        probe: audio.closest("article").getAttribute("data-probe")});
}, function (error) { done({error: String(error)}); });
"""


def test_filters_audio_and_isolation(browser, small_world_dir, tmp_path_factory, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    runs = make_view_runs(small_world_dir, tmp_path_factory)
    after = edit_results(copy_run(runs["audio-oracle"], tmp_path / "after"),
                         lambda r: r["model"].update(name=EVIL_NAME))
    rewrite_samples(after, "sound_presence", lambda rows: [{**row, "response": EVIL_REPLY} for row in rows])
    page = tmp_path / "samples.html"
    assert main(["view", str(runs["visual-prior"]), str(after), "--output", str(page), "--quiet"]) == 0
    data = page_data(page.read_text())
    by_probe = {(row["task"], row["probe"]): row for row in data["rows"]}  # tasks asking alike share probe ids

    browser.get(page.as_uri())
    assert browser.title.startswith("acpo-bench samples: visual-prior vs <script>")  # the name, as text
    assert browser.execute_script("return window.__pwned === undefined")

    def shown() -> list[dict]:
        return [by_probe[a.get_attribute("data-task"), a.get_attribute("data-probe")]
                for a in browser.find_elements(By.CSS_SELECTOR, "#rows article.probe")]

    def choose(control: str, value: str) -> None:
        Select(browser.find_element(By.ID, control)).select_by_value(value)

    everything = shown()
    assert len(everything) == 50 and everything[0]["change"] == "fixed"  # one page of rows, changed answers first
    assert browser.find_element(By.ID, "count").text == f"showing 50 of {len(data['rows'])} matching probes " \
                                                        f"({len(data['rows'])} in all)"

    choose("f-task", "sound_presence")
    rows = shown()
    assert rows and rows != everything and {r["task"] for r in rows} == {"sound_presence"}
    replies = browser.find_elements(By.CSS_SELECTOR, "#rows .side[data-verdict] pre.response")
    assert EVIL_REPLY in {r.text for r in replies}  # the hostile reply is on screen, as text
    assert browser.execute_script("return window.__pwned === undefined")

    choose("f-task", "")
    choose("f-change", "broken")
    assert shown() == [] and browser.find_element(By.ID, "count").text.startswith("showing 0 of 0")
    choose("f-change", "fixed")
    fixed = shown()
    assert fixed and all(r["change"] == "fixed" for r in fixed)
    assert all(r["sides"][0]["correct"] is False and r["sides"][1]["correct"] is True for r in fixed)

    choose("f-condition", "swapped")
    browser.find_element(By.ID, "f-media").click()
    swapped = shown()
    assert swapped and all(r["condition"] == "swapped" and r["media"] >= 0 for r in swapped)
    heard = browser.execute_async_script(DECODE_AUDIO)
    assert "error" not in heard, heard
    expected, rate = wav_samples(data["media"][by_probe[heard["task"], heard["probe"]]["media"]]["audio"])
    assert heard["rate"] == rate == 16_000 and abs(heard["duration"] - len(expected) / rate) < 1e-3
    assert heard["rms"] > 0.01  # the swapped-in track is there, and it is not silence
    assert abs(heard["rms"] - float(np.sqrt(np.mean(expected ** 2)))) < 1e-3  # the very samples the page carries
    duration = WebDriverWait(browser, 20).until(lambda b: b.execute_script(
        "var a = document.querySelector('#rows audio'); return a.readyState >= 1 ? a.duration : null;"))
    assert abs(duration - len(expected) / rate) < 0.05  # and the <audio> element itself loads it

    assert_quiet_self_contained_page(browser, page)  # every image and track is in the page
    assert browser.execute_script("return window.__pwned === undefined")

    # the screenshot is of a page without the hostile names: the two runs as they are, fixed swapped-audio probes
    clean = tmp_path / "clean.html"
    assert main(["view", str(runs["visual-prior"]), str(runs["audio-oracle"]), "--output", str(clean), "--quiet"]) == 0
    browser.get(clean.as_uri())
    choose("f-change", "fixed")
    choose("f-condition", "swapped")
    assert shown()
    shot = tmp_path / "viewer.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    keep = os.environ.get("ACPO_VIEW_SCREENSHOT")
    if keep:  # e.g. docs/images/viewer.png for the README
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep)
