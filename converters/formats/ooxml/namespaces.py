"""XML namespaces of Office documents: Strict ISO 29500 names read as their Transitional twins
(Office reads both; one set of rules then covers both), and the allowlist of namespace families
whose elements may be written out. Anything in another namespace is dropped."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

_T = "http://schemas.openxmlformats.org/"
_S = "http://purl.oclc.org/ooxml/"
STRICT_TO_TRANSITIONAL: dict[str, str] = {
    f"{_S}wordprocessingml/main": f"{_T}wordprocessingml/2006/main",
    f"{_S}spreadsheetml/main": f"{_T}spreadsheetml/2006/main",
    f"{_S}presentationml/main": f"{_T}presentationml/2006/main",
    f"{_S}drawingml/main": f"{_T}drawingml/2006/main",
    f"{_S}drawingml/wordprocessingDrawing": f"{_T}drawingml/2006/wordprocessingDrawing",
    f"{_S}drawingml/spreadsheetDrawing": f"{_T}drawingml/2006/spreadsheetDrawing",
    f"{_S}drawingml/picture": f"{_T}drawingml/2006/picture",
    f"{_S}drawingml/chart": f"{_T}drawingml/2006/chart",
    f"{_S}drawingml/chartDrawing": f"{_T}drawingml/2006/chartDrawing",
    f"{_S}drawingml/diagram": f"{_T}drawingml/2006/diagram",
    f"{_S}drawingml/lockedCanvas": f"{_T}drawingml/2006/lockedCanvas",
    f"{_S}drawingml/compatibility": f"{_T}drawingml/2006/compatibility",
    f"{_S}officeDocument/relationships": f"{_T}officeDocument/2006/relationships",
    f"{_S}officeDocument/math": f"{_T}officeDocument/2006/math",
    f"{_S}officeDocument/bibliography": f"{_T}officeDocument/2006/bibliography",
    f"{_S}officeDocument/characteristics": f"{_T}officeDocument/2006/characteristics",
    f"{_S}officeDocument/customXml": f"{_T}officeDocument/2006/customXml",
    f"{_S}officeDocument/docPropsVTypes": f"{_T}officeDocument/2006/docPropsVTypes",
    f"{_S}officeDocument/extendedProperties": f"{_T}officeDocument/2006/extended-properties",
    f"{_S}officeDocument/customProperties": f"{_T}officeDocument/2006/custom-properties",
    f"{_S}schemaLibrary/main": f"{_T}schemaLibrary/2006/main",
}
STRICT_REL_BASE = f"{_S}officeDocument/relationships/"
TRANSITIONAL_REL_BASE = f"{_T}officeDocument/2006/relationships/"
STRICT_REL_NAMES = {"extendedProperties": "extended-properties", "customProperties": "custom-properties"}

# Namespace families written out. Microsoft's own extension namespaces (w14, x14, p14, a14, ...)
# are many and grow with each Office release; their elements carry layout and are then held to
# the same element and attribute rules as the rest.
ALLOWED_NAMESPACE_PREFIXES = (
    _T,  # ECMA-376 (Strict names were mapped onto these first)
    "http://schemas.microsoft.com/office/",  # Office extension namespaces (w14, x14ac, p14, a16, ...)
    "urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:office",
    "urn:schemas-microsoft-com:office:word", "urn:schemas-microsoft-com:office:excel",
    "urn:schemas-microsoft-com:office:powerpoint", "urn:schemas-microsoft-com:mac:vml",
    "http://purl.org/dc/elements/1.1/", "http://purl.org/dc/terms/", "http://purl.org/dc/dcmitype/",
    "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/XML/1998/namespace",
)


def allowed_namespace(uri: str) -> bool:
    return uri == "" or uri.startswith(ALLOWED_NAMESPACE_PREFIXES)


def transitional_rel_type(rel_type: str) -> str:
    """A Strict relationship type as the Transitional one (other types are returned unchanged)."""
    if rel_type.startswith(STRICT_REL_BASE):
        name = rel_type[len(STRICT_REL_BASE):]
        return TRANSITIONAL_REL_BASE + STRICT_REL_NAMES.get(name, name)
    return rel_type


def to_transitional(root: etree._Element, parse: Callable[[bytes], etree._Element]) -> etree._Element:
    """The part with Strict namespace names replaced by Transitional ones (declarations included,
    so prefixes stay as the author wrote them), or ``root`` itself when it has none."""
    data = etree.tostring(root, encoding="UTF-8")
    if _S.encode() not in data:
        return root
    for strict, transitional_uri in STRICT_TO_TRANSITIONAL.items():
        data = data.replace(f'"{strict}"'.encode(), f'"{transitional_uri}"'.encode())
    root = parse(data)
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname in (
                "document", "workbook", "presentation") and element.get("conformance"):
            del element.attrib["conformance"]  # the package is written as Transitional
    return root


MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
MC_PREFIX_ATTRIBUTES = ("Ignorable", "ProcessContent", "MustUnderstand", "PreserveElements",
                        "PreserveAttributes")


_XPATH_PREFIX_LISTS = etree.XPath(
    f"//@*[namespace-uri() = '{MC_NS}' and (" + " or ".join(f"local-name() = '{name}'" for name in MC_PREFIX_ATTRIBUTES)
    + f")] | //*[namespace-uri() = '{MC_NS}' and local-name() = 'Choice']/@Requires")


def tidy_namespaces(root: etree._Element) -> None:
    """Drop declarations no element or attribute uses any more, except prefixes that markup
    compatibility attributes name (mc:Ignorable="w14 wp14", Choice Requires="wps")."""
    keep: set[str] = set()
    for value in _XPATH_PREFIX_LISTS(root):
        if isinstance(value, str):
            keep.update(token.split(":", 1)[0] for token in value.split())
    etree.cleanup_namespaces(root, keep_ns_prefixes=sorted(keep))
