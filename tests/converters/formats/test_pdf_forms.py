"""Filled-in forms keep their values when the rebuild flattens them: forms as users send them -
LibreOffice's export (/NeedAppearances true, empty appearances) and a form built field by field
with Japanese UTF-16BE values, inherited values, multiline, comb, choice, check boxes and a
password - come out with every value readable (pypdfium2's text) and visible (ink inside the
field's rectangle), the password not at all, and no form left in the file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name, String

from converters.engine import FRAMES_FILE
from converters.formats.pdf_form_text import clean
from converters.inspect.outputs import inspect_file
from gateway.pipeline.raster_pdf import assemble
from tests.conftest import run_engine
from tests.converters.formats.test_pdf_usability import libreoffice_pdf, needs_libreoffice

SCALE = 2.0
MULTILINE, PASSWORD, COMB, COMBO, RADIO = 1 << 12, 1 << 13, 1 << 24, 1 << 17, 1 << 15
FORM_HTML = """<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>申請書</title></head><body>
<h1>住民票の写し等交付申請書</h1>
<form><p>氏名: <input type="text" name="shimei" value="山田太郎" size="30"></p>
<p>住所: <textarea name="jusho" rows="3" cols="40">東京都千代田区霞が関二丁目1番2号
コーポ霞301号室</textarea></p>
<p>暗証番号: <input type="password" name="pw" value="himitsu99"></p>
<p>同意: <input type="checkbox" name="doui" checked> 非同意: <input type="checkbox" name="hidoui"></p>
<p>種別: <select name="shubetsu"><option>住民票</option><option selected>戸籍謄本</option></select></p>
</form></body></html>"""


def utf16(text: str) -> String:
    return String(b"\xfe\xff" + text.encode("utf-16-be"))


def sanitize(source: Path, tmp_path: Path) -> tuple[Path, str]:
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized", report.reason
    assert {f.code for f in report.findings} == {"pdf_form_flattened"}
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    with pikepdf.open(output) as pdf:
        assert "/AcroForm" not in pdf.Root
        for obj in pdf.objects:
            if isinstance(obj, Dictionary | pikepdf.Stream):
                assert obj.get("/Subtype") != Name.Widget
                assert not {"/A", "/AA", "/JS", "/V", "/FT"} & set(obj.keys())
    return output, report.findings[0].detail


def ink(path: Path, rect: list[float]) -> int:
    """Dark pixels inside the middle of ``rect`` (PDF units) on the rendered first page."""
    document = pdfium.PdfDocument(str(path))
    try:
        page = document[0]
        height = page.get_height()
        image = page.render(scale=SCALE, may_draw_forms=False).to_pil().convert("L")
    finally:
        document.close()
    x0, y0, x1, y1 = rect
    inset_x, inset_y = (x1 - x0) * 0.15, (y1 - y0) * 0.15
    box = (int((x0 + inset_x) * SCALE), int((height - y1 + inset_y) * SCALE),
           int((x1 - inset_x) * SCALE), int((height - y0 - inset_y) * SCALE))
    return sum(image.crop(box).histogram()[:128])


def page_text(path: Path) -> str:
    document = pdfium.PdfDocument(str(path))
    try:
        return str(document[0].get_textpage().get_text_range())
    finally:
        document.close()


@needs_libreoffice
def test_a_form_filled_in_and_exported_by_libreoffice_keeps_its_values(tmp_path: Path) -> None:
    (tmp_path / "申請書.html").write_text(FORM_HTML, encoding="utf-8")
    source = libreoffice_pdf(tmp_path / "申請書.html", tmp_path, "HTML (StarWriter)")
    with pikepdf.open(source) as pdf:  # what LibreOffice writes: the reader is to draw every value
        need_appearances: object = pdf.Root.AcroForm.NeedAppearances  # pikepdf reads a PDF boolean as a bool
        assert need_appearances is True
        widgets = {str(a.T): a for a in pdf.pages[0].Annots}
        assert widgets["shimei"].AP.N.read_bytes().split() == [b"/Tx", b"BMC", b"EMC"]
        rects = {name: [float(v) for v in a.Rect] for name, a in widgets.items()}
    assert "山田太郎" not in page_text(source)
    output, detail = sanitize(source, tmp_path)
    text = page_text(output)
    for value in ("山田太郎", "東京都千代田区霞が関二丁目1番2号", "コーポ霞301号室", "戸籍謄本"):
        assert value in text
    assert "himitsu99" not in text and "住民票\r\n" not in text.split("種別")[1]
    for name in ("shimei", "jusho", "shubetsu", "doui"):
        assert ink(output, rects[name]) > 20, name
    assert ink(output, rects["pw"]) == 0 and ink(output, rects["hidoui"]) == 0
    assert detail == "6 fields, 3 values drawn"


def _form(tmp_path: Path) -> tuple[Path, dict[str, list[float]]]:
    """A form as a web form filler leaves it: /NeedAppearances true, values in UTF-16BE, no or
    stale appearances."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0].obj
    rects: dict[str, list[float]] = {}
    annots, fields = Array(), Array()

    def widget(name: str, rect: list[float], field: bool = True, **keys: Any) -> Dictionary:
        rects[name] = rect
        made = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, Rect=rect, F=4, P=page, **keys))
        if field:
            made.T = String(name)
            fields.append(made)
        annots.append(made)
        return made

    widget("shimei", [100, 760, 300, 780], FT=Name.Tx, V=utf16("山田太郎"), DA=String("/Helv 12 Tf 0 g"))
    widget("furigana", [100, 730, 300, 750], FT=Name.Tx, V=utf16("ﾔﾏﾀﾞ ﾀﾛｳ"), DA=String("/Helv 0 Tf 0 g"), Q=1)
    stale = pdf.make_stream(b"/Tx BMC BT /Helv 12 Tf 2 5 Td (OLD VALUE) Tj ET EMC", BBox=[0, 0, 200, 20],
                            Resources=Dictionary(Font=Dictionary(Helv=Dictionary(
                                Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))))
    widget("kinmusaki", [100, 700, 300, 720], FT=Name.Tx, V=utf16("髙橋商事㈱ 𠮷野支店"), DA=String("/Helv 10 Tf 0 g"),
           AP=Dictionary(N=stale))
    parent = pdf.make_indirect(Dictionary(FT=Name.Tx, T=String("jusho"), V=utf16("霞が関二丁目1番2号"),
                                          DA=String("/Helv 11 Tf 0 0 1 rg")))
    kid = widget("jusho", [100, 670, 400, 690], field=False, Parent=parent)
    parent.Kids = Array([kid])
    fields.append(parent)
    widget("biko", [100, 560, 300, 660], FT=Name.Tx, Ff=MULTILINE, DA=String("/Helv 10 Tf 0 g"),
           V=utf16("平日の午前中に連絡を希望します。\n電話番号は〇三の一二三四です。携帯電話へのご連絡でも構いません。"))
    widget("yubin", [100, 520, 240, 540], FT=Name.Tx, Ff=COMB, MaxLen=7, V=String("1008111"),
           DA=String("/Helv 12 Tf 0 g"))
    widget("ango", [100, 490, 240, 510], FT=Name.Tx, Ff=PASSWORD, V=String("himitsu99"))
    widget("shubetsu", [100, 460, 240, 480], FT=Name.Ch, Ff=COMBO, V=String("koseki"),
           Opt=Array([Array([String("jumin"), utf16("住民票")]), Array([String("koseki"), utf16("戸籍謄本")])]))
    on = pdf.make_stream(b"0 g 2 2 11 11 re f", BBox=[0, 0, 15, 15])
    widget("doui", [100, 430, 115, 445], FT=Name.Btn, V=Name.Yes, AS=Name.Yes,
           AP=Dictionary(N=Dictionary(Yes=on, Off=pdf.make_stream(b"", BBox=[0, 0, 15, 15]))))
    widget("yuso", [130, 430, 145, 445], FT=Name.Btn, V=Name.Yes, AS=Name.Yes)  # on, with no look at all
    widget("hidoui", [160, 430, 175, 445], FT=Name.Btn, V=Name.Off, AS=Name.Off,
           AP=Dictionary(N=Dictionary(Yes=on, Off=pdf.make_stream(b"", BBox=[0, 0, 15, 15]))))
    group = pdf.make_indirect(Dictionary(FT=Name.Btn, Ff=RADIO, T=String("kubun"), V=Name.Ni))
    off = pdf.make_stream(b"", BBox=[0, 0, 15, 15])
    group.Kids = Array([widget(name, [x, 400, x + 15, 415], field=False, Parent=group,
                               AP=Dictionary(N=Dictionary({f"/{name}": on, "/Off": off})))
                        for name, x in (("Ichi", 100), ("Ni", 130))])  # no /AS: the group's /V chooses
    fields.append(group)
    page.Annots = annots
    pdf.Root.AcroForm = Dictionary(Fields=fields, NeedAppearances=True, DA=String("/Helv 0 Tf 0 g"))
    path = tmp_path / "form.pdf"
    pdf.save(path)
    return path, rects


