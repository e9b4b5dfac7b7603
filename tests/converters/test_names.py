from __future__ import annotations

import pytest

from converters.names import is_safe_relative_path, safe_component, safe_relative_path, split_extension, stem_of


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
