"""OOXML contract: clean documents pass; every attack sample comes out clean by oletools' own
verdict (olevba, msodde, oleobj) and by our inspector, and still holds its text; bombs, entity
bombs and corrupt packages are blocked with a code."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pptx
import pytest
from oletools import msodde, oleobj
from oletools.olevba import VBA_Parser
from oletools.ooxml import XmlParser

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

TEXT = ["令和8年度 予算要求書 ①㈱ 髙橋", "The quick brown fox jumps over the lazy dog.", "第2段落 ～ テスト"]


def has_vba(path: Path) -> bool:
    parser = VBA_Parser(str(path))
    try:
        return bool(parser.detect_vba_macros())
    finally:
        parser.close()


def dde_links(path: Path) -> str:
    return str(msodde.process_file(str(path), msodde.FIELD_FILTER_BLACKLIST)).strip()


def external_relationships(path: Path) -> list[tuple[str, str]]:
    return list(oleobj.find_external_relationships(XmlParser(str(path))))


def outside_judges_say_clean(path: Path) -> None:
    assert not has_vba(path)
    assert dde_links(path) == ""
    assert external_relationships(path) == []


def word_text(path: Path) -> list[str]:
    return [p.text for p in docx.Document(str(path)).paragraphs if p.text]


def convert(samples: Path, tmp_path: Path, name: str) -> tuple[Path, set[str], str]:
    report = run_engine(samples / name, tmp_path)
    assert report.outcome == "sanitized", report.reason
    [output] = report.outputs
    result = tmp_path / output.path
    assert inspect_file(result, tmp_path).clean
    outside_judges_say_clean(result)
    return result, {f.code for f in report.findings}, output.type


def test_clean_documents_pass_unchanged_in_text(samples: Path, tmp_path: Path) -> None:
    for name in ("docx-clean.docx", "xlsx-clean.xlsx", "pptx-clean.pptx"):
        report = run_engine(samples / name, tmp_path / name)
        assert report.outcome == "passed" and report.findings == [], name
        assert inspect_file(tmp_path / name / report.outputs[0].path, tmp_path).clean
    assert word_text(tmp_path / "docx-clean.docx" / "docx-clean.docx") == TEXT


@pytest.mark.parametrize(("sample", "extension", "code"), [
    ("docm-macro.docm", "docx", "vba_macro_removed"),
    ("xlsm-macro.xlsm", "xlsx", "vba_macro_removed"),
    ("pptm-macro.pptm", "pptx", "vba_macro_removed"),
])
def test_macro_documents_become_macro_free(samples: Path, tmp_path: Path, sample: str, extension: str,
                                           code: str) -> None:
    assert has_vba(samples / sample)  # the outside judge sees the macro in the original
    result, codes, mime = convert(samples, tmp_path, sample)
    assert result.suffix == f".{extension}" and "macroEnabled" not in mime
    assert {code, "macro_enabled_type_converted"} <= codes
    with zipfile.ZipFile(result) as package:
        types = package.read("[Content_Types].xml").decode()
        assert "macroEnabled" not in types and "vbaProject" not in types
        assert not [n for n in package.namelist() if "vbaProject" in n]


def test_follina_external_ole_link_is_removed(samples: Path, tmp_path: Path) -> None:
    assert external_relationships(samples / "docx-follina.docx")
    result, codes, _ = convert(samples, tmp_path, "docx-follina.docx")
    assert "external_object_removed" in codes
    assert word_text(result)[-3:] == TEXT


def test_remote_template_is_removed(samples: Path, tmp_path: Path) -> None:
    assert external_relationships(samples / "docx-remote-template.docx")
    result, codes, _ = convert(samples, tmp_path, "docx-remote-template.docx")
    assert "remote_template_removed" in codes
    with zipfile.ZipFile(result) as package:
        assert b"attachedTemplate" not in package.read("word/settings.xml")
    assert word_text(result) == TEXT


def test_dde_fields_lose_their_instructions_but_keep_results(samples: Path, tmp_path: Path) -> None:
    assert "DDEAUTO" in dde_links(samples / "docx-ddeauto.docx")
    result, codes, _ = convert(samples, tmp_path, "docx-ddeauto.docx")
    assert "dde_field_removed" in codes
    with zipfile.ZipFile(result) as package:
        body = package.read("word/document.xml").decode()
    assert "DDE result" in body and "field result" in word_text(result)


def test_embedded_package_and_activex_leave_a_placeholder(samples: Path, tmp_path: Path) -> None:
    for sample, code in (("docx-embedded-package.docx", "embedded_object_removed"),
                         ("docx-activex.docx", "activex_removed")):
        result, codes, _ = convert(samples, tmp_path / sample, sample)
        assert code in codes
        with zipfile.ZipFile(result) as package:
            names = package.namelist()
            assert not [n for n in names if "embeddings" in n or "activeX" in n]
        if code == "embedded_object_removed":
            assert any("embedded object removed" in line for line in word_text(result))


def test_excel_dde_and_external_links(samples: Path, tmp_path: Path) -> None:
    result, codes, _ = convert(samples, tmp_path / "dde", "xlsx-dde.xlsx")
    assert "excel_external_formula_removed" in codes
    with zipfile.ZipFile(result) as package:
        sheet = package.read("xl/worksheets/sheet1.xml").decode()
    assert "cmd|" not in sheet and "B1*2" in sheet  # the harmless formula stays
    result, codes, _ = convert(samples, tmp_path / "ext", "xlsx-external-link.xlsx")
    assert {"external_link_removed", "excel_external_formula_removed"} <= codes
    with zipfile.ZipFile(result) as package:
        assert not [n for n in package.namelist() if "externalLink" in n]
        assert b"externalReferences" not in package.read("xl/workbook.xml")


def test_powerpoint_text_survives(samples: Path, tmp_path: Path) -> None:
    result, _, _ = convert(samples, tmp_path, "pptm-macro.pptm")
    slide = pptx.Presentation(str(result)).slides[0]
    assert [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame] == TEXT[:2]


@pytest.mark.parametrize(("sample", "code"), [
    ("docx-entity-bomb.docx", "xml_dtd_forbidden"),
    ("docx-zip-bomb.docx", "decompression_bomb"),
    ("docx-corrupt.docx", "corrupt_file"),
])
def test_hostile_packages_are_blocked(samples: Path, tmp_path: Path, sample: str, code: str) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", code)
    assert not list(tmp_path.rglob("*.docx"))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is installed by scripts/setup.sh")
def test_rebuilt_documents_open_in_libreoffice_with_their_text(samples: Path, tmp_path: Path) -> None:
    word, _, _ = convert(samples, tmp_path / "w", "docm-macro.docm")
    sheet, _, _ = convert(samples, tmp_path / "x", "xlsm-macro.xlsm")
    profile = tmp_path / "profile"
    for source, target in ((word, "txt:Text (encoded):UTF8"), (sheet, "csv:Text - txt - csv (StarCalc):44,34,76")):
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--convert-to", target,
                        "--outdir", str(tmp_path / "lo"), str(source)], check=True, capture_output=True, timeout=120)
    text = (tmp_path / "lo" / f"{word.stem}.txt").read_text(encoding="utf-8-sig")
    assert [line for line in text.splitlines() if line] == TEXT
    table = (tmp_path / "lo" / f"{sheet.stem}.csv").read_text(encoding="utf-8")
    assert TEXT[0] in table and "1200" in table and "42" in table  # cached formula result kept


def test_excel4_macro_sheet_and_auto_open_name_are_removed(samples: Path, tmp_path: Path) -> None:
    assert "auto-run macro name in xl/workbook.xml" in inspect_file(samples / "xlsm-xlm-macro.xlsm", tmp_path).problems
    result, codes, _ = convert(samples, tmp_path, "xlsm-xlm-macro.xlsm")
    assert "excel4_macro_removed" in codes and result.suffix == ".xlsx"
    with zipfile.ZipFile(result) as package:
        workbook = package.read("xl/workbook.xml").decode()
        assert not [n for n in package.namelist() if "macrosheets" in n]
    assert "Macro1" not in workbook and "Auto_Open" not in workbook and 'name="予算"' in workbook


def test_data_connections_and_ribbon_callbacks_are_removed(samples: Path, tmp_path: Path) -> None:
    result, codes, _ = convert(samples, tmp_path, "xlsx-connections-customui.xlsx")
    assert {"data_connection_removed", "custom_ui_removed"} <= codes
    with zipfile.ZipFile(result) as package:
        names = package.namelist()
        root_rels = package.read("_rels/.rels").decode()
    assert "xl/connections.xml" not in names and not [n for n in names if n.startswith("customUI")]
    assert "extensibility" not in root_rels
