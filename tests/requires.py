"""What a test needs from the machine, said out loud: in CI (``CI`` set, as .ci/run sets it) a missing requirement
fails the test with what to install or copy, because a CI run that silently skips has tested less than it claims;
elsewhere the test is skipped with the same reason, which ``pytest -rs`` lists."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(what: str, fix: str) -> NoReturn:
    message = f"{what} is missing: {fix}"
    if in_ci():
        pytest.fail(f"{message} (CI must have it; outside CI this test is skipped)")
    pytest.skip(message)
