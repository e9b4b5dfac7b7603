"""The inspector's own reading of an Office package's kind (not libmagic's guess)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from converters.inspect.kind import GENERIC_PACKAGE, NotAPackage, package_kind
from converters.inspect.outputs import inspect_file

OFFICE = Path(__file__).resolve().parents[2] / "fixtures" / "office"
_DOC = "application/vnd.openxmlformats-officedocument"
TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
RELS = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{}</Relationships>')
MAIN_REL = ('<Relationship Id="r{n}" Target="{target}" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>')


@pytest.mark.parametrize(("fixture", "kind"), [
    ("poi-testPPT.ppsx", f"{_DOC}.presentationml.slideshow"),
    ("poi-test.xltx", f"{_DOC}.spreadsheetml.template"),
    ("openxmlsdk-BingoSheet.dotx", f"{_DOC}.wordprocessingml.template"),
    ("openxmlsdk-macro-enabled.potm", "application/vnd.ms-powerpoint.template.macroEnabled.12"),
    ("poi-Simple.xlsb", "application/vnd.ms-excel.sheet.binary.macroEnabled.12"),
])
def test_office_made_packages(fixture: str, kind: str) -> None:
    assert package_kind(OFFICE / fixture) == kind


def test_a_template_is_reported_as_a_template_not_as_libmagic_says(tmp_path: Path) -> None:
    # libmagic calls every Word package a document; the verdict needs the template it is
    verdict = inspect_file(OFFICE / "openxmlsdk-BingoSheet.dotx", tmp_path)
    assert verdict.type == f"{_DOC}.wordprocessingml.template"


def _package(path: Path, types: str, rels: str, parts: tuple[str, ...] = ("word/document.xml",)) -> Path:
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", f'<Types xmlns="{TYPES_NS}">{types}</Types>')
        package.writestr("_rels/.rels", RELS.format(rels))
        for part in parts:
            package.writestr(part, b"<x/>")
    return path


def test_default_content_type_for_the_main_part_extension(tmp_path: Path) -> None:
    path = _package(tmp_path / "b.xlsb", '<Default Extension="BIN" '
                    'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>',
                    MAIN_REL.format(n=1, target="xl/workbook.bin"), ("xl/workbook.bin",))
    assert package_kind(path) == "application/vnd.ms-excel.sheet.binary.macroEnabled.12"


def test_unknown_main_content_type_is_the_generic_package(tmp_path: Path) -> None:
    path = _package(tmp_path / "x.docx", '<Override PartName="/word/document.xml" ContentType="text/xml"/>',
                    MAIN_REL.format(n=1, target="/word/document.xml"))
    assert package_kind(path) == GENERIC_PACKAGE


@pytest.mark.parametrize("rels", [
    "",  # no main part named
    MAIN_REL.format(n=1, target="word/document.xml") + MAIN_REL.format(n=2, target="word/other.xml"),
    MAIN_REL.format(n=1, target="word/missing.xml"),
])
def test_no_single_present_main_part_is_not_a_package(tmp_path: Path, rels: str) -> None:
    types = f'<Override PartName="/word/document.xml" ContentType="{_DOC}.wordprocessingml.document.main+xml"/>'
    with pytest.raises(NotAPackage):
        package_kind(_package(tmp_path / "x.docx", types, rels, ("word/document.xml", "word/other.xml")))
