"""Real PDFs stay usable through the allowlist rebuild: documents LibreOffice makes (Japanese
text in embedded CJK fonts, a table, a picture, web and mail links, bookmarks, form fields) and
the repository's samples keep their page count, their text (pypdfium2's extraction, identical)
and their look (each page rendered by pypdfium2, compared pixel by pixel)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops, ImageFilter

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

HTML = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>事業計画書</title></head><body>
<h1>第1章 はじめに</h1><p>令和8年度 情報セキュリティ対策基準 ①㈱ 髙橋 ～ 市役所の業務計画です。</p>
<p><a href="https://www.example.lg.jp/keikaku">計画のページ</a> と
<a href="mailto:jouhou@example.lg.jp">問い合わせ</a></p>
<table border="1"><tr><th>項目</th><th>金額</th></tr><tr><td>機器購入</td><td>1,200,000円</td></tr>
<tr><td>保守</td><td>300,000円</td></tr></table><p><img src="pic.png" width="120" height="80" alt="図"></p>
<h1>第2章 申請</h1><h2>2.1 入力欄</h2>
<form><p>氏名: <input type="text" name="shimei" value="山田"></p><p>同意: <input type="checkbox" name="doui"></p></form>
<p style="page-break-before: always">2 ページ目：以上。</p></body></html>"""
PDF_EXPORT = ('pdf:writer_pdf_Export:{"ExportBookmarks":{"type":"boolean","value":"true"},'
              '"ExportFormFields":{"type":"boolean","value":"true"}}')


def libreoffice_pdf(source: Path, work: Path, infilter: str | None = None) -> Path:
    command = ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{work}/profile"]
    command += [f"--infilter={infilter}"] if infilter else []
    subprocess.run([*command, "--convert-to", PDF_EXPORT, "--outdir", str(work / "made"), str(source)],
                   check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(work)})
    return work / "made" / f"{source.stem}.pdf"


def looks(path: Path) -> list[tuple[str, Image.Image]]:
    """Each page's text and its picture (annotations drawn from their appearance, as a viewer
    without form support draws them, so a flattened field must look as the field did)."""
    document = pdfium.PdfDocument(str(path))
    try:
        return [(document[i].get_textpage().get_text_range(),
                 document[i].render(scale=1.5, may_draw_forms=False).to_pil().convert("L"))
                for i in range(len(document))]
    finally:
        document.close()


def differing_share(before: Image.Image, after: Image.Image) -> float:
    """Compared slightly blurred: a font written without its hinting programs (pdf_fonts) moves glyph
    edges by a fraction of a pixel (0.3 % of a page of IPA Gothic text unblurred, none blurred)."""
    assert before.size == after.size
    before, after = before.filter(ImageFilter.GaussianBlur(1)), after.filter(ImageFilter.GaussianBlur(1))
    difference = ImageChops.difference(before, after).point(lambda value: 255 if value > 40 else 0)
    histogram = difference.histogram()
    return histogram[255] / (before.width * before.height)


def assert_same_document(source: Path, output: Path, drawn: str = "") -> None:
    """``drawn``: a form value the source leaves to the reader to draw (/NeedAppearances), which the
    output draws as text at the end of its page (test_pdf_forms looks at those in detail)."""
    before, after = looks(source), looks(output)
    assert len(before) == len(after)
    for (text_before, image_before), (text_after, image_after) in zip(before, after, strict=True):
        if drawn and drawn in text_after:
            assert text_after.endswith(f"\r\n{drawn}") and drawn not in text_before
            text_after = text_after.removesuffix(f"\r\n{drawn}")
        assert text_after == text_before
        assert differing_share(image_before, image_after) < 0.001


needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                       reason="LibreOffice comes from scripts/setup.sh")


@needs_libreoffice
def test_a_libreoffice_document_stays_usable(tmp_path: Path) -> None:
    picture = Image.new("RGB", (120, 80), (200, 30, 30))
    for x in range(0, 120, 3):
        for y in range(80):
            picture.putpixel((x, y), (x * 2, 100, 255 - x))
    picture.save(tmp_path / "pic.png")
    (tmp_path / "計画書.html").write_text(HTML, encoding="utf-8")
    source = libreoffice_pdf(tmp_path / "計画書.html", tmp_path, "HTML (StarWriter)")
    with pikepdf.open(source) as pdf:  # what LibreOffice made: the traits this test is about
        subtypes = [str(a.Subtype) for page in pdf.pages for a in page.obj.get("/Annots", [])]
        assert {"/Widget", "/Link"} <= set(subtypes) and "/AcroForm" in pdf.Root and "/Outlines" in pdf.Root
        fonts = [f for page in pdf.pages for f in page.obj.Resources.Font.values()]
        assert any("CJK" in str(f.get("/BaseFont")) or "IPA" in str(f.get("/BaseFont")) for f in fonts)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized" and {f.code for f in report.findings} == {"pdf_form_flattened"}
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    assert "山田" in looks(output)[0][0]
    assert_same_document(source, output, drawn="山田")
    with pikepdf.open(output) as pdf:
        assert [str(item.title) for item in pdf.open_outline().root] == ["第1章 はじめに", "第2章 申請"]
        links = [a for page in pdf.pages for a in page.obj.get("/Annots", [])]
        assert sorted(str(a.A.URI) for a in links) == ["https://www.example.lg.jp/keikaku",
                                                       "mailto:jouhou@example.lg.jp"]
        assert "/AcroForm" not in pdf.Root


@needs_libreoffice
@pytest.mark.parametrize("sample", ["docx-clean.docx", "xlsx-clean.xlsx", "pptx-clean.pptx"])
def test_office_documents_printed_by_libreoffice_stay_usable(samples: Path, tmp_path: Path, sample: str) -> None:
    source = libreoffice_pdf(samples / sample, tmp_path)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome in ("passed", "sanitized"), report.reason
    assert {f.code for f in report.findings} <= {"pdf_form_flattened"}
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    assert_same_document(source, output)


@pytest.mark.parametrize("sample", ["pdf-clean.pdf", "pdf-multipage-text.pdf", "pdf-bookmarks.pdf",
                                    "pdf-owner-password.pdf", "pdf-javascript.pdf", "pdf-embedded-file.pdf"])
def test_the_samples_read_and_look_the_same(samples: Path, tmp_path: Path, sample: str) -> None:
    report = run_engine(samples / sample, tmp_path / "out")
    assert report.outcome in ("passed", "sanitized"), report.reason
    assert_same_document(samples / sample, tmp_path / "out" / report.outputs[0].path)
