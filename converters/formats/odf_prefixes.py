"""OpenDocument namespaces and the prefix each is written with: a part that binds a usual prefix to
another namespace (or a usual namespace to another prefix) is written again with the usual bindings,
so that the application (which reads names by namespace) and a byte-level reader (the inspector, a
scanner, which read prefixes) read the same element."""

from __future__ import annotations

from lxml import etree

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


def bindings_differ(root: etree._Element) -> bool:
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
