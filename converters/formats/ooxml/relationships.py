"""Which parts of a package are kept: walked from the package relationships, following only
relationship types that carry content or layout, to parts whose content type is on the list.
Everything else — parts no kept relationship reaches, relationships to programs, macros, OLE,
ActiveX, other files, and every external target but a web or mail hyperlink — stays behind."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from lxml import etree

from converters.formats.link_rules import link_safe
from converters.formats.ooxml.namespaces import TRANSITIONAL_REL_BASE, transitional_rel_type
from converters.formats.ooxml.package import (
    REL_NS,
    ContentTypes,
    OoxmlPackage,
    parse_xml,
    rels_path_for,
    resolve_target,
)

_PKG_REL_BASE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
_MS_REL_BASE = re.compile(r"^http://schemas\.microsoft\.com/office/\d{4}/(?:\d{2}/)?relationships/")
_W = "application/vnd.openxmlformats-officedocument.wordprocessingml."
_X = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_P = "application/vnd.openxmlformats-officedocument.presentationml."
_D = "application/vnd.openxmlformats-officedocument.drawingml."
# content types of XML parts that may be written, lower-case -> as written out
XML_TYPES: dict[str, str] = {t.lower(): t for t in (
    *(f"{_W}{n}+xml" for n in ("styles", "settings", "webSettings", "fontTable", "numbering", "footnotes",
                               "endnotes", "comments", "header", "footer", "document.glossary",
                               "commentsExtended", "commentsIds", "commentsExtensible", "people")),
    "application/vnd.ms-word.stylesWithEffects+xml",
    *(f"{_X}{n}+xml" for n in ("worksheet", "chartsheet", "sharedStrings", "styles", "calcChain", "comments",
                               "table", "pivotTable", "pivotCacheDefinition",
                               "pivotCacheRecords", "sheetMetadata")),
    "application/vnd.ms-excel.slicer+xml", "application/vnd.ms-excel.slicerCache+xml",
    "application/vnd.ms-excel.timeline+xml", "application/vnd.ms-excel.timelineCache+xml",
    "application/vnd.ms-excel.threadedcomments+xml", "application/vnd.ms-excel.person+xml",
    *(f"{_P}{n}+xml" for n in ("slide", "slideLayout", "slideMaster", "notesSlide", "notesMaster", "handoutMaster",
                               "presProps", "viewProps", "tableStyles", "commentAuthors", "comments", "tags")),
    "application/vnd.ms-powerpoint.comments+xml", "application/vnd.ms-powerpoint.authors+xml",
    *(f"{_D}{n}+xml" for n in ("chart", "chartshapes", "diagramData", "diagramLayout", "diagramStyle",
                               "diagramColors", "drawing")),
    "application/vnd.ms-office.drawingml.diagramDrawing+xml", "application/vnd.ms-office.chartstyle+xml",
    "application/vnd.ms-office.chartcolorstyle+xml",
    "application/vnd.openxmlformats-officedocument.drawing+xml",  # a worksheet's drawing layer
    "application/vnd.openxmlformats-officedocument.theme+xml",
    "application/vnd.openxmlformats-officedocument.themeOverride+xml",
    "application/vnd.openxmlformats-officedocument.vmlDrawing",
    "application/vnd.openxmlformats-package.core-properties+xml",
    "application/vnd.openxmlformats-officedocument.extended-properties+xml",
    "application/vnd.openxmlformats-officedocument.custom-properties+xml",
)}
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/bmp",
                         "image/tiff", "image/x-emf", "image/emf", "image/x-wmf", "image/wmf"})
# relationship types followed to XML parts (last segment of the type URI)
XML_RELS = frozenset({
    "officeDocument", "core-properties", "extended-properties", "custom-properties",
    "styles", "stylesWithEffects", "settings", "webSettings", "fontTable", "theme", "themeOverride", "numbering",
    "footnotes", "endnotes", "comments", "commentsExtended", "commentsIds", "commentsExtensible", "people",
    "header", "footer", "glossaryDocument",
    "chart", "chartUserShapes", "chartStyle", "chartColorStyle", "diagramData", "diagramLayout",
    "diagramQuickStyle", "diagramColors", "diagramDrawing", "drawing", "vmlDrawing",
    "worksheet", "chartsheet", "sharedStrings", "table", "pivotTable",
    "pivotCacheDefinition", "pivotCacheRecords", "sheetMetadata", "slicer", "slicerCache", "timeline",
    "timelineCache", "threadedComment", "person",
    "slide", "slideLayout", "slideMaster", "notesSlide", "notesMaster", "handoutMaster", "presProps",
    "viewProps", "tableStyles", "commentAuthors", "tags", "authors",
})
IMAGE_RELS = frozenset({"image", "thumbnail"})
# parts left out without a finding: neither shown nor active (SharePoint's data store items, the
# printer's settings as a binary blob, Excel's calculation order, which names every formula cell:
# once a formula is removed it would point at a cell without one, and Excel rebuilds it anyway);
# reporting them would mark every ordinary file as changed
SILENT_DROPS = frozenset({"customXml", "customXmlProps", "printerSettings", "calcChain"})
# a chart's data: a workbook of its own, rebuilt like any other (so the chart stays editable)
CHART_TYPE = f"{_D}chart+xml".lower()
CHART_WORKBOOK_TYPES = {f"{_X[:-1]}.sheet".lower(): f"{_X[:-1]}.sheet"}
PACKAGE_LEVEL = frozenset({"core-properties", "extended-properties", "custom-properties"})
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")
# relationship type -> finding code, for what never leaves (anything else unlisted: part_removed)
DROPPED_REL_CODES: dict[str, str] = {
    "vbaProject": "vba_macro_removed", "wordVbaData": "vba_macro_removed",
    "vbaProjectSignature": "vba_macro_removed", "attachedToolbars": "vba_macro_removed",
    "keyMapCustomizations": "vba_macro_removed",
    "xlMacrosheet": "excel4_macro_removed", "xlIntlMacrosheet": "excel4_macro_removed",
    "dialogsheet": "excel4_macro_removed",
    "control": "activex_removed", "activeXControl": "activex_removed", "activeXControlBinary": "activex_removed",
    "ctrlProp": "activex_removed",
    "oleObject": "embedded_object_removed", "package": "embedded_object_removed",
    "aFChunk": "embedded_object_removed", "video": "embedded_media_removed", "audio": "embedded_media_removed",
    "media": "embedded_media_removed", "font": "embedded_font_removed",
    "externalLink": "external_link_removed", "externalLinkPath": "external_link_removed",
    "attachedTemplate": "remote_template_removed", "frame": "external_link_removed",
    "subDocument": "external_link_removed", "hyperlink": "external_link_removed",
    "connections": "data_connection_removed", "queryTable": "data_connection_removed",
    "volatileDependencies": "data_connection_removed",
    "extensibility": "custom_ui_removed", "ui/extensibility": "custom_ui_removed",
    "webextension": "web_extension_removed", "webextensiontaskpanes": "web_extension_removed",
    "taskpanes": "web_extension_removed",
}


# a target that is an address, not a part name: a scheme ("http:", "file:", "mhtml:") or a share
ADDRESS = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|\\\\|//)")

def rel_name(rel_type: str) -> str | None:
    """The relationship's short name if its type URI is one Office defines, else None."""
    rel_type = transitional_rel_type(rel_type.strip())
    for base in (TRANSITIONAL_REL_BASE, _PKG_REL_BASE):
        if rel_type.startswith(base):
            return rel_type[len(base):]
    match = _MS_REL_BASE.match(rel_type)
    return rel_type[match.end():] if match else None


