"""OpenDocument rebuild (odt, ods, odp, odg and templates): the same format without Basic or
other scripts, event listeners, OLE objects, external links, DDE or linked sections.

Removed: ``Basic/`` and ``Scripts/`` libraries at any level, ``office:event-listeners`` and
``office:scripts`` content, ``draw:object-ole`` / applets / plugins / floating frames, DDE
declarations and fields (the cached text stays), linked sections and sheets, external database
sources, the template link and auto-reload in meta.xml, XForms submissions and instances or
schemas loaded from a location, picture bytes written inside the XML (``office:binary-data``).
Attributes other than ``xlink:href`` that load something are allowlists too: an image control's
``form:image-data`` names a part of the package, a data source (``form:datasource``,
``text:database-name``, ``table:database-name``) is a registered name, never a file or server.

Links and references are allowlists (``converters.formats.odf_references``): a link (``text:a``,
``draw:a``, any ``xlink:href``) stays only to http, https, mailto or a place in the document -
any other link (``file:``, UNC, relative paths, ``vnd.sun.star.script:``...) becomes plain text,
its visible text kept; pictures, objects, fill images, fonts and sounds must be parts of the
package. Formulas in cells, validation conditions, conditional formats (``style:map``,
``calcext:condition``) and named expressions that call DDE, WEBSERVICE or FILTERXML, HYPERLINK to
anything but http(s)/mailto, or refer to another document are removed; a cell keeps its cached
value. Embedded ODF sub-documents (charts) stay and are cleaned the same way. Encrypted packages
are blocked as password-protected.

Parts are an allowlist of kinds (``converters.formats.odf_parts``): the XML streams, pictures
re-encoded, the thumbnail, the RDF metadata and the manifest, both written afresh
(``converters.formats.odf_manifest``); every other part goes, and a reference to a part that went
goes with it.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from lxml import etree

from converters.base import Conversion, Converter, ConvertRequest, Finding, Output
from converters.errors import CorruptFile, DecompressionBomb, PasswordProtected, TooManyMembers
from converters.formats.odf_allowlist import detach, keep_known
from converters.formats.odf_manifest import check_manifest, empty_manifest, listed, write_manifest, write_rdf
from converters.formats.odf_parts import (
    MANIFEST,
    MIMETYPE,
    folders,
    part_kind,
    reference_target,
    removal,
    rewrite_part_picture,
)
from converters.formats.odf_references import address_risk, allowed_link, formula_risk, inside_package
from converters.formats.ooxml import MAX_XML_PART_BYTES, parse_xml, serialise
from converters.formats.zip_damage import file_members, zip_damage
from converters.protocol import ODF_TYPES

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "form": "urn:oasis:names:tc:opendocument:xmlns:form:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
    "anim": "urn:oasis:names:tc:opendocument:xmlns:animation:1.0",
    "xforms": "http://www.w3.org/2002/xforms",
    "xsd": "http://www.w3.org/2001/XMLSchema",
}
# The prefix each namespace is written with (ODF 1.3 and what LibreOffice and Office add). A part that
# binds one of these prefixes to another namespace, or one of these namespaces to another prefix, is
# written again with these bindings only: the application reads names by namespace, a byte-level
# reader (the inspector, a scanner) by prefix, and both must read the same element.
CANONICAL_PREFIXES: dict[str, str] = {
    **NS,
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "number": "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0",
    "chart": "urn:oasis:names:tc:opendocument:xmlns:chart:1.0",
    "dr3d": "urn:oasis:names:tc:opendocument:xmlns:dr3d:1.0",
    "math": "http://www.w3.org/1998/Math/MathML",
    "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0",
    "db": "urn:oasis:names:tc:opendocument:xmlns:database:1.0",
    "smil": "urn:oasis:names:tc:opendocument:xmlns:smil-compatible:1.0",
    "anim": "urn:oasis:names:tc:opendocument:xmlns:animation:1.0",
    "of": "urn:oasis:names:tc:opendocument:xmlns:of:1.2",
    "ooo": "http://openoffice.org/2004/office",
    "ooow": "http://openoffice.org/2004/writer",
    "oooc": "http://openoffice.org/2004/calc",
    "dom": "http://www.w3.org/2001/xml-events",
    "xforms": "http://www.w3.org/2002/xforms",
    "xsd": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "rpt": "http://openoffice.org/2005/report",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "grddl": "http://www.w3.org/2003/g/data-view#",
    "officeooo": "http://openoffice.org/2009/office",
    "tableooo": "http://openoffice.org/2009/table",
    "drawooo": "http://openoffice.org/2010/draw",
    "loext": "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0",
    "field": "urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0",
    "formx": "urn:openoffice:names:experimental:ooxml-odf-interop:xmlns:form:1.0",
    "css3t": "http://www.w3.org/TR/css3-text/",
    "msoxl": "http://schemas.microsoft.com/office/excel/formula",
}
CANONICAL_NAMESPACES = {uri: prefix for prefix, uri in CANONICAL_PREFIXES.items()}
SCRIPT_LINK = re.compile(r"^\s*(vnd\.sun\.star\.script:|macro:|javascript:|vbscript:|vnd\.sun\.star\.basic:)",
                         re.IGNORECASE)
REMOVED_ELEMENTS: dict[str, str] = {  # "prefix:local" -> finding code
    "office:event-listeners": "script_event_removed",
    "script:event-listener": "script_event_removed",
    "presentation:event-listener": "script_event_removed",
    "draw:object-ole": "embedded_object_removed",
    "draw:applet": "embedded_object_removed",
    "draw:plugin": "embedded_object_removed",
    "draw:floating-frame": "external_link_removed",
    "text:dde-connection-decls": "dde_field_removed",
    "table:dde-links": "dde_field_removed",
    "office:dde-source": "dde_field_removed",
    "text:section-source": "external_link_removed",
    "table:table-source": "external_link_removed",
    "table:cell-range-source": "external_link_removed",
    "table:database-source-sql": "data_connection_removed",
    "table:database-source-table": "data_connection_removed",
    "table:database-source-query": "data_connection_removed",
    "table:source-service": "data_connection_removed",
    "table:error-macro": "script_event_removed",
    "text:script": "script_event_removed",
    "meta:auto-reload": "external_link_removed",
    "text:alphabetical-index-auto-mark-file": "external_link_removed",
    "form:connection-resource": "data_connection_removed",  # the database a form or field opens
    "office:binary-data": "media_removed",  # picture bytes inside the XML: pictures are parts of the package
    "xforms:submission": "external_link_removed",  # sends the form's data to a URL or writes it to a file
}
UNWRAPPED_ELEMENTS: dict[str, str] = {  # keep the text inside, drop the element
    "text:dde-connection": "dde_field_removed",
    "text:execute-macro": "script_event_removed",
}


def _qname(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


REMOVED = {_qname(k): v for k, v in REMOVED_ELEMENTS.items()}
CHART = f"{{{CANONICAL_PREFIXES['chart']}}}chart"
STREAM_ROOTS = {stream: f"{{{NS['office']}}}{element}" for stream, element in (
    ("content.xml", "document-content"), ("styles.xml", "document-styles"), ("meta.xml", "document-meta"),
    ("settings.xml", "document-settings"))}  # each XML stream's root, in the package and in every Object N/
CHART_DATA_SOURCES = frozenset({".", ".."})  # the chart's own object, or the document it is embedded in
UNWRAPPED = {_qname(k): v for k, v in UNWRAPPED_ELEMENTS.items()}
HREF = _qname("xlink:href")
# elements a person follows: an unsafe target unwraps them (their text and shapes stay)
LINKS = {_qname("text:a"), _qname("draw:a")}
# elements whose xlink:href is loaded with the document: removed unless it names a part of the package;
# for these two only the reference goes (the element may hold the picture itself as binary data)
PACKAGE_REFERENCES = {_qname(name) for name in (
    "draw:image", "draw:object", "draw:fill-image", "style:background-image", "svg:font-face-uri",
    "presentation:sound", "anim:audio", "text:list-level-style-image", "svg:definition-src")}
# attributes other than xlink:href that the application loads from with the document: a part of the package only
PACKAGE_ATTRIBUTES = {_qname("form:image-data")}  # the picture of an image control or button
# where a form or a database field reads its data: a data source registered on the reader's machine,
# by name; a location (file:, a share, sdbc:...) is another file or server opened with the document
DATA_SOURCE_ATTRIBUTES = {_qname(name) for name in ("form:datasource", "text:database-name", "table:database-name")}
REGISTERED_NAME = re.compile(r"^\w[\w .()\-]*$")
# XForms and XML Schema are foreign vocabularies ODF embeds; only what a form's model holds stays:
# the model, its instance data written inline and its bindings, and simple data types
XFORMS_ELEMENTS = {_qname(f"xforms:{local}") for local in ("model", "instance", "bind")}
XSD_ELEMENTS = {_qname(f"xsd:{local}") for local in (
    "schema", "simpleType", "restriction", "length", "minLength", "maxLength", "pattern", "enumeration",
    "whiteSpace", "maxInclusive", "maxExclusive", "minInclusive", "minExclusive", "totalDigits", "fractionDigits")}
# unqualified attributes of those elements that name a location loaded with the model
XFORMS_LOCATIONS = {(_qname("xforms:instance"), "src"), (_qname("xforms:model"), "schema")}
REFERENCE_ONLY = {_qname("style:background-image"), _qname("text:list-level-style-image")}
# elements that mean nothing without their link (the template the document was made from)
NOTHING_WITHOUT_LINK = {_qname("meta:template")}
# (element, attribute holding a formula) -> what goes when it reaches out: "attribute" or "element"
FORMULA_PLACES: dict[tuple[str, str], str] = {
    (_qname("table:table-cell"), _qname("table:formula")): "attribute",  # the cached value stays
    (_qname("table:covered-table-cell"), _qname("table:formula")): "attribute",
    (_qname("table:content-validation"), _qname("table:condition")): "attribute",
    (_qname("style:map"), _qname("style:condition")): "element",
    (_qname("calcext:condition"), _qname("calcext:value")): "element",
    (_qname("calcext:formatting-entry"), _qname("calcext:value")): "parent",
    (_qname("calcext:color-scale-entry"), _qname("calcext:value")): "parent",
    (_qname("table:named-expression"), _qname("table:expression")): "element",
    (_qname("table:named-range"), _qname("table:cell-range-address")): "element",
}
FORMULA_ATTRIBUTES = {attribute for _, attribute in FORMULA_PLACES}
RANGE_ADDRESS = _qname("table:cell-range-address")
# the media type each kept kind of part is listed with (pictures: the type of the bytes written)
LISTED_AS = {"xml": "text/xml", "rdf": "application/rdf+xml"}
SVM_LISTED_AS = 'application/x-openoffice-gdimetafile;windows_formatname="GDIMetaFile"'


def _unwrap(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    previous = element.getprevious()
    text = element.text or ""
    if text:
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
    children = list(element)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)
    last = children[-1] if children else previous
    tail = element.tail or ""
    if tail:
        if last is not None and last is not element:
            last.tail = (last.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def _scrub_reference(element: etree._Element, href: str, findings: dict[tuple[str, str], None], part: str,
                     missing: frozenset[str]) -> bool:
    """Apply the link or package-reference allowlist to one ``xlink:href``; True when something changed.
    A reference to a part of the original that is not written (``missing``) goes as well."""
    tag = element.tag
    if tag in PACKAGE_REFERENCES:
        if inside_package(href):
            if reference_target(href, part) not in missing:
                return False
            if tag in REFERENCE_ONLY:
                del element.attrib[HREF]
            else:
                detach(element)
            return True
        findings[("external_link_removed", f"{part}: {href[:80]}")] = None
        if tag in REFERENCE_ONLY:
            del element.attrib[HREF]
        else:
            detach(element)
        return True
    if href == "":
        return False  # an empty reference is the document itself (Word's templates leave one)
    if tag == CHART:  # a chart's data source: only the document that holds it (LibreOffice writes "." or "..")
        if href in CHART_DATA_SOURCES:
            return False
        findings[("external_link_removed", f"{part}: {href.strip()[:80]}")] = None
        del element.attrib[HREF]
        return True
    clean = allowed_link(href)
    if clean is not None and not SCRIPT_LINK.match(clean):
        if clean != href:
            element.set(HREF, clean)  # what the allowlist saw is what the application reads
            return True
        return False
    code = "script_link_removed" if SCRIPT_LINK.match(href) else "external_link_removed"
    findings[(code, f"{part}: {href.strip()[:80]}")] = None
    if tag in LINKS:
        _unwrap(element)  # the link becomes its visible text (or its shapes)
    elif tag in NOTHING_WITHOUT_LINK:
        detach(element)
    else:
        del element.attrib[HREF]
    return True


def _scrub_foreign(element: etree._Element, findings: dict[tuple[str, str], None], part: str) -> bool:
    """XForms and XML Schema elements: only those of the allowlists stay, without a location to
    load; True when ``element`` itself went."""
    namespace = etree.QName(element).namespace
    if namespace not in (NS["xforms"], NS["xsd"]):
        return False
    if element.tag not in XFORMS_ELEMENTS | XSD_ELEMENTS:
        findings[("unknown_markup_removed", f"{part}: element {etree.QName(element).localname[:40]} of "
                                            f"{namespace}")] = None
        detach(element)
        return True
    for key, attribute in XFORMS_LOCATIONS:
        if element.tag == key and attribute in element.attrib:
            findings[("external_link_removed", f"{part}: {attribute}={element.get(attribute, '')[:80]}")] = None
            del element.attrib[attribute]
    return False


def _scrub_locations(element: etree._Element, findings: dict[tuple[str, str], None], part: str,
                     missing: frozenset[str]) -> bool:
    """Attributes other than ``xlink:href`` that load something: pictures from the package only,
    data sources by registered name only; True when something changed."""
    changed = False
    for attribute in PACKAGE_ATTRIBUTES.intersection(element.keys()):
        value = element.get(attribute, "")
        if inside_package(value) and reference_target(value, part) not in missing:
            continue
        if not inside_package(value):
            findings[("external_link_removed", f"{part}: {value.strip()[:80]}")] = None
        del element.attrib[attribute]
        changed = True
    for attribute in DATA_SOURCE_ATTRIBUTES.intersection(element.keys()):
        value = element.get(attribute, "")
        if not REGISTERED_NAME.match(value):
            findings[("data_connection_removed", f"{part}: {value.strip()[:80]}")] = None
            del element.attrib[attribute]
            changed = True
    return changed


def _remove_formula(element: etree._Element, attribute: str) -> None:
    what = FORMULA_PLACES.get((element.tag, attribute), "element" if attribute == RANGE_ADDRESS else "attribute")
    if what == "attribute":
        del element.attrib[attribute]
    elif what == "element":
        detach(element)
    else:
        parent = element.getparent()
        if parent is not None:
            detach(parent)


def scrub_xml(root: etree._Element, findings: dict[tuple[str, str], None], part: str,
              missing: frozenset[str] = frozenset()) -> bool:
    """Remove active and external content from one ODF XML part; True when something changed.
    Unknown elements and attributes go first (converters.formats.odf_allowlist); references to
    the package paths in ``missing`` (parts of the original not written) go too."""
    changed = keep_known(root, findings, part)
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        tag = element.tag
        if tag in REMOVED:
            findings[(REMOVED[tag], f"{part}: {etree.QName(element).localname}")] = None
            if element.getparent() is not None:
                detach(element)
                changed = True
            continue
        if tag in UNWRAPPED:
            findings[(UNWRAPPED[tag], f"{part}: {etree.QName(element).localname}")] = None
            _unwrap(element)
            changed = True
            continue
        if _scrub_foreign(element, findings, part):
            changed = True
            continue
        if _scrub_locations(element, findings, part, missing):
            changed = True
        href = element.get(HREF)
        if href is not None and _scrub_reference(element, href, findings, part, missing):
            changed = True
            if element.getparent() is None:
                continue
        for attribute in FORMULA_ATTRIBUTES & set(element.attrib):
            value = element.get(attribute, "")
            risk = address_risk(value) if attribute == RANGE_ADDRESS else formula_risk(value)
            if risk is not None:
                findings[("external_formula_removed", f"{part}: {risk}")] = None
                _remove_formula(element, attribute)
                changed = True
                break
    scripts = root.find(f".//{_qname('office:scripts')}")
    if scripts is not None and len(scripts):
        for child in list(scripts):
            scripts.remove(child)
        findings[("script_event_removed", f"{part}: office:scripts")] = None
        changed = True
    return changed


def _bindings_differ(root: etree._Element) -> bool:
    """True when a part binds a usual prefix to another namespace or a usual namespace to another
    prefix (the default namespace included)."""
    for _event, (prefix, uri) in etree.iterwalk(root, events=("start-ns",)):
        if prefix in CANONICAL_PREFIXES and CANONICAL_PREFIXES[prefix] != uri:
            return True
        if uri in CANONICAL_NAMESPACES and CANONICAL_NAMESPACES[uri] != prefix:
            return True
    return False


def _append_text(element: etree._Element, text: str | None) -> None:
    if not text:
        return
    children = list(element)
    if children:
        children[-1].tail = (children[-1].tail or "") + text
    else:
        element.text = (element.text or "") + text


def canonical_copy(root: etree._Element) -> etree._Element:
    """``root`` written again with the usual prefix of every namespace: the same elements,
    attributes and text (comments and processing instructions left out, their following text
    kept); a namespace outside the list gets a generated prefix."""
    copy = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=CANONICAL_PREFIXES)
    stack = [(root, copy)]
    while stack:
        original, written = stack.pop()
        written.text = original.text
        for child in original:
            if not isinstance(child.tag, str):
                _append_text(written, child.tail)
                continue
            element = etree.SubElement(written, child.tag, attrib=dict(child.attrib))
            element.tail = child.tail
            stack.append((child, element))
    return copy


def safe_member_name(name: str) -> bool:
    """A member name that is a plain path inside the package (no ``..``, root, drive or backslash)."""
    parts = name.split("/")
    return "\\" not in name and ":" not in name and all(part not in ("", ".", "..") for part in parts)


class OdfConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        extension = ODF_TYPES[request.detected_type]
        name = f"{request.stem}.{extension}"
        findings: dict[tuple[str, str], None] = {}
        try:
            with zip_damage("the OpenDocument package"), zipfile.ZipFile(src) as package:
                self._check_limits(package, request, src.stat().st_size)
                try:
                    self._rebuild(package, out_dir / name, findings, request, out_dir)
                except BaseException:
                    (out_dir / name).unlink(missing_ok=True)
                    raise
        except (KeyError, ValueError) as exc:  # a part the package lists but cannot give
            raise CorruptFile("the OpenDocument package is damaged") from exc
        result = [Finding(code, detail) for code, detail in findings]
        return Conversion("sanitized" if result else "passed", [Output(name, request.detected_type)], result)

    @staticmethod
    def _check_limits(package: zipfile.ZipFile, request: ConvertRequest, compressed: int) -> None:
        limits = request.limits
        infos = package.infolist()
        if len(infos) > limits.archive_max_members:
            raise TooManyMembers("the document holds too many parts")
        declared = sum(i.file_size for i in infos)
        if declared > limits.archive_max_total_bytes or (
                declared > limits.archive_ratio_grace_bytes and declared > limits.archive_max_ratio * compressed):
            raise DecompressionBomb("the document expands far more than documents do (zip bomb)")

    def _rebuild(self, package: zipfile.ZipFile, target: Path, findings: dict[tuple[str, str], None],
                 request: ConvertRequest, work: Path) -> None:
        names = list(dict.fromkeys(i.filename for i in file_members(package, "the OpenDocument package")))
        manifest = parse_xml(package.read(MANIFEST), MANIFEST) if MANIFEST in names else None
        if manifest is not None:
            if manifest.find(f".//{_qname('manifest:encryption-data')}") is not None:
                raise PasswordProtected("the document is password-protected and cannot be inspected")
            check_manifest(manifest)
        plan = self._plan(names, None if manifest is None else listed(manifest), findings)
        pictures: dict[str, tuple[bytes, str]] = {}
        for name, kind in plan.items():
            if kind in ("picture", "thumbnail"):
                result = rewrite_part_picture(package.read(name), name, request, work)
                if isinstance(result, str):
                    findings[("media_removed", f"{name}: {result}")] = None
                else:
                    pictures[name] = result
        kept = {name: pictures[name][1] if name in pictures else LISTED_AS[kind]
                for name, kind in plan.items() if kind in LISTED_AS or name in pictures}
        kept.update({name: SVM_LISTED_AS for name, (_data, media) in pictures.items() if media == "image/x-svm"})
        original, written = set(names), set(kept)
        missing = frozenset((original | folders(original)) - (written | folders(written)))
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as output:
            output.writestr(zipfile.ZipInfo(MIMETYPE), request.detected_type, compress_type=zipfile.ZIP_STORED)
            for name in names:
                if name in pictures:
                    output.writestr(name, pictures[name][0])
                elif name in kept:
                    output.writestr(name, self._xml_part(package, name, plan[name], findings, written, missing))
            fresh = write_manifest(manifest if manifest is not None else empty_manifest(request.detected_type), kept)
            output.writestr(MANIFEST, serialise(fresh))

    @staticmethod
    def _plan(names: list[str], in_manifest: set[str] | None, findings: dict[tuple[str, str], None]) -> dict[str, str]:
        """name -> kind for every part that may be written; a finding for each one that may not."""
        plan: dict[str, str] = {}
        for name in names:
            kind = part_kind(name)
            if kind in ("mimetype", "manifest"):
                continue  # written afresh
            if kind is None:
                code, detail = removal(name) if safe_member_name(name) else (
                    "part_removed", f"a part named outside the package: {name[:80]}")
                findings[(code, detail)] = None
            elif in_manifest is not None and name not in in_manifest:
                findings[("part_removed", f"{name[:120]}: not listed in the package's manifest")] = None
            else:
                plan[name] = kind
        return plan

    @staticmethod
    def _xml_part(package: zipfile.ZipFile, name: str, kind: str, findings: dict[tuple[str, str], None],
                  written: set[str], missing: frozenset[str]) -> bytes:
        if package.getinfo(name).file_size > MAX_XML_PART_BYTES:
            raise DecompressionBomb(f"the document part {name} is too large")
        root = parse_xml(package.read(name), name)
        if kind == "rdf":
            return serialise(write_rdf(root, written, findings))
        expected = STREAM_ROOTS.get(name.rsplit("/", 1)[-1])
        if expected is not None and root.tag != expected:  # the element the application opens the stream with
            raise CorruptFile(f"the document part {name[:120]} is not OpenDocument markup (its root is "
                              f"{etree.QName(root).localname[:40]!r})")
        scrub_xml(root, findings, name, missing)
        if _bindings_differ(root):
            root = canonical_copy(root)
        # always written again, in UTF-8: the bytes written are the tree checked, and a part kept in its
        # own encoding (Shift_JIS, ISO-2022-JP...) is one libxml2 reads but expat refuses
        return serialise(root)
