"""One OpenDocument XML stream cleaned (``scrub_xml``): unknown markup first (``odf_allowlist``),
then scripts, event listeners, OLE objects, applets and plugins, DDE, linked sections and sheets,
external data sources, XForms locations and submissions, picture bytes inside the XML; links,
package references and locations by allowlist (``odf_references``); formulas that reach outside
(their cached values stay). The package around it is ``converters.formats.odf``."""

from __future__ import annotations

import re

from lxml import etree

from converters.formats.odf_allowlist import detach, keep_known
from converters.formats.odf_parts import reference_target
from converters.formats.odf_prefixes import CANONICAL_PREFIXES, NS
from converters.formats.odf_references import address_risk, allowed_link, formula_risk, inside_package

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


def qname(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


REMOVED = {qname(k): v for k, v in REMOVED_ELEMENTS.items()}
CHART = f"{{{CANONICAL_PREFIXES['chart']}}}chart"
CHART_DATA_SOURCES = frozenset({".", ".."})  # the chart's own object, or the document it is embedded in
UNWRAPPED = {qname(k): v for k, v in UNWRAPPED_ELEMENTS.items()}
HREF = qname("xlink:href")
# elements a person follows: an unsafe target unwraps them (their text and shapes stay)
LINKS = {qname("text:a"), qname("draw:a")}
# elements whose xlink:href is loaded with the document: removed unless it names a part of the package;
# for these two only the reference goes (the element may hold the picture itself as binary data)
PACKAGE_REFERENCES = {qname(name) for name in (
    "draw:image", "draw:object", "draw:fill-image", "style:background-image", "svg:font-face-uri",
    "presentation:sound", "anim:audio", "text:list-level-style-image", "svg:definition-src")}
# attributes other than xlink:href that the application loads from with the document: a part of the package only
PACKAGE_ATTRIBUTES = {qname("form:image-data")}  # the picture of an image control or button
# where a form or a database field reads its data: a data source registered on the reader's machine,
# by name; a location (file:, a share, sdbc:...) is another file or server opened with the document
DATA_SOURCE_ATTRIBUTES = {qname(name) for name in ("form:datasource", "text:database-name", "table:database-name")}
REGISTERED_NAME = re.compile(r"^\w[\w .()\-]*$")
# XForms and XML Schema are foreign vocabularies ODF embeds; only what a form's model holds stays:
# the model, its instance data written inline and its bindings, and simple data types
XFORMS_ELEMENTS = {qname(f"xforms:{local}") for local in ("model", "instance", "bind")}
XSD_ELEMENTS = {qname(f"xsd:{local}") for local in (
    "schema", "simpleType", "restriction", "length", "minLength", "maxLength", "pattern", "enumeration",
    "whiteSpace", "maxInclusive", "maxExclusive", "minInclusive", "minExclusive", "totalDigits", "fractionDigits")}
# unqualified attributes of those elements that name a location loaded with the model
XFORMS_LOCATIONS = {(qname("xforms:instance"), "src"), (qname("xforms:model"), "schema")}
REFERENCE_ONLY = {qname("style:background-image"), qname("text:list-level-style-image")}
# elements that mean nothing without their link (the template the document was made from)
NOTHING_WITHOUT_LINK = {qname("meta:template")}
# (element, attribute holding a formula) -> what goes when it reaches out: "attribute" or "element"
FORMULA_PLACES: dict[tuple[str, str], str] = {
    (qname("table:table-cell"), qname("table:formula")): "attribute",  # the cached value stays
    (qname("table:covered-table-cell"), qname("table:formula")): "attribute",
    (qname("table:content-validation"), qname("table:condition")): "attribute",
    (qname("style:map"), qname("style:condition")): "element",
    (qname("calcext:condition"), qname("calcext:value")): "element",
    (qname("calcext:formatting-entry"), qname("calcext:value")): "parent",
    (qname("calcext:color-scale-entry"), qname("calcext:value")): "parent",
    (qname("table:named-expression"), qname("table:expression")): "element",
    (qname("table:named-range"), qname("table:cell-range-address")): "element",
}
FORMULA_ATTRIBUTES = {attribute for _, attribute in FORMULA_PLACES}
RANGE_ADDRESS = qname("table:cell-range-address")



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
    scripts = root.find(f".//{qname('office:scripts')}")
    if scripts is not None and len(scripts):
        for child in list(scripts):
            scripts.remove(child)
        findings[("script_event_removed", f"{part}: office:scripts")] = None
        changed = True
    return changed