def test_a_form_that_asks_the_reader_to_draw_its_values_keeps_them(tmp_path: Path) -> None:
    source, rects = _form(tmp_path)
    output, detail = sanitize(source, tmp_path)
    text = page_text(output)
    for value in ("山田太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "髙橋商事㈱ 𠮷野支店", "霞が関二丁目1番2号",
                  "平日の午前中に連絡を希望します。", "戸籍謄本"):
        assert value in text, value
    assert "携帯電話へのご連絡でも構いません。" in text.replace("\r\n", "")  # wrapped, every character kept
    assert "1008111" in text.replace(" ", "")
    assert "himitsu99" not in text and "OLD VALUE" not in text and "koseki" not in text
    for name in ("shimei", "furigana", "kinmusaki", "jusho", "biko", "yubin", "shubetsu", "doui", "yuso", "Ni"):
        assert ink(output, rects[name]) > 10, name
    for name in ("ango", "hidoui", "Ichi"):  # a password, a box not checked, the radio button not chosen
        assert ink(output, rects[name]) == 0, name
    assert detail == "12 fields, 8 values drawn"  # counts only: no value in a finding


def test_a_field_that_shows_its_value_itself_is_drawn_as_it_is(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 200))
    look = pdf.make_stream(b"/Tx BMC BT /Helv 12 Tf 2 5 Td (Yamada) Tj ET EMC", BBox=[0, 0, 200, 20],
                           Resources=Dictionary(Font=Dictionary(Helv=Dictionary(
                               Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))))
    field = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, Rect=[50, 100, 250, 120], FT=Name.Tx,
                                         T=String("name"), V=String("Yamada"), AP=Dictionary(N=look)))
    pdf.pages[0].obj.Annots = Array([field])
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]))
    pdf.save(tmp_path / "shown.pdf")
    output, detail = sanitize(tmp_path / "shown.pdf", tmp_path)
    assert page_text(output).count("Yamada") == 1 and detail == "1 field"