def safe_link(target: str) -> bool:
    cleaned = "".join(ch for ch in target if ch > " ").lower()
    return cleaned.startswith(SAFE_LINK_SCHEMES) and link_safe(cleaned)


@dataclass
class Relationship:
    rel_id: str
    rel_type: str  # as written out (Transitional)
    target: str
    external: bool


@dataclass
class PartPlan:
    """The parts written out, their kind and content type, and each kept part's relationships."""

    main: str = ""
    xml_parts: dict[str, str] = field(default_factory=dict)  # actual name -> content type (as written)
    image_parts: dict[str, str] = field(default_factory=dict)  # actual name -> declared image type
    chart_workbooks: dict[str, str] = field(default_factory=dict)  # actual name -> content type
    relationships: dict[str, list[Relationship]] = field(default_factory=dict)  # source ('' = package)
    dropped: set[str] = field(default_factory=set)  # parts a relationship named, left out (already reported)
    findings: dict[tuple[str, str], None] = field(default_factory=dict)

    def note(self, code: str, detail: str) -> None:
        self.findings[(code, detail)] = None

    def kept(self, part: str) -> bool:
        return part in self.xml_parts or part in self.image_parts or part in self.chart_workbooks


def _read_rels(package: OoxmlPackage, source: str) -> list[etree._Element]:
    name = package.name(rels_path_for(source) if source else "_rels/.rels")
    if name is None:
        return []
    root = parse_xml(package.read(name), name)
    return [el for el in root if isinstance(el.tag, str) and etree.QName(el).localname == "Relationship"
            and etree.QName(el).namespace == REL_NS]


