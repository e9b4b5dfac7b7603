from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from converters.detect import detect, extension_agrees
from converters.ooxml_package import MACRO_FREE_PACKAGE
from tests.conftest import run_engine


@pytest.mark.parametrize(("sample", "mime", "blocked"), [
    ("pdf-clean.pdf", "application/pdf", None),
    ("exe-stub.exe", "application/x-dosexec", "executable"),
    ("exe-renamed.pdf", "application/x-dosexec", "executable"),
    ("elf-stub.bin", "application/x-executable", "executable"),
    ("lnk-stub.lnk", "application/x-ms-shortcut", "shortcut"),
    ("one-stub.one", "application/onenote", "onenote"),
    ("chm-stub.chm", "application/vnd.ms-htmlhelp", "chm"),
    ("iso-stub.iso", "application/x-iso9660-image", "disk_image"),
    ("vhd-stub.vhd", "application/x-vhd", "disk_image"),
    ("jar-stub.jar", "application/java-archive", "java_archive"),
    ("svg-script.svg", "image/svg+xml", "svg"),
    ("html-disguised.txt", "text/html", None),
    ("zip-mixed.zip", "application/zip", None),
    ("7z-clean.7z", "application/x-7z-compressed", None),
    ("tar-gz-clean.tar.gz", "application/gzip", None),
    ("png-trailing-zip.png", "image/png", None),
])
def test_type_comes_from_content(samples: Path, sample: str, mime: str, blocked: str | None) -> None:
    detection = detect(samples / sample)
    assert (detection.type, detection.blocked_code) == (mime, blocked)


def test_unknown_binary_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "unknown-binary.dat", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "unsupported_type")


def test_extension_disagreeing_with_content_is_a_finding(samples: Path, tmp_path: Path) -> None:
    assert not extension_agrees("photo.jpg", "image/png")
    assert extension_agrees("photo.JPEG", "image/jpeg")
    copy = tmp_path / "photo.jpg"
    copy.write_bytes((samples / "png-clean.png").read_bytes())
    report = run_engine(copy, tmp_path / "out")
    assert "extension_mismatch" in {f.code for f in report.findings}
    assert report.outputs[0].path == "photo.png"


@pytest.mark.parametrize(("content", "code"), [
    (b"From: a@example.com\nTo: b@example.jp\nSubject: x\nMIME-Version: 1.0\n\nbody\n", "mail_message"),
    (b"From sender@example.com Sat Jan  3 01:05:34 1996\nReceived: from x\nSubject: y\n\nz\n",
     "mail_message"),
    (b"see attached\nbegin 644 invoice.exe\nM35J0``,````$````__\\``+@`````\n`\nend\n", "encoded_attachment"),
])
def test_text_carrying_mail_or_encoded_files_is_blocked(tmp_path: Path, content: bytes, code: str) -> None:
    source = tmp_path / "note.txt"
    source.write_bytes(content)
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", code)


def test_plain_prose_mentioning_headers_is_still_text(tmp_path: Path) -> None:
    source = tmp_path / "memo.txt"
    source.write_bytes("議事録\nSubject: 予算について話し合った\n出席者 5名\n".encode())
    assert run_engine(source, tmp_path / "out").outcome == "passed"


# --- Office packages: the kind comes from the main part's content type, as Office reads it

OFFICE = Path(__file__).resolve().parents[1] / "fixtures" / "office"
_DOC = "application/vnd.openxmlformats-officedocument"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
PACKAGE_RELS = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="{type}" Target="{target}"/></Relationships>')
OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


@pytest.mark.parametrize(("fixture", "mime"), [
    ("poi-testPPT.ppsx", f"{_DOC}.presentationml.slideshow"),
    ("poi-testPPT.ppsm", "application/vnd.ms-powerpoint.slideshow.macroEnabled.12"),
    ("poi-test.xltx", f"{_DOC}.spreadsheetml.template"),
    ("openxmlsdk-macro.xltm", "application/vnd.ms-excel.template.macroEnabled.12"),
    ("openxmlsdk-macro-enabled.dotm", "application/vnd.ms-word.template.macroEnabled.12"),
    ("openxmlsdk-BingoSheet.dotx", f"{_DOC}.wordprocessingml.template"),
    ("openxmlsdk-macro-enabled.potm", "application/vnd.ms-powerpoint.template.macroEnabled.12"),
    ("poi-Simple.xlsb", "application/vnd.ms-excel.sheet.binary.macroEnabled.12"),
])
def test_office_made_packages_are_their_kind(fixture: str, mime: str) -> None:
    assert detect(OFFICE / fixture).type == mime


def _package(path: Path, types: str, main: str, extra: dict[str, bytes] | None = None,
             rel_type: str = OFFICE_DOCUMENT) -> Path:
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", f'<Types xmlns="{CONTENT_TYPES_NS}">{types}</Types>')
        package.writestr("_rels/.rels", PACKAGE_RELS.format(type=rel_type, target=main))
        package.writestr(main.lstrip("/"), b"<x/>")
        for name, data in (extra or {}).items():
            package.writestr(name, data)
    return path


def test_xlsb_main_part_typed_by_its_extension_default(tmp_path: Path) -> None:
    # Excel writes the binary workbook's type as a Default for ".bin", with no Override
    types = ('<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
             '<Default Extension="xml" ContentType="application/xml"/>')
    found = detect(_package(tmp_path / "book.xlsb", types, "xl/workbook.bin"))
    assert found.type == "application/vnd.ms-excel.sheet.binary.macroEnabled.12"


