"""Attacks on what a kept part may name rather than on which parts are kept: an element that loads
something (a picture, VML image, header, movie, sound, embedded font, chart data, sheet background,
pivot source) naming the web-link relationship the rebuild keeps for hyperlinks (LibreOffice
fetched such a picture on opening); VML sources at a web address; Excel form controls (a real
kind of workbook that must come out usable); PowerPoint actions that only begin with a safe verb;
Excel 2013 chart formulas (c15:f) naming another workbook; Word's schema library locations.

Each attack says what the delivered document must no longer hold (``outside_holdings`` reads it
independently: relationships and the attributes naming them, VML sources, form controls, action
verbs, c15 formulas, the schema-library namespace) and must not be blocked: these are ordinary
documents with one hostile detail, and the detail goes."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml

from tests.converters.adversarial.opc import Package
from tests.converters.adversarial.package_attacks import SHAPE, SLIDE, _body, _picture

BEACON = "http://beacon.example/track"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
O_NS = "urn:schemas-microsoft-com:office:office"
X_VML = "urn:schemas-microsoft-com:office:excel"
HYPERLINK_OWNERS = {"{http://schemas.openxmlformats.org/wordprocessingml/2006/main}hyperlink",
                    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}hyperlink",
                    *(f"{{http://schemas.openxmlformats.org/drawingml/2006/main}}{local}"
                      for local in ("hlinkClick", "hlinkHover", "hlinkMouseOver"))}
STAYING_ACTIONS = {"ppaction://hlinksldjump", "ppaction://hlinkshowjump", "ppaction://customshow",
                   "ppaction://noaction"}
SHEET = "xl/worksheets/sheet1.xml"
PIVOT_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"
VML_CT = "application/vnd.openxmlformats-officedocument.vmlDrawing"
C15_F = "{http://schemas.microsoft.com/office/drawing/2012/chart}f"


@dataclass(frozen=True)
class ReferenceAttack:
    name: str
    base: str  # word.docx, excel.xlsx or slides.pptx (tests.converters.adversarial.bases)
    build: Callable[[Package], None]


# --- an element that loads what it names, naming the kept web link --------------------------------
def web_link(package: Package, source: str) -> str:
    return package.add_relationship(source, "hyperlink", BEACON, external=True)


def word_reference(fragment: str, package: Package) -> None:
    rel = web_link(package, "word/document.xml")
    _body(package, fragment.replace("RID", rel) + f'<w:p><w:hyperlink r:id="{rel}"><w:r><w:t>市のページ</w:t></w:r>'
                                                   "</w:hyperlink></w:p>")


def replace_first_embed(part: str, attribute: str, package: Package) -> None:
    rel = web_link(package, part)
    text = package.text(part)
    match = re.search(r'r:embed="rId\d+"', text)
    if match is None:
        raise KeyError(f"no picture in {part}")
    package.set_text(part, text.replace(match.group(0), f'{attribute}="{rel}"', 1))


def slide_sound(where: str, package: Package) -> None:
    rel = web_link(package, SLIDE)
    if where == "click":
        package.edit(SLIDE, SHAPE, SHAPE[:-2] + f'><a:hlinkClick r:id="" action="ppaction://noaction"><a:snd '
                                                f'r:embed="{rel}" name="s.wav"/></a:hlinkClick></p:cNvPr>')
    elif where == "transition":
        package.edit(SLIDE, "</p:sld>", f'<p:transition><p:sndAc><p:stSnd><p:snd r:embed="{rel}" name="t.wav"/>'
                                        "</p:stSnd></p:sndAc></p:transition></p:sld>")
    else:  # an audio node of the slide's timing
        package.insert_before_last(SLIDE, "</p:sld>", (
            '<p:timing><p:tnLst><p:par><p:cTn id="1" dur="indefinite" restart="never" nodeType="tmRoot"><p:childTnLst>'
            '<p:audio><p:cMediaNode vol="80000"><p:cTn id="2" fill="hold" display="0"><p:stCondLst><p:cond '
            f'delay="indefinite"/></p:stCondLst></p:cTn><p:tgtEl><p:sndTgt r:embed="{rel}" name="x.wav"/></p:tgtEl>'
            "</p:cMediaNode></p:audio></p:childTnLst></p:cTn></p:par></p:tnLst></p:timing>"))


def embedded_font(package: Package) -> None:
    rel = web_link(package, "ppt/presentation.xml")
    package.edit("ppt/presentation.xml", "<p:defaultTextStyle",
                 f'<p:embeddedFontLst><p:embeddedFont><p:font typeface="X"/><p:regular r:id="{rel}"/></p:embeddedFont>'
                 "</p:embeddedFontLst><p:defaultTextStyle")


def publish_target(package: Package) -> None:
    rel = web_link(package, "ppt/presProps.xml")
    text = package.text("ppt/presProps.xml")
    package.set_text("ppt/presProps.xml", re.sub(r"(<p:presentationPr[^>]*>)", r"\1" + (
        f'<p:htmlPubPr r:id="{rel}"><p:sldAll/></p:htmlPubPr>'), text, count=1))


def chart_data(package: Package) -> None:
    rel = web_link(package, "xl/charts/chart1.xml")
    package.edit("xl/charts/chart1.xml", "</c:chartSpace>",
                 f'<c:externalData r:id="{rel}"><c:autoUpdate val="1"/></c:externalData></c:chartSpace>')


def sheet_background(package: Package) -> None:
    rel = web_link(package, SHEET)
    package.edit(SHEET, "</worksheet>", f'<picture r:id="{rel}"/></worksheet>')


def header_picture(package: Package) -> None:
    """A header picture (&G) as Excel keeps it: a VML drawing whose imagedata names it by o:relid."""
    vml = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
           '<v:shape id="LH" type="#_x0000_t75" style="position:absolute;width:20pt;height:20pt"><v:imagedata '
           'o:relid="RID" o:title="h"/></v:shape></xml>')
    part = "xl/drawings/vmlDrawingHF1.vml"
    rel = package.add_part(part, b"", VML_CT, SHEET, "vmlDrawing")
    package.set_text(part, vml.replace("RID", web_link(package, part)))
    package.edit(SHEET, "</worksheet>", '<headerFooter><oddHeader>&amp;L&amp;G</oddHeader></headerFooter>'
                                        f'<legacyDrawingHF r:id="{rel}"/></worksheet>')


def pivot_source(kind: str, package: Package) -> None:
    source = ('<worksheetSource ref="A1:B3" sheet="S" r:id="RID"/>' if kind == "worksheet" else
              '<consolidation><rangeSets count="1"><rangeSet ref="A1:B3" sheet="S" r:id="RID"/></rangeSets>'
              "</consolidation>")
    cache = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><pivotCacheDefinition xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
             f'2006/relationships" refreshOnLoad="1" recordCount="0"><cacheSource type="{kind}">{source}</cacheSource>'
             '<cacheFields count="1"><cacheField name="a" numFmtId="0"><sharedItems/></cacheField></cacheFields>'
             "</pivotCacheDefinition>")
    part = "xl/pivotCache/pivotCacheDefinition1.xml"
    rel = package.add_part(part, b"", PIVOT_CT, "xl/workbook.xml", "pivotCacheDefinition")
    package.set_text(part, cache.replace("RID", web_link(package, part)))
    package.edit("xl/workbook.xml", "</workbook>", f'<pivotCaches><pivotCache cacheId="1" r:id="{rel}"/></pivotCaches>'
                                                   "</workbook>")


# --- the other details -------------------------------------------------------------------------------
def vml_sources(package: Package) -> None:
    _body(package, '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" style="width:20pt;height:20pt"'
                   f' href="https://www.example.lg.jp/"><v:imagedata src="{BEACON}.png"/><v:fill src=" {BEACON}.gif" '
                   'type="frame"/></v:shape></w:pict></w:r></w:p>')


def form_check_box(package: Package) -> None:
    vml = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
           'xmlns:x="urn:schemas-microsoft-com:office:excel"><v:shape id="_x0000_s1025" type="#_x0000_t201" '
           'style="position:absolute;width:100pt;height:20pt"><v:textbox><div>同意する</div></v:textbox>'
           '<x:ClientData ObjectType="Checkbox">'
           "<x:Anchor>1, 0, 1, 0, 3, 0, 2, 0</x:Anchor><x:FmlaLink>$A$1</x:FmlaLink><x:Checked>1</x:Checked>"
           "</x:ClientData></v:shape></xml>")
    rel = package.add_part("xl/drawings/vmlDrawing9.vml", vml.encode(), VML_CT, SHEET, "vmlDrawing")
    package.edit(SHEET, "</worksheet>", f'<legacyDrawing r:id="{rel}"/></worksheet>')


def action_prefix(action: str, package: Package) -> None:
    package.edit(SLIDE, SHAPE, SHAPE[:-2] + f'><a:hlinkClick r:id="" action="{action}"/></p:cNvPr>')


def data_label_range(package: Package) -> None:
    chart = "xl/charts/chart1.xml"
    text = package.text(chart)
    ext = ('<c:extLst><c:ext uri="{02D57815-91ED-43cb-92C2-25804820EDAC}" xmlns:c15="http://schemas.microsoft.com/'
           "office/drawing/2012/chart\"><c15:datalabelsRange><c15:f>'\\\\attacker.example\\s\\[a.xlsx]S'!$A$1:$A$3"
           "</c15:f></c15:datalabelsRange></c:ext></c:extLst>")
    at = text.index("</c:ser>")
    package.set_text(chart, text[:at] + ext + text[at:])


def schema_library(package: Package) -> None:
    package.insert_before_last("word/settings.xml", "</w:settings>", (
        '<sl:schemaLibrary xmlns:sl="http://schemas.openxmlformats.org/schemaLibrary/2006/main"><sl:schema '
        f'sl:uri="urn:x" sl:manifestLocation="{BEACON}/m.xml" sl:schemaLocation="\\\\attacker.example\\s\\s.xsd"/>'
        "</sl:schemaLibrary>"))


def reference_attacks() -> list[ReferenceAttack]:
    word = {
        "blip-link-names-web-link": _picture('<a:blip r:link="RID"/>'),
        "blip-embed-names-web-link": _picture('<a:blip r:embed="RID"/>'),
        "vml-imagedata-r-id-names-web-link": '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
                                             'style="width:9pt"><v:imagedata r:id="RID"/></v:shape></w:pict></w:r>'
                                             "</w:p>",
        "vml-imagedata-o-relid-names-web-link": '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
                                                'style="width:9pt"><v:imagedata xmlns:o="urn:schemas-microsoft-com:'
                                                'office:office" o:relid="RID"/></v:shape></w:pict></w:r></w:p>',
        "header-reference-names-web-link": '<w:p><w:pPr><w:sectPr><w:headerReference w:type="default" r:id="RID"/>'
                                           "</w:sectPr></w:pPr></w:p>",
        "movie-names-web-link": '<w:p><w:r><w:pict><w:movie r:id="RID"/></w:pict></w:r></w:p>',
    }
    attacks = [ReferenceAttack(name, "word.docx", partial(word_reference, fragment)) for name, fragment in word.items()]
    attacks += [
        ReferenceAttack("vml-src-web-address", "word.docx", vml_sources),
        ReferenceAttack("schema-library-locations", "word.docx", schema_library),
        ReferenceAttack("drawing-blip-link-names-web-link", "excel.xlsx",
                        partial(replace_first_embed, "xl/drawings/drawing1.xml", "r:link")),
        ReferenceAttack("chart-externalData-names-web-link", "excel.xlsx", chart_data),
        ReferenceAttack("sheet-background-names-web-link", "excel.xlsx", sheet_background),
        ReferenceAttack("header-picture-o-relid-names-web-link", "excel.xlsx", header_picture),
        ReferenceAttack("pivot-worksheetSource-names-web-link", "excel.xlsx", partial(pivot_source, "worksheet")),
        ReferenceAttack("pivot-rangeSet-names-web-link", "excel.xlsx", partial(pivot_source, "consolidation")),
        ReferenceAttack("form-check-box", "excel.xlsx", form_check_box),
        ReferenceAttack("chart-c15-data-label-range-other-workbook", "excel.xlsx", data_label_range),
        ReferenceAttack("slide-blip-link-names-web-link", "slides.pptx", partial(replace_first_embed, SLIDE, "r:link")),
        ReferenceAttack("click-sound-names-web-link", "slides.pptx", partial(slide_sound, "click")),
        ReferenceAttack("transition-sound-names-web-link", "slides.pptx", partial(slide_sound, "transition")),
        ReferenceAttack("timing-sound-target-names-web-link", "slides.pptx", partial(slide_sound, "timing")),
        ReferenceAttack("embedded-font-names-web-link", "slides.pptx", embedded_font),
        ReferenceAttack("publish-target-names-web-link", "slides.pptx", publish_target),
        ReferenceAttack("action-safe-prefix-program", "slides.pptx",
                        partial(action_prefix, "ppaction://hlinksldjump/../program")),
        ReferenceAttack("action-safe-prefix-longer-verb", "slides.pptx", partial(action_prefix, "PPACTION://NOACTIONX")),
    ]
    return attacks


# --- the independent reading of the output ---------------------------------------------------------
def _outside_ids(package: zipfile.ZipFile, names: set[str], part: str) -> set[str]:
    folder, _, name = part.rpartition("/")
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels not in names:
        return set()
    root = safe_xml.fromstring(package.read(rels), forbid_dtd=True)
    return {element.get("Id", "").strip() for element in root
            if element.get("TargetMode", "").strip().lower() == "external"}


def _part_holdings(part: str, root: Element, outside: set[str]) -> list[str]:
    found: list[str] = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        for key, value in element.attrib.items():
            names_relationship = key.startswith(f"{{{R_NS}}}") or key == f"{{{O_NS}}}relid"
            if names_relationship and value.strip() in outside and tag not in HYPERLINK_OWNERS:
                found.append(f"{part}: {tag.rpartition('}')[2]} names outside relationship {value.strip()}")
            if key.rpartition("}")[2].lower() == "src" and value.strip() and not value.strip().startswith("#"):
                found.append(f"{part}: source {value.strip()[:60]}")
        local = tag.rpartition("}")[2]
        if tag == f"{{{X_VML}}}ClientData" and element.get("ObjectType", "").strip().lower() != "note":
            found.append(f"{part}: form control {element.get('ObjectType')}")
        if local in ("hlinkClick", "hlinkHover", "hlinkMouseOver"):
            action = "".join(element.get("action", "").split()).lower()
            if action and action.partition("?")[0] not in STAYING_ACTIONS:
                found.append(f"{part}: action {action}")
        if tag == C15_F and re.search(r"[\[\\]", element.text or ""):
            found.append(f"{part}: c15 formula {element.text}")
        if tag.startswith("{http://schemas.openxmlformats.org/schemaLibrary/"):
            found.append(f"{part}: schema library {local}")
    return found


def outside_holdings(document: bytes) -> list[str]:
    """What of these attacks a delivered document still holds, read part by part."""
    found: list[str] = []
    with zipfile.ZipFile(io.BytesIO(document)) as package:
        names = set(package.namelist())
        for part in sorted(names):
            if part.endswith(".rels") or not part.endswith((".xml", ".vml")) or part == "[Content_Types].xml":
                continue
            root = safe_xml.fromstring(package.read(part), forbid_dtd=True)
            found += _part_holdings(part, root, _outside_ids(package, names, part))
    return found
