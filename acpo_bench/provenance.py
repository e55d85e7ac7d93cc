"""What a results file records about where a number came from: versions, git commit, host, command."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("acpo-bench", "numpy", "scipy", "scikit-learn", "av", "datasets", "torch", "torchvision",
            "transformers", "peft", "accelerate", "pycocoevalcap")


def versions() -> dict[str, str]:
    """Python, the packages that touch a number, and the FFmpeg inside PyAV (it decodes every frame and sample)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import av

    out["ffmpeg"] = str(av.ffmpeg_version_info)
    return out


def git_commit() -> str | None:
    """The commit of the checkout acpo-bench runs from (with '-dirty' for uncommitted changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["acpo-bench", *sys.argv[1:]])


def host() -> str:
    return platform.node()
