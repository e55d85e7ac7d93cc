"""staged_directory: a dataset folder appears whole or not at all."""

from __future__ import annotations

import pytest

from acpo_bench.paths import staged_directory


def test_a_finished_block_publishes_the_folder(tmp_path):
    output = tmp_path / "world"
    output.mkdir()  # an empty folder made by the user is replaced
    with staged_directory(output) as staging:
        (staging / "manifest.txt").write_text("ok")
        assert not (output / "manifest.txt").exists()
    assert (output / "manifest.txt").read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir()] == ["world"]


def test_a_failed_block_leaves_nothing_behind(tmp_path):
    output = tmp_path / "nested" / "world"
    with pytest.raises(KeyboardInterrupt), staged_directory(output) as staging:
        (staging / "half.txt").write_text("half")
        raise KeyboardInterrupt
    assert not output.exists()
    assert list(output.parent.iterdir()) == []
