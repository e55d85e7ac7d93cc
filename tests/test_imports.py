"""Every module imports (catches names used but never imported, and broken package_dir mappings)."""

import importlib
import pkgutil

import pytest

import acpo_bench

ROOTS = ("acpo_bench", "acpo_bench.tasks", "acpo_bench.models", "acpo_bench.training", "acpo_bench.leaderboard")


def all_modules():
    names = set()
    for root in ROOTS:
        package = importlib.import_module(root)
        names.add(root)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{root}."):
            names.add(info.name)
    return sorted(n for n in names if not n.endswith("__main__"))


@pytest.mark.parametrize("name", all_modules())
def test_module_imports(name):
    importlib.import_module(name)


def test_only_acpo_bench_is_top_level():
    assert acpo_bench.__version__
    for root in ROOTS[1:]:
        assert importlib.import_module(root).__name__ == root
