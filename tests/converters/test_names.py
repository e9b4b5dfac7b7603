from __future__ import annotations

import random

import pytest

from converters.names import (
    is_safe_relative_path,
    safe_component,
    safe_relative_path,
    shortened,
    split_extension,
    stem_of,
)


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "etc/passwd"),
    ("/abs/x.txt", "abs/x.txt"),
    ("C:\\Windows\\x.txt", "Windows/x.txt"),
    ("a/./b/../c.txt", "a/b/c.txt"),
    ("請求書/見積①.pdf", "請求書/見積①.pdf"),
    ("CON.txt", "_CON.txt"),
    ("invoice\u202etxt.exe", "invoicetxt.exe"),
    ("name. ", "name"),
    ("", "_"),
])
def test_safe_relative_path(name: str, expected: str) -> None:
    assert safe_relative_path(name) == expected
    assert is_safe_relative_path(expected)


@pytest.mark.parametrize("path", ["../x", "/x", "a\\b", "a/../b", "a/CON", "a//b", ""])
def test_unsafe_paths_are_recognised(path: str) -> None:
    assert not is_safe_relative_path(path)


def test_stems() -> None:
    assert stem_of("a/b/report.final.pdf") == "report.final"
    assert stem_of("x.tar.gz") == "x" and stem_of("y.tgz") == "y"
    assert stem_of(".hidden") == "hidden" and safe_component(".profile") == "profile"  # no hidden files delivered
    assert len(safe_component("あ" * 200).encode()) <= 200
    assert safe_component("../../etc") == "_.._etc"  # a component can never be a path, nor hidden
    long_stem = stem_of("あ" * 300 + ".pdf")  # room left for " (12)" and an extension
    assert long_stem == safe_component(long_stem) and len(f"{long_stem} (12).tar.gz".encode()) <= 200
    assert safe_component(f"{long_stem} (12).tar.gz") == f"{long_stem} (12).tar.gz"


@pytest.mark.parametrize(("name", "expected"), [
    ("a.pdf", ("a", "pdf")), ("report.final.PDF", ("report.final", "pdf")), ("noext", ("noext", "")),
    (".hidden", (".hidden", "")), ("evil.js. ", ("evil", "js")), ("x.settingcontent-ms", ("x", "settingcontent-ms")),
    ("_.._etc_passwd", ("_.._etc_passwd", "")),  # what follows the dot is no extension
])
def test_split_extension(name: str, expected: tuple[str, str]) -> None:
    assert split_extension(name) == expected


def test_safe_component_is_idempotent_and_keeps_extensions_when_cutting() -> None:
    assert safe_component(".\u3000report.txt") == "report.txt"  # ideographic space at an edge
    folder = safe_component("令和６年度\u3000予算要求資料\u3000財政課提出分\u3000" * 4)
    assert not folder[-1].isspace() and safe_component(folder) == folder
    assert safe_component("a" * 300 + ".js").endswith(".js") and len(safe_component("a" * 300 + ".js")) == 200
    assert shortened("b" * 300 + ".js", 255).endswith(".js") and len(shortened("b" * 300 + ".js", 255)) == 255
    generator = random.Random(7)  # noqa: S311 (a repeatable fuzz, not a secret)
    pieces = ["a", "あ", ".", " ", "\u3000", "\u200b", "\u202e", "/", "\\", "\n", ".js", "CON", "\x00", "①"]
    for _ in range(5000):
        name = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 150)))
        once = safe_component(name)
        assert safe_component(once) == once and once and len(once.encode()) <= 200, repr(name)
