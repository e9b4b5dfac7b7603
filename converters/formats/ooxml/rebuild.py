"""OOXML rebuild (Word, Excel, PowerPoint): a new package written from an allowlist.

Parts are walked from the package relationships and kept only when reached through a content or
layout relationship and of an allowed content type (converters.formats.ooxml.relationships); pictures
are decoded and re-encoded (media); every XML part is parsed with a hardened parser, Strict
names read as Transitional, and written back with only allowed namespaces and no embedding or
running element (markup); Word fields not on the local list become their displayed result
(fields); Excel formulas that reach outside become their cached value (formulas). The
relationship files and [Content_Types].xml are written fresh. Macro-enabled packages come out as
the macro-free kind of the same document (a template stays a template)."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

from lxml import etree

from converters.base import Conversion, Converter, ConvertRequest, Finding, Output
from converters.errors import ConverterError, CorruptFile
from converters.formats.ooxml.fields import neutralise_fields
from converters.formats.ooxml.formulas import neutralise_formulas, neutralise_sources
from converters.formats.ooxml.markup import R_NS, S_NS, clean_markup, known_element
from converters.formats.ooxml.media import rewrite_picture
from converters.formats.ooxml.namespaces import (
    STRICT_TO_TRANSITIONAL,
    allowed_namespace,
    tidy_namespaces,
    to_transitional,
)
from converters.formats.ooxml.package import (
    ContentTypes,
    OoxmlPackage,
    parse_xml,
    rels_path_for,
    resolve_target,
    serialise,
    write_content_types,
)
from converters.formats.ooxml.relationships import PartPlan, plan_parts, unreferenced, write_rels
from converters.formats.zip_damage import zip_damage

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
MAIN_TYPES_LOWER = {key.lower(): value for key, value in MAIN_TYPES.items()}
OUTPUT_MIMES: frozenset[str] = frozenset(kind[2] for kind in MAIN_TYPES.values())
# what a damaged package raises besides zipfile's own errors (converters.formats.zip_damage words those):
# a part the directory lists but cannot give, a value that cannot be what the part says it is
DAMAGED = (KeyError, ValueError)


class OoxmlConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        try:
            with zip_damage("the document package"), zipfile.ZipFile(src) as archive:
                package = OoxmlPackage(archive, request, src.stat().st_size)
                return _Rebuild(package, out_dir, request).run()
        except DAMAGED as exc:
            raise CorruptFile("the document package is damaged") from exc


class _Rebuild:
    def __init__(self, package: OoxmlPackage, out_dir: Path, request: ConvertRequest) -> None:
        self.package, self.out_dir, self.request = package, out_dir, request
        self.types = ContentTypes(package)
        self.plan: PartPlan = plan_parts(package, self.types)

    def note(self, code: str, detail: str) -> None:
        self.plan.note(code, detail)

    def run(self) -> Conversion:
        plan = self.plan
        if not plan.main:
            raise CorruptFile("the document has no main part")
        main_type = self.types.of(plan.main)
        if main_type not in MAIN_TYPES_LOWER:
            raise CorruptFile(f"unsupported document kind ({main_type[:80] or 'unknown'})", code="unsupported_type")
        clean_type, extension, mime = MAIN_TYPES_LOWER[main_type]
        if clean_type.lower() != main_type:
            self.note("macro_enabled_type_converted", f"macro-enabled -> {extension}")
        for part in unreferenced(self.package, plan):
            self.note("unreferenced_part_removed", part[:120])
        plan.xml_parts[plan.main] = clean_type
        self._drop_unknown_roots()
        name = f"{self.request.stem}.{extension}"
        try:
            self._write(self.out_dir / name)
        except BaseException:
            (self.out_dir / name).unlink(missing_ok=True)
            raise
        findings = [Finding(code, detail) for code, detail in plan.findings]
        return Conversion("sanitized" if findings else "passed", [Output(name, mime)], findings)

    def _drop_unknown_roots(self) -> None:
        """A part (other than the main one) whose root is in an Office namespace but is not an
        element the schemas define for it (a pre-release name, or something made up) stays behind
        with the relationships to it, reported; the main part's root is judged when it is cleaned."""
        for part in sorted(self.plan.xml_parts):
            tag = self.package.root_tag(part) if part != self.plan.main else None
            if tag is None or not tag.startswith("{"):
                continue
            namespace, _, local = tag[1:].partition("}")
            namespace = STRICT_TO_TRANSITIONAL.get(namespace, namespace)
            if allowed_namespace(namespace) and not known_element(f"{{{namespace}}}{local}"):
                self.note("part_removed", f"{part}: its root element {local[:40]} of {namespace[:80]} is not "
                                          "one the schemas define")
                del self.plan.xml_parts[part]

    def _binaries(self) -> dict[str, tuple[bytes, str]]:
        """Every picture re-encoded and every chart's workbook rebuilt; one that cannot be is
        dropped together with the relationships to it."""
        kept: dict[str, tuple[bytes, str]] = {}
        for part in sorted(self.plan.image_parts):
            result = rewrite_picture(self.package.read(part), part, self.request, self.out_dir)
            if isinstance(result, str):
                self.note("media_removed", f"{part}: {result}")
                continue
            data, ctype, notes = result
            for code, detail in notes:
                self.note(code, f"{part}: {detail}")
            kept[part] = (data, ctype)
        for part, ctype in sorted(self.plan.chart_workbooks.items()):
            workbook = self._chart_workbook(part, ctype)
            if workbook is not None:
                kept[part] = (workbook, ctype)
        for source, relationships in self.plan.relationships.items():
            self.plan.relationships[source] = [
                rel for rel in relationships if rel.external or self._target_kept(source, rel.target, kept)]
        return kept

    def _chart_workbook(self, part: str, ctype: str) -> bytes | None:
        """A chart's data workbook, rebuilt by this same converter one level down."""
        if self.request.depth >= 1:
            self.note("embedded_object_removed", f"{part}: a chart's workbook inside a chart's workbook")
            return None
        with tempfile.TemporaryDirectory(dir=self.out_dir) as scratch:
            source = Path(scratch) / "chart.xlsx"
            with source.open("wb") as sink:
                self.package.copy(part, sink)
            inner = replace(self.request, stem="chart-data", original_name=part, depth=self.request.depth + 1,
                            detected_type=ctype)
            try:
                conversion = OoxmlConverter().convert(source, Path(scratch), inner)
            except ConverterError as exc:
                self.note("embedded_object_removed", f"{part}: {exc.reason}")
                return None
            for finding in conversion.findings:
                self.note(finding.code, f"{part}: {finding.detail}")
            return (Path(scratch) / conversion.outputs[0].path).read_bytes()

    def _target_kept(self, source: str, target: str, pictures: dict[str, tuple[bytes, str]]) -> bool:
        part = self.package.name(resolve_target(source, target)) or ""
        return part in self.plan.xml_parts or part in pictures

    def _write(self, target: Path) -> None:
        pictures = self._binaries()
        written: dict[str, str] = {}
        main_dir = self.plan.main.split("/", 1)[0].lower() + "/"
        # [Content_Types].xml, the package relationships, then the main part's folder: the order
        # file-type sniffers (libmagic) expect of a Word/Excel/PowerPoint file
        order = sorted([*self.plan.xml_parts, *pictures], key=lambda p: (not p.lower().startswith(main_dir), p))
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as output:
            for part in order:
                written[part] = self.plan.xml_parts.get(part) or pictures[part][1]
            output.writestr("[Content_Types].xml", write_content_types(written))
            output.writestr("_rels/.rels", write_rels(self.plan.relationships.get("", [])))
            for part in order:
                if part in pictures:
                    output.writestr(part, pictures[part][0])
                    continue
                output.writestr(part, self._clean_xml(part))
                relationships = self.plan.relationships.get(part, [])
                if relationships:
                    output.writestr(rels_path_for(part), write_rels(relationships))

    def _clean_xml(self, part: str) -> bytes:
        data = self.package.read(part)
        root = parse_xml(data, part)
        if b"purl.oclc.org/ooxml" in data:  # (names hidden behind character references stay unknown: dropped)
            root = to_transitional(root, lambda strict: parse_xml(strict, part))
        root_namespace = etree.QName(root).namespace or ""
        legacy_vml = not root_namespace and etree.QName(root).localname == "xml"  # a VML drawing's root
        if not legacy_vml and (not root_namespace or not allowed_namespace(root_namespace)):
            raise CorruptFile(f"the document part {part} is not Office markup (its root is in "
                              f"{'no namespace' if not root_namespace else 'an unknown namespace'})")
        if not legacy_vml and not known_element(root.tag):
            raise CorruptFile(f"the document part {part} is not Office markup (its root element "
                              f"{etree.QName(root).localname[:40]} is not one the schemas define)")
        findings_before = len(self.plan.findings)
        kept_ids = {rel.rel_id for rel in self.plan.relationships.get(part, [])}
        link_ids = frozenset(rel.rel_id for rel in self.plan.relationships.get(part, []) if rel.external)
        removed_sheets = [sheet.get("name", "") for sheet in root.iter(f"{{{S_NS}}}sheet")
                          if sheet.get(f"{{{R_NS}}}id", "").strip() not in kept_ids]
        clean_markup(root, part, kept_ids, self.note, data, link_ids)
        neutralise_fields(root, part, self.note)
        neutralise_formulas(root, part, self.note, removed_sheets)
        neutralise_sources(root, part, self.note)
        if len(self.plan.findings) != findings_before or b"purl.oclc.org/ooxml" in data:
            tidy_namespaces(root)  # declarations only removed markup used
        return serialise(root)

