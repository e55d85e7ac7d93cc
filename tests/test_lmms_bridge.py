"""The lmms-eval bridge, run in its own venv (.venv-lmms, built by `make lmms-venv`: lmms-eval 0.7.3 pins av<16 and
needs filelock<4, so it never enters the main environment). The checks themselves are tests/lmms_checks/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / os.environ.get("LMMS_VENV", ".venv-lmms")


@pytest.mark.slow
def test_lmms_bridge_in_its_own_venv(tmp_path):
    # make builds the venv once (and again only when setup.cfg changes); nothing here is skipped
    subprocess.run(["make", "-s", "lmms-venv", f"LMMS_VENV={VENV}"], cwd=ROOT, check=True)
    env = {**os.environ, "ACPO_BENCH_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([str(VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "lmms_checks" / "check_bridge.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "2 passed" in proc.stdout
