"""tests/requires.py: a missing requirement fails in CI and skips with its reason elsewhere."""

from __future__ import annotations

import pytest

from tests.requires import in_ci, unavailable


@pytest.mark.parametrize(("value", "ci"), [("true", True), ("1", True), ("yes", True), ("", False), ("false", False),
                                           ("0", False)])
def test_ci_is_read_from_the_environment(value, ci, monkeypatch):
    monkeypatch.setenv("CI", value)
    assert in_ci() is ci


def test_missing_requirement_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"shared/data/x\.json is missing: copy it \(CI must have it"):
        unavailable("shared/data/x.json", "copy it")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"^shared/data/x\.json is missing: copy it$"):
        unavailable("shared/data/x.json", "copy it")
