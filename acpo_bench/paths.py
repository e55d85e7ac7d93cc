"""Where acpo-bench keeps generated data and builds: $ACPO_BENCH_CACHE, else ~/.cache/acpo-bench."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    root = os.environ.get("ACPO_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "acpo-bench")
    return Path(root)


@contextmanager
def staged_directory(output: Path) -> Iterator[Path]:
    """A temporary sibling of ``output`` to write into, renamed to ``output`` when the block succeeds and removed when
    it fails, so that a dataset directory is never left half-written. ``output`` may exist only as an empty folder."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        yield staging
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
