"""PDF contract: a clean sample passes, dirty samples come out clean (by our inspector and by
poppler's own tools), corrupt and password-protected ones are blocked with a code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
import pytest

from converters.engine import FRAMES_FILE
from converters.inspect import inspect_file
from converters.raster_pdf import assemble
from tests.conftest import run_engine


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def poppler_javascript(path: Path) -> str:
    """pdfinfo's listing of the document's JavaScript (empty lines when there is none)."""
    result = subprocess.run(["pdfinfo", "-js", str(path)], capture_output=True, text=True, check=True)
    return "\n".join(line for line in result.stdout.splitlines() if "app." in line)


def poppler_attachments(path: Path) -> str:
    return subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True,
                          check=True).stdout


def test_clean_pdf_passes_with_its_text(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "pdf-clean.pdf", tmp_path)
    assert report.outcome == "passed" and report.findings == []
    output = tmp_path / report.outputs[0].path
    assert pdftotext(output) == pdftotext(samples / "pdf-clean.pdf")
    assert "①㈱" in pdftotext(output)
    assert inspect_file(output, tmp_path).clean


@pytest.mark.parametrize(("sample", "finding"), [
    ("pdf-javascript.pdf", "pdf_javascript_removed"),
    ("pdf-launch.pdf", "pdf_action_removed"),
    ("pdf-uri-link.pdf", "pdf_external_link_removed"),
    ("pdf-embedded-file.pdf", "pdf_embedded_file_removed"),
    ("pdf-xfa.pdf", "pdf_xfa_removed"),
    ("pdf-submitform.pdf", "pdf_action_removed"),
])
def test_dirty_pdf_comes_out_clean(samples: Path, tmp_path: Path, sample: str, finding: str) -> None:
    source = samples / sample
    assert not inspect_file(source, tmp_path).clean  # the sample really is dirty
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert finding in {f.code for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).clean
    assert poppler_javascript(output).strip() == ""
    assert poppler_attachments(output).startswith("0 embedded files")
    assert pdftotext(output) == pdftotext(samples / "pdf-clean.pdf")


def test_outside_judges_see_the_dirt_in_the_originals(samples: Path) -> None:
    assert "app.alert" in poppler_javascript(samples / "pdf-javascript.pdf")
    assert poppler_attachments(samples / "pdf-embedded-file.pdf").startswith("1 embedded files")


def test_owner_password_only_is_opened_and_written_unencrypted(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "pdf-owner-password.pdf", tmp_path)
    assert report.outcome == "sanitized"
    with pikepdf.open(tmp_path / report.outputs[0].path) as pdf:
        assert not pdf.is_encrypted


@pytest.mark.parametrize(("sample", "code"), [
    ("pdf-user-password.pdf", "password_protected"),
    ("pdf-corrupt.pdf", "corrupt_file"),
])
def test_unreadable_pdf_is_blocked(samples: Path, tmp_path: Path, sample: str, code: str) -> None:
    for method in ("rebuild", "rasterize"):
        report = run_engine(samples / sample, tmp_path / method, method)  # type: ignore[arg-type]
        assert (report.outcome, report.reason_code, report.outputs) == ("blocked", code, [])
        assert report.reason


def rasterise(source: Path, tmp_path: Path) -> Path:
    """Rasterise in-process: the engine streams pixels, the trusted half builds the PDF."""
    report = run_engine(source, tmp_path / "out", "rasterize")
    assert report.outcome == "sanitized", report.reason
    [output] = report.outputs
    with (tmp_path / "out" / FRAMES_FILE).open("rb") as stream:
        built = assemble(stream, tmp_path / "raster", max_pixels=50_000_000, max_pages=100)
    assert built == [output.path]
    return tmp_path / "raster" / output.path


def test_rasterised_pdf_is_pixels_only_and_small(samples: Path, tmp_path: Path) -> None:
    source = samples / "pdf-multipage-text.pdf"
    target = rasterise(source, tmp_path)
    pages = 10
    assert pdftotext(target).strip() == ""  # no text objects: every page is an image
    with pikepdf.open(target) as pdf, pikepdf.open(source) as original:
        assert [[float(v) for v in p.mediabox] for p in pdf.pages] == [
            [round(float(v), 2) for v in p.mediabox] for p in original.pages]
    assert target.stat().st_size / pages <= 150 * 1024
    assert inspect_file(target, tmp_path).clean


def test_rasterising_a_dirty_pdf_leaves_nothing_active(samples: Path, tmp_path: Path) -> None:
    target = rasterise(samples / "pdf-javascript.pdf", tmp_path)
    assert poppler_javascript(target).strip() == ""
    assert inspect_file(target, tmp_path).clean


def test_actions_behind_bookmarks_are_removed(samples: Path, tmp_path: Path) -> None:
    source = samples / "pdf-outline-launch.pdf"
    assert {"pdf_action /Launch", "pdf_action /GoToR"} <= set(inspect_file(source, tmp_path).problems)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert ("pdf_action_removed", "Launch") in {(f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).clean
    with pikepdf.open(output) as pdf:
        titles = [str(item.title) for item in pdf.open_outline().root]
    assert titles == ["はじめに", "資料"]  # the bookmarks stay, only the actions go


def test_plain_bookmarks_pass(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "pdf-bookmarks.pdf", tmp_path)
    assert report.outcome == "passed"
    assert inspect_file(tmp_path / report.outputs[0].path, tmp_path).clean
