from __future__ import annotations

from pathlib import Path

import pytest

from converters.detect import detect, extension_agrees
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
