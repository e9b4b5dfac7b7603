"""The inspector is the second line: it must not share a parser bug or a rule with the converters
it checks. Its modules (the package converters/inspect/) may import only each other, the standard library
and third-party libraries — never a converter, the detection code or the gateway."""

from __future__ import annotations

import ast
from pathlib import Path

INSPECTOR = Path(__file__).resolve().parents[3] / "converters" / "inspect"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module if node.level == 0 else f".{node.module}")
    return found


def test_inspector_modules_import_no_converter_code() -> None:
    inspectors = sorted(INSPECTOR.glob("*.py"))
    assert len(inspectors) >= 8  # outputs, image, kind, odf, odf_package, ooxml, ooxml_xml, ...
    for path in inspectors:
        for module in imported_modules(path):
            assert not module.startswith("."), f"{path.name} uses a relative import: {module}"
            if module.startswith(("converters", "gateway")):
                assert module.startswith("converters.inspect."), f"{path.name} imports {module}"


def test_the_check_itself_catches_a_converter_import(tmp_path: Path) -> None:
    sample = tmp_path / "inspect_bad.py"
    sample.write_text("from converters.formats.ooxml.fields import field_allowed\nimport converters.detect\n")
    assert imported_modules(sample) == {"converters.formats.ooxml.fields", "converters.detect"}
