"""The repository stands alone: a user who clones it gets everything the code, the tests, the
samples and the scripts read. No tracked file may refer to a path outside the repository (a
sibling directory next to the clone, ``Path(__file__).parents[N]`` climbing above the root, an
absolute path on a developer's machine), and every document a file cites must be in the tree."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = frozenset({".git", ".venv", "__pycache__", "data", "out", ".mypy_cache", ".ruff_cache",
                        ".pytest_cache"})

# a sibling directory or a developer's machine: never part of a clone (a Windows path inside a
# file: URL, C:/Users/..., is test data, not a place on this machine)
OUTSIDE = re.compile(r"\.\.[\\/]+shared\b|(?<![\w.~:-])/(?:work|home|Users)/[\w.-]")
# Path(__file__)[.resolve()|.absolute()] followed by .parent / .parents[N] / "..", in any mix
PY_ANCESTOR = re.compile(r"""__file__\s*\)(?:\s*\.\s*(?:resolve|absolute)\(\s*\))?"""
                         r"""((?:\s*\.\s*parent\b(?!s)|\s*\.\s*parents\s*\[\s*\d+\s*\]|\s*/\s*["']\.\.["'])+)""")
PY_STEP = re.compile(r"""\.\s*parents\s*\[\s*(\d+)\s*\]|\.\s*parent\b|["']\.\.["']""")
# os.path.dirname(os.path.dirname(__file__)) ...
PY_DIRNAME = re.compile(r"((?:(?:os\.path\.)?dirname\(\s*)+)(?:(?:os\.path\.)?(?:abspath|realpath)\(\s*)?__file__")
# "$(dirname "${BASH_SOURCE[0]}")/../.." and "$(dirname "$0")/.."
SHELL_ANCESTOR = re.compile(r"""dirname\s+"?\$(?:\{BASH_SOURCE(?:\[0\])?\}|0|BASH_SOURCE)"?\s*\)"?((?:/\.\.)*)""")
CITED_DOCUMENT = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[A-Z][A-Z_]*\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
# a path of the tree named in docs/ (`gateway/spool/`, `tests/gateway/`) must exist: the docs move with the code
DOCS_PATH = re.compile(r"`((?:gateway|converters|tests|samples|scripts|bench|deploy|docs)/[\w./-]*)`")


def tracked_files() -> list[str]:
    """The files a clone gets (``git ls-files``); without git, the source tree as it is."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        names = [name for name in listing.decode("utf-8").split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for directory, folders, files in os.walk(ROOT):
            folders[:] = [f for f in folders if f not in NOT_SOURCE and not f.endswith(".egg-info")]
            names += [str((Path(directory) / f).relative_to(ROOT)) for f in files]
    return sorted(name for name in names if (ROOT / name).is_file())


def _depth(relative: str) -> int:
    """How many directories the file is below the root (``samples/x.py``: 1)."""
    return len(PurePosixPath(relative).parts) - 1


def _climbs_above(relative: str, ancestor: int) -> bool:
    """``ancestor`` 1 is the file's own directory; the root is ancestor depth + 1."""
    return ancestor > _depth(relative) + 1


def _python_ancestors(text: str) -> list[tuple[int, str]]:
    found = []
    for match in PY_ANCESTOR.finditer(text):
        steps = 0
        for step in PY_STEP.finditer(match.group(1)):
            steps += int(step.group(1)) + 1 if step.group(1) is not None else 1
        found.append((steps, match.group(0)))
    for match in PY_DIRNAME.finditer(text):
        found.append((match.group(1).count("dirname("), match.group(0)))
    return found


def _inside(relative: str, target: str, base: PurePosixPath) -> bool:
    """Whether ``target`` (relative to ``base``, a directory under the root) stays in the tree."""
    level = len(base.parts)
    for part in PurePosixPath(target).parts:
        level += -1 if part == ".." else 0 if part == "." else 1
        if level < 0:
            return False
    return True


def _resolve(base: PurePosixPath, target: str) -> str:
    parts: list[str] = []
    for part in (*base.parts, *PurePosixPath(target).parts):
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def problems(relative: str, text: str, tracked: frozenset[str]) -> list[str]:
    """Every reference in ``text`` (the file ``relative`` of the repository) that a clone could
    not follow."""
    found = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        match = OUTSIDE.search(line)
        if match:
            found.append(f"{relative}:{line_number}: refers outside the repository ({match.group(0)!r})")
    if relative.endswith(".py"):
        for ancestor, expression in _python_ancestors(text):
            if _climbs_above(relative, ancestor):
                found.append(f"{relative}: {expression!r} climbs above the repository root")
    if relative.endswith(".sh") or text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/sh"):
        for match in SHELL_ANCESTOR.finditer(text):
            if _climbs_above(relative, 1 + match.group(1).count("/..")):
                found.append(f"{relative}: {match.group(0)!r} climbs above the repository root")
    base = PurePosixPath(relative).parent
    if relative.endswith(".md"):
        for link in MARKDOWN_LINK.findall(text):
            if "://" in link or link.startswith("mailto:"):
                continue
            if link.startswith("/") or not _inside(relative, link, base):
                found.append(f"{relative}: link {link!r} leaves the repository")
            elif not _cites_tracked(_resolve(base, link), tracked):
                found.append(f"{relative}: link {link!r} names nothing in the repository")
        if relative.startswith("docs/"):
            found += [f"{relative}: names {path}, which is not in the repository" for path in DOCS_PATH.findall(text)
                      if not _cites_tracked(path, tracked)]
    else:
        for cited in CITED_DOCUMENT.findall(text):
            if cited not in tracked:
                found.append(f"{relative}: cites {cited}, which is not in the repository (docs/... ?)")
    return found


def _cites_tracked(path: str, tracked: frozenset[str]) -> bool:
    return path in tracked or any(name.startswith(path.rstrip("/") + "/") for name in tracked)


def test_no_tracked_file_refers_outside_the_repository() -> None:
    files = tracked_files()
    assert "README.md" in files and "pyproject.toml" in files  # the listing really is the tree
    tracked = frozenset(files)
    found = []
    for relative in files:
        data = (ROOT / relative).read_bytes()
        if b"\0" in data:
            continue  # binary (the VBA fixture)
        found += problems(relative, data.decode("utf-8", "replace"), tracked)
    assert not found, "\n".join(found)


def test_the_documents_the_code_cites_are_in_the_repository() -> None:
    for document in ("docs/CONTRACT.md", "docs/ARCHITECTURE.md", "samples/fixtures/README.md"):
        assert (ROOT / document).is_file(), document
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/CONTRACT.md" in readme and "docs/ARCHITECTURE.md" in readme


# the checker itself: each kind of reference a clone cannot follow is caught, and what is fine passes
# (the examples are split so that this file's own text does not contain them)
TRACKED = frozenset({"README.md", "docs/CONTRACT.md", "samples/fixtures/vbaProject.bin", "samples/office_samples.py"})
CLIMB = "Path(__file__).resolve()"
MD = ".md"  # document names are written with it, so that this file cites none itself


@pytest.mark.parametrize(("relative", "text"), [
    ("samples/office_samples.py", f'FIXTURE = {CLIMB}.parents[2] / "sha' 'red" / "fixtures" / "vbaProject.bin"\n'),
    ("samples/office_samples.py", f"FIXTURE = {CLIMB}.parent.parent.parent / 'x'\n"),
    ("samples/office_samples.py", f'FIXTURE = {CLIMB}.parents[1] / ".." / "x"\n'),
    ("tests/converters/test_x.py", f"HERE = {CLIMB}.parents[3]\n"),
    ("bench/b.py", "ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file" "__))))\n"),
    ("tests/conftest.py", 'FIXTURES = ROOT / ".' './shared/fixtures"\n'),
    ("scripts/x.sh", 'root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.' '." && pwd)"\n'),
    ("tests/test_x.py", 'DATA = Path("/wo' 'rk/shared/fixtures")\n'),
    ("gateway/cli/main.py", f'"""The command line (see CONTRACT{MD})."""\n'),
    ("docs/ARCHITECTURE.md", f"See [the contract](../../CONTRACT{MD}).\n"),
    ("docs/ARCHITECTURE.md", f"See [the design](DESIGN{MD}).\n"),
    ("docs/ARCHITECTURE.md", "The spool is `gateway/spool/queues.py`.\n"),
])
def test_references_outside_the_repository_are_caught(relative: str, text: str) -> None:
    assert problems(relative, text, TRACKED)


@pytest.mark.parametrize(("relative", "text"), [
    ("samples/office_samples.py", f'FIXTURE = {CLIMB}.parent / "fixtures" / "vbaProject.bin"\n'),
    ("tests/conftest.py", f"ROOT = {CLIMB}.parent.parent\n"),
    ("tests/converters/test_x.py", f"ROOT = {CLIMB}.parents[2]\n"),
    ("scripts/test.sh", 'root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"\n'),
    ("gateway/cli/main.py", f'"""The command line (see docs/CONTRACT{MD} and README{MD})."""\n'),
    ("docs/ARCHITECTURE.md", f"See [the contract](CONTRACT{MD}) and [the README](../README{MD}).\n"),
    ("docs/ARCHITECTURE.md", "Samples: `samples/office_samples.py`, `samples/fixtures/`, `samples/out/<name>`.\n"),
    ("tests/gateway/sandbox/test_runner.py", "for p in ['/etc/shadow', '/root/.bashrc']: ...\n"),
    ("tests/converters/test_names.py", '("../../etc/passwd", "etc/passwd"),\n'),
])
def test_references_inside_the_repository_pass(relative: str, text: str) -> None:
    assert problems(relative, text, TRACKED) == []
