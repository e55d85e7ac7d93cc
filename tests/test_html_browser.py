"""The HTML leaderboard in a real headless Chromium (Debian's chromium + chromedriver, installed by .ci/run; the
``browser`` fixture is in conftest.py): load the page from disk, click a column header, read the row order back, check
no injected script ran and nothing was fetched, and take a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from acpo_bench.leaderboard import html, tables
from acpo_bench.leaderboard.runs import load_run
from tests.browsing import assert_quiet_self_contained_page
from tests.reporting import copy_run, edit_results, make_reference_runs

pytestmark = pytest.mark.slow


def test_sort_escape_and_screenshot(browser, small_world_dir, tmp_path_factory, tmp_path):
    from selenium.webdriver.common.by import By

    reference = make_reference_runs(small_world_dir, tmp_path_factory)
    evil = edit_results(copy_run(reference["blind"], tmp_path / "evil"), lambda r: r["model"].update(
        name='<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'))
    tuned = edit_results(copy_run(reference["audio-oracle"], tmp_path / "tuned"),
                         lambda r: r["model"].update(name="visual-prior", adapter="runs/acpo"))
    runs = [load_run(p) for p in (*reference.values(), evil, tuned)]
    board = tables.build(runs, baseline="visual-prior")
    page = tmp_path / "board.html"
    page.write_text(html.page(board))

    browser.get(page.as_uri())
    assert browser.title == "acpo-bench leaderboard"
    assert browser.execute_script("return window.__pwned === undefined")

    def first_cells() -> list[str]:
        return [row.find_element(By.TAG_NAME, "td").get_attribute("data-v")
                for row in browser.find_elements(By.CSS_SELECTOR, "#board tbody tr")]

    def column(key: str) -> int:
        return next(i for i, c in enumerate(board.columns) if c.key == key) + len(tables.MODEL_HEADERS)

    assert first_cells() == [row.run.name for row in board.rows]  # as rendered: by AGS, best first
    assert any("<script>" in name for name in first_cells())  # the hostile name is text in the page
    col = column("swapped_audio.vahr_yn")

    def column_values() -> list[float]:
        return [float(row.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-v"))
                for row in browser.find_elements(By.CSS_SELECTOR, "#board tbody tr")]

    assert column_values() == [row.cells["swapped_audio.vahr_yn"].value for row in board.rows]
    browser.find_element(By.CSS_SELECTOR, 'th[data-col="0"]').click()  # model names, A to Z
    names = first_cells()
    assert names == sorted(names, key=lambda n: n.lower()) or names == sorted(names)
    rendered = column_values()
    assert rendered != sorted(rendered)  # so that the next click has something to do
    header = browser.find_element(By.CSS_SELECTOR, f'th[data-col="{col}"]')
    header.click()  # lower is better: best (lowest) first
    assert column_values() == sorted(rendered) and header.get_attribute("aria-sort") == "ascending"
    assert sorted(first_cells()) == sorted(row.run.name for row in board.rows)  # rows moved whole
    header.click()
    assert column_values() == sorted(rendered, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"

    assert browser.find_elements(By.CSS_SELECTOR, ".charts svg"), "no before/after chart for visual-prior + acpo"
    assert_quiet_self_contained_page(browser, page)

    shot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    keep = os.environ.get("ACPO_BENCH_SCREENSHOTS")
    if keep:  # a place to look at it (CI artifacts, a developer's eyes)
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