@pytest.mark.parametrize("need", [True, False])
def test_a_password_is_never_drawn(tmp_path: Path, need: bool) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 200))
    field = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, Rect=[50, 100, 250, 120], FT=Name.Tx,
                                         T=String("pw"), Ff=PASSWORD, V=utf16("暗証番号1234")))
    pdf.pages[0].obj.Annots = Array([field])
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]), NeedAppearances=need)
    pdf.save(tmp_path / "pw.pdf")
    output, _ = sanitize(tmp_path / "pw.pdf", tmp_path)
    assert "1234" not in page_text(output) and ink(output, [50, 100, 250, 120]) == 0


def test_fields_with_odd_values_are_drawn_or_skipped_without_failing(tmp_path: Path) -> None:
    """What broken or hostile form fillers write: a parent chain that loops, a /DA that is no font
    setting, a rectangle of no size, a value that is a number, a stream or a broken UTF-16 string,
    an enormous value, impossible alignment, cells and border."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0].obj
    annots = Array()

    def widget(rect: list[float], **keys: Any) -> Dictionary:
        made = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, Rect=rect, F=4, FT=Name.Tx, **keys))
        annots.append(made)
        return made

    looped = widget([50, 800, 250, 820], T=String("loop"))
    looped.Parent = looped
    widget([50, 770, 250, 790], T=String("da"), V=utf16("佐藤花子"), DA=String("(x) 1e999 Tf 5 5 5 rg /Helv Tf"),
           Q=7, MK=Dictionary(BG=Array([2, "x", 0]), BC=Array([0, 0, 1])), BS=Dictionary(W=10_000))
    widget([50, 740, 50, 740], T=String("flat"), V=utf16("見えない"))
    widget([50, 710, 250, 730], T=String("number"), V=42)
    widget([50, 680, 250, 700], T=String("stream"), V=pdf.make_stream(b"<p>rich</p>"))
    broken = b"\xfe\xff\xd8\x00\x5c\x71\x00\x09\x75\x30"  # a lone surrogate, 山, a tab, 田
    widget([50, 650, 250, 670], T=String("broken"), V=String(broken))
    widget([50, 100, 545, 640], T=String("long"), Ff=MULTILINE, V=utf16("申請" * 50_000))
    widget([50, 60, 250, 80], T=String("comb"), Ff=COMB, MaxLen=10**9, V=String("12345"))
    page.Annots = annots
    pdf.Root.AcroForm = Dictionary(Fields=Array(list(annots)), NeedAppearances=True)
    pdf.save(tmp_path / "odd.pdf")
    output, detail = sanitize(tmp_path / "odd.pdf", tmp_path)
    text = page_text(output)
    assert "佐藤花子" in text and "山 田" in text and "12345" in text
    assert clean("a\ud800b\tc\r\nd") == "a〓b c\nd"  # what qpdf's decoding leaves out, the drawing would refuse
    assert "見えない" not in text and "42" not in text and "rich" not in text
    assert 0 < text.count("申請") <= 5_000  # what the box can hold is drawn, not a hundred thousand characters
    assert detail == "8 fields, 4 values drawn"


def test_rasterising_a_form_shows_the_values_the_reader_was_to_draw(tmp_path: Path) -> None:
    """PDFium renders without a form environment (no script can run), so a field is drawn only from
    its stored appearance, which such a form leaves empty: the rasterised page was blank there. The
    rebuilt, flattened document is rendered instead."""
    source, rects = _form(tmp_path)
    report = run_engine(source, tmp_path / "out", "rasterize")
    assert report.outcome == "sanitized", report.reason
    assert [f.code for f in report.findings][:2] == ["rasterized", "pdf_form_flattened"]
    with (tmp_path / "out" / FRAMES_FILE).open("rb") as stream:
        [name] = assemble(stream, tmp_path / "raster", max_pixels=50_000_000, max_pages=10)
    output = tmp_path / "raster" / name
    for field in ("shimei", "kinmusaki", "jusho", "biko", "shubetsu", "doui", "yuso"):
        assert ink(output, rects[field]) > 10, field
    for field in ("ango", "hidoui", "Ichi"):
        assert ink(output, rects[field]) == 0, field
    assert inspect_file(output, tmp_path).clean



@needs_libreoffice
def test_rasterising_an_office_document_with_form_controls_draws_their_values(tmp_path: Path) -> None:
    """LibreOffice's PDF of a document with form controls leaves their values to the reader too."""
    (tmp_path / "申請書.html").write_text(FORM_HTML, encoding="utf-8")
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/profile",
                    "--infilter=HTML (StarWriter)", "--convert-to", "odt", "--outdir", str(tmp_path),
                    str(tmp_path / "申請書.html")], check=True, capture_output=True, timeout=180,
                   env={**os.environ, "HOME": str(tmp_path)})
    report = run_engine(tmp_path / "申請書.odt", tmp_path / "out", "rasterize")
    assert report.outcome == "sanitized", report.reason
    assert ("pdf_form_flattened", "6 fields, 3 values drawn") in {(f.code, f.detail) for f in report.findings}
