"""The user's guide holds together: every relative link in README.md and docs/ (and ARCHITECTURE.md) names a file
that exists, and a heading for its #anchor; every `acpo-bench <command> [<subcommand>]` they show in code exists (its
--help exits 0); the README stays a guide (under ~200 lines)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from acpo_bench.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"acpo-bench ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold commands, not links
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not followed (no network in tests)
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading for #{anchor} in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def code(page: Path) -> str:
    """The page's code: fenced blocks and inline `spans`, where commands are shown (prose may say "acpo-bench
    version" without naming a command)."""
    text = page.read_text()
    blocks = re.findall(r"```.*?```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(blocks + spans)


def _commands() -> set[tuple[str, ...]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    found = set()
    for page in PAGES:
        for name, sub in COMMAND.findall(code(page)):
            if name not in commands:
                found.add((name,))  # an unknown command: its --help fails below, naming it
                continue
            nested = [a for a in commands[name]._actions if isinstance(a, argparse._SubParsersAction)]
            found.add((name, sub) if nested and sub else (name,))
    return found


COMMANDS = sorted(_commands())


def test_the_docs_name_the_main_commands():
    named = {c[0] for c in COMMANDS}
    assert {"eval", "train", "pipeline", "gate", "leaderboard", "view", "data", "zoo"} <= named


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_named_in_the_docs_exists(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0, f"acpo-bench {' '.join(command)} --help: {capsys.readouterr().err}"


def test_readme_is_a_guide_not_a_notebook():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 210
    first_block = readme.split("```", 2)[1]
    assert [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()] == [
        "make demo", "make test"]
