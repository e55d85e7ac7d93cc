"""Check the import-linter layering contract (setup.cfg) against a regular install of the package.

The top-level folders (tasks/, models/, ...) are mapped into ``acpo_bench`` by setuptools' package_dir. An editable
install resolves them through an import hook that grimp, import-linter's graph builder, does not follow; so this
stages a plain install in a temporary directory and runs lint-imports there with site hooks off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="acpo-layers-") as staged, \
            tempfile.TemporaryDirectory(prefix="acpo-layers-src-") as source:
        # installed from a copy of the tree: setuptools leaves ROOT/build/lib as it was, so a module moved or
        # deleted since an earlier build would still be installed from there and checked
        shutil.copytree(ROOT, source, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__",
                                                      ".pytest_cache", ".ruff_cache", "runs", ".whl", ".world"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", staged, source], check=True)
        site = sysconfig.get_paths()["purelib"]
        code = ("import sys; from importlinter.cli import lint_imports_command; "
                f"sys.argv = ['lint-imports', {str(ROOT / 'setup.cfg')!r}, '--no-cache']; "
                "lint_imports_command()")
        # -S: no .pth files, so the editable hook cannot shadow the staged copy; cwd=staged for the same reason
        env = {"PYTHONPATH": f"{staged}:{site}", "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, "-S", "-c", code], cwd=staged, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