def plan_parts(package: OoxmlPackage, types: ContentTypes) -> PartPlan:
    plan = PartPlan()
    queue = [""]
    seen = {""}
    while queue:
        source = queue.pop(0)
        kept: list[Relationship] = []
        ids: set[str] = set()
        for rel in _read_rels(package, source):
            rel_id, raw_type = rel.get("Id", "").strip(), rel.get("Type", "")
            target = rel.get("Target", "")
            name = rel_name(raw_type)
            external = rel.get("TargetMode", "").strip().lower() == "external"
            label = name or raw_type.rsplit("/", 1)[-1][:60]
            if not rel_id or rel_id in ids:
                continue
            if external:
                if name == "hyperlink" and safe_link(target):
                    kept.append(Relationship(rel_id, TRANSITIONAL_REL_BASE + "hyperlink", target.strip(), True))
                    ids.add(rel_id)
                else:
                    code = DROPPED_REL_CODES.get(name or "", "external_link_removed")
                    plan.note("external_object_removed" if code == "embedded_object_removed" else code,
                              f"{label}: {target[:120]}")
                continue
            part = package.name(resolve_target(source, target))
            if part is None or part.lower().endswith(".rels") or part.lower() == "[content_types].xml":
                if ADDRESS.match(target.strip()):  # an address without TargetMode="External": said, not kept
                    plan.note("external_link_removed", f"{label}: {target.strip()[:120]}")
                continue  # a dangling relationship: nothing to keep
            ctype = types.of(part)
            if not source and name == "officeDocument" and not plan.main:
                plan.main = part  # its content type is judged by the rebuild (macro-enabled kinds too)
                plan.xml_parts[part] = ctype
            elif name in XML_RELS and ctype in XML_TYPES and (bool(source) or name in PACKAGE_LEVEL):
                plan.xml_parts.setdefault(part, XML_TYPES[ctype])
            elif name in IMAGE_RELS and ctype in IMAGE_TYPES:
                plan.image_parts.setdefault(part, ctype)
            elif name == "package" and ctype in CHART_WORKBOOK_TYPES and types.of(source) == CHART_TYPE:
                plan.chart_workbooks.setdefault(part, CHART_WORKBOOK_TYPES[ctype])
            else:
                _drop_with_dependents(package, part, plan)
                if name not in SILENT_DROPS:
                    code = DROPPED_REL_CODES.get(name or "", "part_removed")
                    kind = "" if name in DROPPED_REL_CODES else f" ({ctype or 'no type'})"
                    plan.note(code, f"{label}: {part}{kind}")
                continue
            kept.append(Relationship(rel_id, transitional_rel_type(raw_type.strip()), _relative(source, part), False))
            ids.add(rel_id)
            if part in plan.xml_parts and part not in seen:
                seen.add(part)
                queue.append(part)
        plan.relationships[source] = kept
    return plan


def _drop_with_dependents(package: OoxmlPackage, part: str, plan: PartPlan) -> None:
    """A left-out part takes the parts only it names with it (already reported with it)."""
    pending = [part]
    while pending:
        current = pending.pop()
        if current in plan.dropped:
            continue
        plan.dropped.add(current)
        for rel in _read_rels(package, current):
            if rel.get("TargetMode", "").strip().lower() != "external":
                target = package.name(resolve_target(current, rel.get("Target", "")))
                if target is not None and not plan.kept(target):
                    pending.append(target)


def _relative(source: str, part: str) -> str:
    if not source:
        return part
    return posixpath.relpath(part, posixpath.dirname(source) or ".")


def unreferenced(package: OoxmlPackage, plan: PartPlan) -> list[str]:
    """Parts no kept relationship reaches (relationship files and the content types aside)."""
    return [name for name in package.infos
            if not plan.kept(name) and name not in plan.dropped and not name.lower().endswith(".rels")
            and name.lower() != "[content_types].xml"]


def write_rels(relationships: list[Relationship]) -> bytes:
    root = etree.Element(f"{{{REL_NS}}}Relationships", nsmap={None: REL_NS})
    for rel in relationships:
        element = etree.SubElement(root, f"{{{REL_NS}}}Relationship", Id=rel.rel_id, Type=rel.rel_type,
                                   Target=rel.target)
        if rel.external:
            element.set("TargetMode", "External")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))