def test_template_kind_whatever_the_attribute_order_and_letter_case(tmp_path: Path) -> None:
    types = (f'<Override ContentType="{_DOC.upper()}.WordprocessingML.Template.Main+XML" '
             'PartName="/Word/Document.xml"/>')
    found = detect(_package(tmp_path / "letter.dotx", types, "word/document.xml"))
    assert found.type == f"{_DOC}.wordprocessingml.template"


def test_main_part_is_the_one_the_package_relationship_names(tmp_path: Path) -> None:
    # a main part under another name (the relationship decides), and a decoy at the usual place
    types = (f'<Override PartName="/word/document2.xml" ContentType="{_DOC}.wordprocessingml.template.main+xml"/>'
             f'<Override PartName="/word/document.xml" ContentType="{_DOC}.wordprocessingml.document.main+xml"/>')
    path = _package(tmp_path / "t.dotx", types, "/word/document2.xml", {"word/document.xml": b"<x/>"})
    assert detect(path).type == f"{_DOC}.wordprocessingml.template"


def test_strict_relationship_type_names_the_main_part(tmp_path: Path) -> None:
    types = f'<Override PartName="/ppt/presentation.xml" ContentType="{_DOC}.presentationml.slideshow.main+xml"/>'
    path = _package(tmp_path / "show.ppsx", types, "ppt/presentation.xml",
                    rel_type="http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument")
    assert detect(path).type == f"{_DOC}.presentationml.slideshow"


@pytest.mark.parametrize(("types", "main"), [
    (f'<Override PartName="/word/document.xml" ContentType="{_DOC}.wordprocessingml.document.main+xml"/>',
     "../word/document.xml"),  # the main part named outside the package
    ('<Override PartName="/word/document.xml" ContentType="application/xml"/>', "word/document.xml"),
    ('<!DOCTYPE Types [<!ENTITY t "x">]>', "word/document.xml"),
])
def test_package_without_a_known_main_part_is_generic(tmp_path: Path, types: str, main: str) -> None:
    path = tmp_path / "odd.docx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", types if types.startswith("<!") else
                         f'<Types xmlns="{CONTENT_TYPES_NS}">{types}</Types>')
        package.writestr("_rels/.rels", PACKAGE_RELS.format(type=OFFICE_DOCUMENT, target=main))
        package.writestr("word/document.xml", b"<x/>")
    assert detect(path).type == "application/vnd.openxmlformats-package"


def test_macro_free_kind_keeps_templates_and_slide_shows() -> None:
    assert MACRO_FREE_PACKAGE["application/vnd.ms-word.template.macroEnabled.12"] == f"{_DOC}.wordprocessingml.template"
    assert MACRO_FREE_PACKAGE["application/vnd.ms-powerpoint.slideshow.macroEnabled.12"] == \
        f"{_DOC}.presentationml.slideshow"
    assert MACRO_FREE_PACKAGE["application/vnd.ms-excel.sheet.binary.macroEnabled.12"] == f"{_DOC}.spreadsheetml.sheet"
    assert all(kind.startswith(_DOC) for kind in MACRO_FREE_PACKAGE.values())


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice comes from scripts/setup.sh")
@pytest.mark.parametrize(("sample", "target", "mime"), [
    ("docx-clean.docx", "dotx:MS Word 2007 XML Template", f"{_DOC}.wordprocessingml.template"),
    ("xlsx-clean.xlsx", "xltx:Calc MS Excel 2007 XML Template", f"{_DOC}.spreadsheetml.template"),
    ("pptx-clean.pptx", "potx:Impress MS PowerPoint 2007 XML Template", f"{_DOC}.presentationml.template"),
])
def test_libreoffice_made_templates_are_templates(samples: Path, tmp_path: Path, sample: str, target: str,
                                                 mime: str) -> None:
    made = libreoffice_convert(samples / sample, target, tmp_path)
    assert detect(made).type == mime


def libreoffice_convert(source: Path, target: str, work: Path) -> Path:
    """``soffice --convert-to`` in a throw-away profile; the converted file."""
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{work}/profile",
                    "--convert-to", target, "--outdir", str(work / "made"), str(source)],
                   check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(work)})
    return work / "made" / f"{source.stem}.{target.split(':', 1)[0]}"


def test_an_ole_header_with_impossible_sector_sizes_is_damaged_not_a_memory_error(samples: Path,
                                                                                   tmp_path: Path) -> None:
    """Found by fuzzing: a sector shift of 41 made olefile allocate a 2 TB sector (MemoryError)."""
    import struct

    from tests.conftest import run_engine

    data = bytearray((samples / "doc-legacy.doc").read_bytes())
    struct.pack_into("<H", data, 30, 41)
    damaged = tmp_path / "damaged.doc"
    damaged.write_bytes(bytes(data))
    report = run_engine(damaged, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "sector sizes" in (report.reason or "")


@pytest.mark.parametrize(("content", "mime"), [
    (b"1", "text/plain"), (b"a", "text/plain"), (b"\n", "text/plain"),
    (b"\x00", "application/octet-stream"), (b"\xff", "application/octet-stream"), (b"<", "application/octet-stream")])
def test_a_file_of_one_byte_is_text_only_when_that_byte_is_plain(tmp_path: Path, content: bytes, mime: str) -> None:
    # libmagic calls any one-byte file data, so a note holding "1" was blocked as an unknown binary
    path = tmp_path / "note.txt"
    path.write_bytes(content)
    assert detect(path).type == mime
