"""Where acpo-bench keeps generated data and builds: $ACPO_BENCH_CACHE, else ~/.cache/acpo-bench."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    root = os.environ.get("ACPO_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "acpo-bench")
    return Path(root)
