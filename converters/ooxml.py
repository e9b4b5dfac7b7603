"""OOXML rebuild (Word, Excel, PowerPoint): a new package without macros, ActiveX, embedded
objects, external links, DDE, data connections, UI callbacks or web extensions.

The package is rewritten part by part. Parts are dropped by content type and by relationship
type; every relationship with ``TargetMode="External"`` goes, except plain http(s)/mailto
hyperlinks. XML elements that pointed at a removed relationship are removed too (an embedded
object keeps its preview picture and gets a visible note), DDE / INCLUDE fields lose their
instructions, and Excel formulas that reach outside the workbook (``[1]Sheet!A1``, ``cmd|...``)
are replaced by their cached values. Macro-enabled packages come out as the macro-free type.
XML with a DOCTYPE (entity bombs, external entities) is refused before any parsing.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree

from converters.base import Conversion, Converter, ConvertRequest, Finding, Output
from converters.detect import OOXML_PACKAGE_TYPES
from converters.errors import CorruptFile, DecompressionBomb, EncryptedArchive, TooManyMembers

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# main part content type -> (macro-free content type, extension, package mime)
_WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml"
_EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_PPT = "application/vnd.openxmlformats-officedocument.presentationml"
DOCX = (f"{_WORD}.document.main+xml", "docx", f"{_WORD}.document")
DOTX = (f"{_WORD}.template.main+xml", "dotx", f"{_WORD}.template")
XLSX = (f"{_EXCEL}.sheet.main+xml", "xlsx", f"{_EXCEL}.sheet")
XLTX = (f"{_EXCEL}.template.main+xml", "xltx", f"{_EXCEL}.template")
PPTX = (f"{_PPT}.presentation.main+xml", "pptx", f"{_PPT}.presentation")
PPSX = (f"{_PPT}.slideshow.main+xml", "ppsx", f"{_PPT}.slideshow")
POTX = (f"{_PPT}.template.main+xml", "potx", f"{_PPT}.template")
MAIN_TYPES: dict[str, tuple[str, str, str]] = {
    DOCX[0]: DOCX, DOTX[0]: DOTX, XLSX[0]: XLSX, XLTX[0]: XLTX, PPTX[0]: PPTX, PPSX[0]: PPSX,
    POTX[0]: POTX,
    "application/vnd.ms-word.document.macroEnabled.main+xml": DOCX,
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": DOTX,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": XLSX,
    "application/vnd.ms-excel.template.macroEnabled.main+xml": XLTX,
    "application/vnd.ms-excel.addin.macroEnabled.main+xml": XLSX,
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": PPTX,
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": PPSX,
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": POTX,
}
OUTPUT_MIMES: frozenset[str] = frozenset(kind[2] for kind in MAIN_TYPES.values())

# content type -> finding code, for parts that never leave
DROPPED_CONTENT_TYPES: dict[str, str] = {
    "application/vnd.ms-office.vbaProject": "vba_macro_removed",
    "application/vnd.ms-word.vbaData+xml": "vba_macro_removed",
    "application/vnd.ms-office.vbaProjectSignature": "vba_macro_removed",
    "application/vnd.ms-office.vbaProjectSignatureAgile": "vba_macro_removed",
    "application/vnd.ms-office.vbaProjectSignatureV3": "vba_macro_removed",
    "application/vnd.ms-excel.macrosheet+xml": "excel4_macro_removed",
    "application/vnd.ms-excel.intlmacrosheet+xml": "excel4_macro_removed",
    "application/vnd.ms-excel.dialogsheet+xml": "excel4_macro_removed",
    "application/vnd.ms-office.activeX+xml": "activex_removed",
    "application/vnd.ms-office.activeX": "activex_removed",
    "application/vnd.openxmlformats-officedocument.oleObject": "embedded_object_removed",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml": "external_link_removed",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml": "data_connection_removed",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.queryTable+xml": "data_connection_removed",
    "application/vnd.ms-word.attachedToolbars": "vba_macro_removed",
    "application/vnd.ms-word.keyMapCustomizations+xml": "vba_macro_removed",
    "application/vnd.ms-office.webextension+xml": "web_extension_removed",
    "application/vnd.ms-office.webextensiontaskpanes+xml": "web_extension_removed",
}
# relationship type (last path segment) -> finding code, for targets that never leave
DROPPED_REL_TYPES: dict[str, str] = {
    "vbaProject": "vba_macro_removed", "wordVbaData": "vba_macro_removed",
    "vbaProjectSignature": "vba_macro_removed", "attachedToolbars": "vba_macro_removed",
    "keyMapCustomizations": "vba_macro_removed",
    "xlMacrosheet": "excel4_macro_removed", "xlIntlMacrosheet": "excel4_macro_removed",
    "dialogsheet": "excel4_macro_removed",
    "control": "activex_removed", "activeXControl": "activex_removed",
    "activeXControlBinary": "activex_removed",
    "oleObject": "embedded_object_removed", "package": "embedded_object_removed",
    "aFChunk": "embedded_object_removed",
    "externalLink": "external_link_removed", "externalLinkPath": "external_link_removed",
    "attachedTemplate": "remote_template_removed", "frame": "external_link_removed",
    "subDocument": "external_link_removed",
    "connections": "data_connection_removed", "queryTable": "data_connection_removed",
    "extensibility": "custom_ui_removed", "ui/extensibility": "custom_ui_removed",
    "webextension": "web_extension_removed", "webextensiontaskpanes": "web_extension_removed",
    "taskpanes": "web_extension_removed",
}
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")
# elements left empty (and then invalid) once their children are removed
EMPTY_CONTAINERS = frozenset({"oleObjects", "controls", "externalReferences", "webPublishItems"})
FIELD_RISK = re.compile(r"^\s*(DDE|DDEAUTO|INCLUDETEXT|INCLUDEPICTURE|IMPORT|LINK|INCLUDE|MACROBUTTON)\b",
                        re.IGNORECASE)
FORMULA_RISK = re.compile(r"\[\d+\]|\||\bDDE\b|\bCALL\s*\(|\bREGISTER(\.ID)?\s*\(|\bEXEC\s*\(",
                          re.IGNORECASE)
PLACEHOLDER = "[埋め込みオブジェクトを削除しました / embedded object removed]"
MAX_XML_PART_BYTES = 256 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=False)


def parse_xml(data: bytes, part: str) -> etree._Element:
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise CorruptFile(f"the document part {part} declares a DTD (entity bomb or external entity)",
                          code="xml_dtd_forbidden")
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CorruptFile(f"the document part {part} is not well-formed XML") from exc


def serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def rel_type_name(rel_type: str) -> str:
    for suffix in ("ui/extensibility",):
        if rel_type.endswith(suffix):
            return suffix
    return rel_type.rstrip("/").rsplit("/", 1)[-1]


def rels_path_for(part: str) -> str:
    directory, name = posixpath.split(part)
    return posixpath.join(directory, "_rels", f"{name}.rels")


def source_of_rels(rels: str) -> str:
    directory, name = posixpath.split(rels)
    return posixpath.join(posixpath.dirname(directory), name[: -len(".rels")])


def resolve_target(source: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


@dataclass
class _Plan:
    drop_parts: set[str] = field(default_factory=set)
    drop_codes: dict[str, str] = field(default_factory=dict)  # part -> why it was dropped
    removed_ids: dict[str, set[str]] = field(default_factory=dict)  # source part -> rIds
    findings: dict[tuple[str, str], None] = field(default_factory=dict)

    def note(self, code: str, detail: str) -> None:
        self.findings[(code, detail)] = None


class OoxmlPackage:
    """Reads a package under limits; names are case-insensitive as OPC requires."""

    def __init__(self, archive: zipfile.ZipFile, request: ConvertRequest, compressed: int) -> None:
        self.archive = archive
        limits = request.limits
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > limits.archive_max_members:
            raise TooManyMembers("the document holds too many parts")
        if any(i.flag_bits & 0x1 for i in infos):
            raise EncryptedArchive("the document package is encrypted")
        declared = sum(i.file_size for i in infos)
        if declared > limits.archive_max_total_bytes or (
                declared > limits.archive_ratio_grace_bytes and declared > limits.archive_max_ratio * compressed):
            raise DecompressionBomb("the document expands far more than documents do (zip bomb)")
        self.infos = {i.filename.lstrip("/"): i for i in infos}
        self.lower = {name.lower(): name for name in self.infos}

    def name(self, part: str) -> str | None:
        return self.lower.get(part.lower())

    def read(self, part: str) -> bytes:
        info = self.infos[part]
        with self.archive.open(info) as handle:
            data = handle.read(MAX_XML_PART_BYTES + 1)
        if len(data) > MAX_XML_PART_BYTES:
            raise DecompressionBomb(f"the document part {part} is too large")
        return data

    def copy(self, part: str, target: IO[bytes]) -> None:
        with self.archive.open(self.infos[part]) as handle:
            while chunk := handle.read(1024 * 1024):
                target.write(chunk)


def _content_types(package: OoxmlPackage) -> tuple[etree._Element, dict[str, str], dict[str, str]]:
    name = package.name("[Content_Types].xml")
    if name is None:
        raise CorruptFile("the document has no [Content_Types].xml")
    root = parse_xml(package.read(name), name)
    defaults = {el.get("Extension", "").lower(): el.get("ContentType", "")
                for el in root.iter(f"{{{CT_NS}}}Default")}
    overrides = {el.get("PartName", "").lstrip("/").lower(): el.get("ContentType", "")
                 for el in root.iter(f"{{{CT_NS}}}Override")}
    return root, defaults, overrides


def _part_type(part: str, defaults: dict[str, str], overrides: dict[str, str]) -> str:
    ext = part.rsplit(".", 1)[-1].lower() if "." in part else ""
    return overrides.get(part.lower(), defaults.get(ext, ""))


def _plan(package: OoxmlPackage, defaults: dict[str, str], overrides: dict[str, str],
          rels: dict[str, etree._Element]) -> _Plan:
    plan = _Plan()
    for part in package.infos:
        ctype = _part_type(part, defaults, overrides)
        if ctype in DROPPED_CONTENT_TYPES:
            plan.drop_parts.add(part.lower())
            plan.drop_codes[part.lower()] = DROPPED_CONTENT_TYPES[ctype]
            plan.note(DROPPED_CONTENT_TYPES[ctype], part)
        elif part.lower().endswith(".bin") and "embeddings/" in part.lower():
            plan.drop_parts.add(part.lower())
            plan.note("embedded_object_removed", part)
    changed = True
    while changed:  # a dropped part's own relationships are dropped with it
        changed = False
        for rels_name, root in rels.items():
            source = source_of_rels(rels_name)
            if source.lower() in plan.drop_parts and rels_name.lower() not in plan.drop_parts:
                plan.drop_parts.add(rels_name.lower())
                changed = True
            for rel in root.findall(f"{{{REL_NS}}}Relationship"):
                kind = rel_type_name(rel.get("Type", ""))
                target = rel.get("Target", "")
                external = rel.get("TargetMode", "").lower() == "external"
                reason = None
                if kind in DROPPED_REL_TYPES:
                    reason = DROPPED_REL_TYPES[kind]
                elif external and not (kind == "hyperlink" and target.lower().startswith(SAFE_LINK_SCHEMES)):
                    reason = "external_link_removed"
                elif not external and resolve_target(source, target).lower() in plan.drop_parts:
                    reason = plan.drop_codes.get(resolve_target(source, target).lower(), "embedded_object_removed")
                if reason == "embedded_object_removed" and external:
                    reason = "external_object_removed"  # Follina-style remote OLE / MHTML reference
                if reason is None:
                    continue
                ids = plan.removed_ids.setdefault(source.lower(), set())
                if rel.get("Id", "") not in ids:
                    ids.add(rel.get("Id", ""))
                    plan.note(reason, f"{kind}: {target[:120]}" if external else f"{kind}: {source}")
                    changed = True
                if not external:
                    target_part = resolve_target(source, target).lower()
                    if target_part not in plan.drop_parts and package.name(target_part) is not None:
                        plan.drop_parts.add(target_part)
                        changed = True
    return plan


def _remove_referencing(root: etree._Element, ids: set[str], word: bool) -> int:
    """Remove elements that carry an r:* attribute naming a removed relationship."""
    removed = 0
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        hit = any(name.startswith(f"{{{R_NS}}}") and value in ids for name, value in element.attrib.items())
        if not hit:
            continue
        parent = element.getparent()
        if parent is None:
            continue
        local = etree.QName(element).localname
        if word and local in ("OLEObject", "control") and parent.getparent() is not None:
            run = parent.getparent()
            if etree.QName(run).localname == "r":
                note = etree.SubElement(run, f"{{{W_NS}}}t")
                note.text = PLACEHOLDER
                note.set(f"{{{XML_NS}}}space", "preserve")
        parent.remove(element)
        removed += 1
        if etree.QName(parent).localname in EMPTY_CONTAINERS and len(parent) == 0:
            grandparent = parent.getparent()
            if grandparent is not None:
                grandparent.remove(parent)
    return removed


def _neutralise_fields(root: etree._Element, plan: _Plan, part: str) -> bool:
    changed = False
    for simple in root.iter(f"{{{W_NS}}}fldSimple"):
        instruction = simple.get(f"{{{W_NS}}}instr", "")
        if FIELD_RISK.match(instruction):
            plan.note("dde_field_removed", f"{part}: {instruction.strip()[:60]}")
            simple.set(f"{{{W_NS}}}instr", "")
            changed = True
    for text in root.iter(f"{{{W_NS}}}instrText"):
        if text.text and FIELD_RISK.match(text.text):
            plan.note("dde_field_removed", f"{part}: {text.text.strip()[:60]}")
            text.text = ""
            changed = True
    return changed


AUTO_MACRO_NAME = re.compile(r"^(_xlnm\.)?auto_(open|close|activate|deactivate)", re.IGNORECASE)


def _remove_macro_names(root: etree._Element, removed_sheets: list[str], plan: _Plan, part: str) -> bool:
    """Defined names that start macros (Auto_Open ...) or point into removed macro sheets."""
    changed = False
    for name in list(root.iter(f"{{{S_NS}}}definedName")):
        target = name.text or ""
        points_into_removed = any(re.search(rf"(^|[^\w.]){re.escape(sheet)}'?!", target) for sheet in removed_sheets)
        if AUTO_MACRO_NAME.match(name.get("name", "")) or points_into_removed:
            plan.note("excel4_macro_removed", f"{part}: defined name {name.get('name', '')[:40]}")
            parent = name.getparent()
            if parent is not None:
                parent.remove(name)
                changed = True
                if len(parent) == 0 and parent.getparent() is not None:
                    parent.getparent().remove(parent)
    return changed


def _neutralise_formulas(root: etree._Element, plan: _Plan, part: str) -> bool:
    changed = False
    for formula in list(root.iter(f"{{{S_NS}}}f")):
        if formula.text and FORMULA_RISK.search(formula.text):
            plan.note("excel_external_formula_removed", f"{part}: {formula.text[:60]}")
            parent = formula.getparent()
            if parent is not None:
                parent.remove(formula)
                changed = True
    return changed


class OoxmlConverter(Converter):
    name = "ooxml-rebuild"
    input_types = frozenset(OOXML_PACKAGE_TYPES.values()) - {
        "application/vnd.ms-excel.sheet.binary.macroEnabled.12"}

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        try:
            with zipfile.ZipFile(src) as archive:
                package = OoxmlPackage(archive, request, src.stat().st_size)
                return self._rebuild(package, out_dir, request)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError, ValueError) as exc:
            raise CorruptFile("the document package is damaged") from exc

    def _rebuild(self, package: OoxmlPackage, out_dir: Path, request: ConvertRequest) -> Conversion:
        types_root, defaults, overrides = _content_types(package)
        rels = {name: parse_xml(package.read(name), name)
                for name in package.infos if name.lower().endswith(".rels")}
        main = self._main_part(package, rels)
        main_type = _part_type(main, defaults, overrides)
        if main_type not in MAIN_TYPES:
            raise CorruptFile(f"unsupported document kind ({main_type or 'unknown'})", code="unsupported_type")
        clean_type, extension, mime = MAIN_TYPES[main_type]
        plan = _plan(package, defaults, overrides, rels)
        if clean_type != main_type:
            plan.note("macro_enabled_type_converted", f"{main_type.split('.')[-2]} -> {extension}")
        word = main_type.startswith(("application/vnd.ms-word", _WORD))
        name = f"{request.stem}.{extension}"
        try:
            self._write(package, out_dir / name, types_root, rels, plan, main, clean_type, defaults, overrides, word)
        except BaseException:
            (out_dir / name).unlink(missing_ok=True)
            raise
        findings = [Finding(code, detail) for code, detail in plan.findings]
        return Conversion("sanitized" if findings else "passed", [Output(name, mime)], findings)

    def _write(self, package: OoxmlPackage, target: Path, types_root: etree._Element, rels: dict[str, etree._Element],
               plan: _Plan, main: str, clean_type: str, defaults: dict[str, str], overrides: dict[str, str],
               word: bool) -> None:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as output:
            self._write_content_types(output, types_root, plan, package, main, clean_type)
            main_dir = main.split("/", 1)[0].lower() + "/"
            # [Content_Types].xml, the package relationships, then the main part's folder: the order
            # file-type sniffers (libmagic) expect of a Word/Excel/PowerPoint file
            order = sorted(package.infos,
                           key=lambda p: (p.lower() != "_rels/.rels", not p.lower().startswith(main_dir)))
            for part in order:
                lowered = part.lower()
                if lowered in plan.drop_parts or lowered == "[content_types].xml":
                    continue
                if lowered.endswith(".rels"):
                    output.writestr(part, self._filtered_rels(rels[part], plan.removed_ids.get(
                        source_of_rels(part).lower(), set())))
                    continue
                ctype = _part_type(part, defaults, overrides)
                if ctype.endswith("xml") and self._needs_edit(part, plan, ctype):
                    output.writestr(part, self._edited(package.read(part), part, plan, word))
                else:
                    with output.open(part, "w") as sink:
                        package.copy(part, sink)

    @staticmethod
    def _main_part(package: OoxmlPackage, rels: dict[str, etree._Element]) -> str:
        root_rels = rels.get(package.name("_rels/.rels") or "")
        if root_rels is None:
            raise CorruptFile("the document has no package relationships")
        for rel in root_rels.findall(f"{{{REL_NS}}}Relationship"):
            if rel_type_name(rel.get("Type", "")) == "officeDocument":
                target = package.name(resolve_target("", rel.get("Target", "")))
                if target is not None:
                    return target
        raise CorruptFile("the document has no main part")

    @staticmethod
    def _needs_edit(part: str, plan: _Plan, ctype: str) -> bool:
        return (part.lower() in plan.removed_ids or "wordprocessingml" in ctype or "ms-word" in ctype
                or ctype.endswith(("worksheet+xml", "sheet.main+xml", "macroEnabled.main+xml", "template.main+xml")))

    @staticmethod
    def _edited(data: bytes, part: str, plan: _Plan, word: bool) -> bytes:
        root = parse_xml(data, part)
        changed = False
        ids = plan.removed_ids.get(part.lower(), set())
        removed_sheets = [sheet.get("name", "") for sheet in root.iter(f"{{{S_NS}}}sheet")
                          if any(k.startswith(f"{{{R_NS}}}") and v in ids for k, v in sheet.attrib.items())]
        if ids:
            changed = _remove_referencing(root, ids, word) > 0
        if not word:
            changed = _remove_macro_names(root, removed_sheets, plan, part) or changed
        if word:
            changed = _neutralise_fields(root, plan, part) or changed
        else:
            changed = _neutralise_formulas(root, plan, part) or changed
        return serialise(root) if changed else data

    @staticmethod
    def _filtered_rels(root: etree._Element, ids: set[str]) -> bytes:
        for rel in root.findall(f"{{{REL_NS}}}Relationship"):
            if rel.get("Id", "") in ids:
                root.remove(rel)
        return serialise(root)

    @staticmethod
    def _write_content_types(output: zipfile.ZipFile, root: etree._Element, plan: _Plan,
                             package: OoxmlPackage, main: str, clean_type: str) -> None:
        for element in list(root):
            if etree.QName(element).localname == "Override":
                part = element.get("PartName", "").lstrip("/").lower()
                if part in plan.drop_parts or package.name(part) is None:
                    root.remove(element)
                elif part == main.lower():
                    element.set("ContentType", clean_type)
            elif etree.QName(element).localname == "Default" and element.get("ContentType", "") in (
                    DROPPED_CONTENT_TYPES):
                root.remove(element)
        output.writestr("[Content_Types].xml", serialise(root))
