"""Legacy binary Office, RTF and encrypted Office: never passed as they are; converted by
LibreOffice (in the sandbox in production) to macro-free OOXML and rebuilt, or rasterised."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import docx
import pytest
from oletools import rtfobj
from oletools.olevba import VBA_Parser

from converters.engine import FRAMES_FILE
from converters.inspect.outputs import inspect_file
from gateway.pipeline.raster_pdf import assemble
from tests.conftest import run_engine

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice comes from scripts/setup.sh")
TEXT = ["令和8年度 予算要求書 ①㈱ 髙橋", "The quick brown fox jumps over the lazy dog.", "第2段落 ～ テスト"]


def test_xls_with_vba_becomes_macro_free_xlsx(samples: Path, tmp_path: Path) -> None:
    assert VBA_Parser(str(samples / "xls-macro.xls")).detect_vba_macros()
    report = run_engine(samples / "xls-macro.xls", tmp_path)
    assert report.outcome == "sanitized"
    assert {"legacy_format_converted", "vba_macro_removed"} <= {f.code for f in report.findings}
    output = tmp_path / report.outputs[0].path
    assert output.suffix == ".xlsx"
    assert not VBA_Parser(str(output)).detect_vba_macros()
    assert inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert "予算要求書" in package.read("xl/sharedStrings.xml").decode()


@pytest.mark.parametrize(("sample", "suffix"), [("doc-legacy.doc", ".docx"), ("ppt-legacy.ppt", ".pptx")])
def test_legacy_documents_are_never_passed_as_ole(samples: Path, tmp_path: Path, sample: str, suffix: str) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert report.outcome == "sanitized" and report.outputs[0].path.endswith(suffix)
    output = tmp_path / report.outputs[0].path
    assert zipfile.is_zipfile(output) and inspect_file(output, tmp_path).clean
    if suffix == ".docx":
        assert [p.text for p in docx.Document(str(output)).paragraphs if p.text] == TEXT


def test_rtf_object_is_removed(samples: Path, tmp_path: Path) -> None:
    parser = rtfobj.RtfObjParser((samples / "rtf-object.rtf").read_bytes())
    parser.parse()
    assert parser.objects  # the outside judge sees the object in the original
    report = run_engine(samples / "rtf-object.rtf", tmp_path)
    assert "embedded_object_removed" in {f.code for f in report.findings}
    output = tmp_path / report.outputs[0].path
    assert output.suffix == ".docx" and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert not [n for n in package.namelist() if "embeddings" in n]
    assert any("sample text" in p.text for p in docx.Document(str(output)).paragraphs)


def test_excel_default_password_is_sanitised_and_real_passwords_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "xlsx-default-password.xlsx", tmp_path / "a")
    assert report.outcome == "sanitized" and "default_password_removed" in {f.code for f in report.findings}
    assert inspect_file(tmp_path / "a" / report.outputs[0].path, tmp_path).clean
    blocked = run_engine(samples / "docx-password.docx", tmp_path / "b")
    assert (blocked.outcome, blocked.reason_code) == ("blocked", "password_protected")


@pytest.mark.parametrize("sample", ["docx-clean.docx", "xls-macro.xls", "rtf-object.rtf"])
def test_office_rasterised_through_libreoffice(samples: Path, tmp_path: Path, sample: str) -> None:
    report = run_engine(samples / sample, tmp_path / "out", "rasterize")
    assert report.outcome == "sanitized", report.reason
    with (tmp_path / "out" / FRAMES_FILE).open("rb") as stream:
        built = assemble(stream, tmp_path / "raster", max_pixels=50_000_000, max_pages=100)
    assert built == [report.outputs[0].path]
    assert inspect_file(tmp_path / "raster" / built[0], tmp_path).clean


def test_japanese_text_renders_with_cjk_fonts(samples: Path, tmp_path: Path) -> None:
    """LibreOffice's PDF (the rasteriser's input) uses a Japanese font, so the pixels show text, not tofu."""
    import subprocess

    from converters.formats.libreoffice import convert_with_libreoffice

    pdf = convert_with_libreoffice(samples / "docx-clean.docx", "pdf", tmp_path, suffix=".docx")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert any(name in fonts for name in ("Noto", "IPA", "Takao", "VL")), fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "令和8年度予算要求書①㈱髙橋" in "".join(text.split())  # pdftotext spaces digits from kanji


def test_svg_is_accepted_only_as_pixels(samples: Path, tmp_path: Path) -> None:
    blocked = run_engine(samples / "svg-script.svg", tmp_path / "rebuild")
    assert (blocked.outcome, blocked.reason_code) == ("blocked", "svg")
    report = run_engine(samples / "svg-script.svg", tmp_path / "out", "rasterize")
    assert report.outcome == "sanitized"
    with (tmp_path / "out" / FRAMES_FILE).open("rb") as stream:
        built = assemble(stream, tmp_path / "raster", max_pixels=50_000_000, max_pages=10)
    assert inspect_file(tmp_path / "raster" / built[0], tmp_path).clean


REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"


@pytest.mark.parametrize("data", [(REGRESSIONS / "9c2d3d72d413-legacy.bin").read_bytes(),
                                  b"{\\rtf1\\ansi \\u12354? text cut off here\\",
                                  b"{\\rtf1 {\\" + b"x" * 300 + b" text}}"], ids=["fuzz", "cut", "long-word"])
def test_rtf_that_rtfobj_cannot_read_is_corrupt_file(tmp_path: Path, data: bytes) -> None:
    """rtfobj raised RuntimeError ("Should not have reached this point") and the file ended as
    converter_crashed."""
    with pytest.raises(RuntimeError):
        rtfobj.RtfObjParser(data).parse()
    src = tmp_path / "in.rtf"
    src.write_bytes(data)
    report = run_engine(src, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert report.reason is not None and "RTF document is malformed" in report.reason


def _word_fib(src: Path, target: Path, *, ident: int | None = None) -> Path:
    """``src`` with its FIB marked encrypted with XOR obfuscation (fEncrypted, fObfuscation), as
    Word 97 writes a document protected that way; ``ident`` replaces wIdent."""
    import struct

    import olefile

    shutil.copyfile(src, target)
    with olefile.OleFileIO(str(target), write_mode=True) as ole:
        stream = bytearray(ole.openstream("WordDocument").read())
        flags = struct.unpack_from("<H", stream, 0x0A)[0] | 0x0100 | 0x8000
        struct.pack_into("<H", stream, 0x0A, flags)
        struct.pack_into("<I", stream, 0x0E, 0x1234)  # IKey: the password verifier
        if ident is not None:
            struct.pack_into("<H", stream, 0, ident)
        ole.write_stream("WordDocument", bytes(stream))
    return target


def test_word_xor_obfuscation_is_password_protected_and_a_damaged_header_corrupt(samples: Path,
                                                                                   tmp_path: Path) -> None:
    """msoffcrypto has no decryptor for Word's XOR obfuscation: its decrypt raised AttributeError
    ('Doc97File' object has no attribute 'type') and the file ended as converter_crashed."""
    obfuscated = _word_fib(samples / "doc-legacy.doc", tmp_path / "obfuscated.doc")
    report = run_engine(obfuscated, tmp_path / "a")
    assert (report.outcome, report.reason_code) == ("blocked", "password_protected")
    assert report.reason is not None and "XOR obfuscation" in report.reason
    for name, src in (("damaged.doc", _word_fib(samples / "doc-legacy.doc", tmp_path / "damaged.doc", ident=0xFFFD)),
                      ("fuzz.doc", REGRESSIONS / "f7d57fd3167c-legacy.bin")):
        report = run_engine(src, tmp_path / f"out-{name}", name=name)
        assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file"), name
        assert report.reason == "the Word document's header is damaged: it is marked as encrypted but is not a Word " \
                                "header"
