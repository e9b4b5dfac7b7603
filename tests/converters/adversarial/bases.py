"""Harmless base documents made the way people make them (python-docx, XlsxWriter, python-pptx,
LibreOffice re-saving), each with the visible text that must survive the gateway."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docx
import pptx
import xlsxwriter
from docx.shared import Cm
from PIL import Image
from pptx.util import Inches, Pt

from tests.converters.adversarial.opc import Package, xml_text


@dataclass(frozen=True)
class Base:
    name: str  # file name, also the variant's base label
    package: Package
    texts: tuple[str, ...]  # visible text a reader must still see after disarming


WORD_TEXTS = ("令和8年度 予算要求書 ①㈱ 髙橋", "第2段落 ～ テスト", "表の見出し", "表の中身 123", "ヘッダー文字",
              "フッター文字")
EXCEL_TEXTS = ("品名", "りんご", "みかん", "ぶどう", "名前", "合計")
SLIDE_TEXTS = ("四半期報告", "売上は前年比 105%", "詳しくはこちら")


def png_bytes(colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def make_word() -> Base:
    document = docx.Document()
    document.add_heading(WORD_TEXTS[0], level=1)
    document.add_paragraph(WORD_TEXTS[1])
    table = document.add_table(rows=2, cols=1)
    table.cell(0, 0).text = WORD_TEXTS[2]
    table.cell(1, 0).text = WORD_TEXTS[3]
    document.add_picture(io.BytesIO(png_bytes()), width=Cm(1))
    section = document.sections[0]
    section.header.paragraphs[0].text = WORD_TEXTS[4]
    section.footer.paragraphs[0].text = WORD_TEXTS[5]
    buffer = io.BytesIO()
    document.save(buffer)
    return Base("word.docx", Package.from_bytes(buffer.getvalue()), WORD_TEXTS)


def make_excel() -> Base:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("データ")
    sheet.write_row(0, 0, ["品名", "数量", "単価", "小計"])
    for row, (name, count, price) in enumerate((("りんご", 3, 120), ("みかん", 5, 80), ("ぶどう", 2, 400)), start=1):
        sheet.write_row(row, 0, [name, count, price])
        sheet.write_formula(row, 3, f"=B{row + 1}*C{row + 1}", None, count * price)
    bold = book.add_format({"bold": True})
    sheet.conditional_format("B2:B4", {"type": "formula", "criteria": "=$B2>2", "format": bold})
    sheet.data_validation("B2:B4", {"validate": "custom", "value": "=ISNUMBER(B2)"})
    sheet.data_validation("C2:C4", {"validate": "integer", "criteria": "between", "minimum": 0, "maximum": 1000})
    book.define_name("単価一覧", "=データ!$C$2:$C$4")
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=データ!$B$2:$B$4", "categories": "=データ!$A$2:$A$4"})
    sheet.insert_chart("F2", chart)
    sheet.insert_image("F20", "logo.png", {"image_data": io.BytesIO(png_bytes())})
    table_sheet = book.add_worksheet("表")
    table_sheet.add_table("A1:C4", {"data": [["a", 1], ["b", 2]], "total_row": True, "columns": [
        {"header": "名前", "total_string": "合計"}, {"header": "金額", "total_function": "sum"},
        {"header": "税込", "formula": "=[@金額]*1.1", "total_function": "sum"}]})
    book.close()
    return Base("excel.xlsx", Package.from_bytes(buffer.getvalue()), EXCEL_TEXTS)


def make_slides() -> Base:
    deck = pptx.Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = SLIDE_TEXTS[0]
    title.placeholders[1].text = SLIDE_TEXTS[1]
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    run = box.text_frame.paragraphs[0].add_run()
    run.text = SLIDE_TEXTS[2]
    run.font.size = Pt(18)
    run.hyperlink.address = "https://www.example.lg.jp/report"
    slide.shapes.add_picture(io.BytesIO(png_bytes()), Inches(1), Inches(3), Inches(1), Inches(1))
    buffer = io.BytesIO()
    deck.save(buffer)
    return Base("slides.pptx", Package.from_bytes(buffer.getvalue()), SLIDE_TEXTS)


def resave_with_libreoffice(bases: list[Base], work: Path) -> list[Base]:
    """The same documents as LibreOffice writes them (one soffice run each, fresh profile)."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-", dir=work))
    filters = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}
    out: list[Base] = []
    for base in bases:
        target = filters[base.name.rsplit(".", 1)[1]]
        source_dir = work / f"lo-in-{base.name}"
        target_dir = work / f"lo-out-{base.name}"
        source_dir.mkdir()
        target_dir.mkdir()
        source = source_dir / base.name
        source.write_bytes(base.package.to_bytes())
        subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                        "--convert-to", target, "--outdir", str(target_dir), str(source)],
                       check=True, capture_output=True, timeout=180)
        saved = (target_dir / base.name).read_bytes()
        out.append(Base(f"lo-{base.name}", Package.from_bytes(saved), base.texts))
    shutil.rmtree(profile, ignore_errors=True)
    return out


def strict_copy(base: Base) -> Base:
    package = base.package.copy()
    package.to_strict()
    return Base(f"strict-{base.name}", package, base.texts)


LOCAL_FIELDS = ("PAGE", "NUMPAGES", "DATE \\@ \"yyyy/MM/dd\"", "REF _Ref1 \\h", "SEQ 図 \\* ARABIC",
                "HYPERLINK \"https://www.example.lg.jp/\"", "HYPERLINK \\l \"_Ref1\"", "= 2 + 3")


def word_with_local_fields(base: Base) -> Base:
    """Fields that compute inside the document and an https hyperlink: these must stay usable."""
    package = base.package.copy()
    paragraphs = []
    for number, instruction in enumerate(LOCAL_FIELDS):
        paragraphs.append(
            f'<w:p><w:bookmarkStart w:id="{50 + number}" w:name="_Ref{number + 1}"/><w:r><w:t>欄{number}:</w:t></w:r>'
            f'<w:bookmarkEnd w:id="{50 + number}"/><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> {xml_text(instruction)} </w:instrText></w:r>'
            f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>値{number}</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    link = package.add_relationship("word/document.xml", "hyperlink", "https://www.example.lg.jp/page", external=True)
    paragraphs.append(f'<w:p><w:hyperlink r:id="{link}"><w:r><w:t>市のページ</w:t></w:r></w:hyperlink></w:p>')
    paragraphs.append('<w:p><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple></w:p>')
    package.insert_before_last("word/document.xml", "<w:sectPr", "".join(paragraphs))
    return Base(f"fields-{base.name}", package, (*base.texts, "市のページ", "欄3:"))


def all_bases(work: Path) -> dict[str, Base]:
    work.mkdir(parents=True, exist_ok=True)
    word, excel, slides = make_word(), make_excel(), make_slides()
    made = [word, excel, slides, *resave_with_libreoffice([word, excel], work), strict_copy(word),
            strict_copy(excel), word_with_local_fields(word)]
    return {base.name: base for base in made}
