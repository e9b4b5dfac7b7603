"""Independent reading of OpenDocument XML parts for the inspector (``inspect_office.check_odf``).

Shares nothing with the converter (``converters.formats.odf``, ``odf_scrub``, ``odf_references``): its own
parsing (defusedxml, which refuses DTDs and entities) and its own rules, on decoded values as the
application reads them:

- every ``xlink:href`` on a picture, object, fill image, font or sound names a part of the
  package; every other ``xlink:href`` (links, buttons, metadata) goes to http, https, mailto or a
  place in the document, written without surrounding spaces or control characters;
- no script, macro-on-error, external database source, auto-reload or concordance file element;
- every element of an OASIS ODF namespace is one the ODF 1.3/1.4 schemas define (``odf_names``,
  the inspector's own list); other elements only in LibreOffice's extension namespaces and the
  vocabularies ODF embeds (MathML, XForms, XHTML);
- formulas wherever ODF keeps them (cells, validation conditions, conditional formats, named
  expressions and ranges) are in OpenFormula (``of:``) or ``oooc:`` and do not call DDE,
  WEBSERVICE or FILTERXML, HYPERLINK anything but a literal safe link, refer to another document
  or hold a string naming a file, share or program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import IO
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from converters.inspect.mail_links import mail_link_ok
from converters.inspect.odf_names import DEFINED

XLINK = "{http://www.w3.org/1999/xlink}href"
_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
    "chart": "urn:oasis:names:tc:opendocument:xmlns:chart:1.0",
    "anim": "urn:oasis:names:tc:opendocument:xmlns:animation:1.0",
    "form": "urn:oasis:names:tc:opendocument:xmlns:form:1.0",
    "xforms": "http://www.w3.org/2002/xforms",
    "xsd": "http://www.w3.org/2001/XMLSchema",
}


def _names(*names: str) -> frozenset[str]:
    result = set()
    for name in names:
        prefix, local = name.split(":")
        result.add(f"{{{_NS[prefix]}}}{local}")
    return frozenset(result)


LOADED_WITH_DOCUMENT = _names("draw:image", "draw:object", "draw:object-ole", "draw:fill-image",
                              "style:background-image", "svg:font-face-uri", "presentation:sound", "anim:audio",
                              "text:list-level-style-image", "svg:definition-src")
# attributes besides xlink:href whose value is loaded with the document (an image control's picture)
LOADED_ATTRIBUTES = _names("form:image-data")
# attributes naming the data source a form or database field opens: a registered name, never a location
DATA_SOURCES = _names("form:datasource", "text:database-name", "table:database-name")
PLAIN_NAME = re.compile(r"\w[\w .()-]*")
# XForms and XML Schema in a form's model: the model, inline instances, bindings and simple types only,
# and no instance or schema fetched from a location
FOREIGN_ALLOWED = _names("xforms:model", "xforms:instance", "xforms:bind", "xsd:schema", "xsd:simpleType",
                         "xsd:restriction", "xsd:length", "xsd:minLength", "xsd:maxLength", "xsd:pattern",
                         "xsd:enumeration", "xsd:whiteSpace", "xsd:maxInclusive", "xsd:maxExclusive",
                         "xsd:minInclusive", "xsd:minExclusive", "xsd:totalDigits", "xsd:fractionDigits")
FOREIGN_NAMESPACES = (_NS["xforms"], _NS["xsd"])
CHART = _names("chart:chart")
FORBIDDEN = _names("text:script", "table:error-macro", "table:database-source-sql", "table:database-source-table",
                   "table:database-source-query", "table:source-service", "meta:auto-reload",
                   "text:alphabetical-index-auto-mark-file", "form:connection-resource", "office:binary-data")
FORMULA_ATTRIBUTES = _names("table:formula", "table:condition", "style:condition", "calcext:value",
                            "table:expression", "table:cell-range-address")
ODF_FAMILY = "urn:oasis:names:tc:opendocument:xmlns:"
# where an element outside the ODF schemas may come from: LibreOffice's and OpenOffice's extensions
# (loext, calcext, officeooo, tableooo, drawooo, chartooo, field, formx, css3t, ooo*, report design)
# and the vocabularies ODF embeds or points to
EXTENSION_NAMESPACES = frozenset("""
urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0
urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0
http://openoffice.org/2009/office http://openoffice.org/2009/table http://openoffice.org/2010/draw
http://openoffice.org/2010/chart http://openoffice.org/2004/office http://openoffice.org/2004/writer
http://openoffice.org/2004/calc http://openoffice.org/2005/report
urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0
urn:openoffice:names:experimental:ooxml-odf-interop:xmlns:form:1.0 http://www.w3.org/TR/css3-text/
http://www.w3.org/1998/Math/MathML http://www.w3.org/2002/xforms http://www.w3.org/1999/xhtml
http://www.w3.org/2001/xml-events http://www.w3.org/2001/XMLSchema http://www.w3.org/2001/XMLSchema-instance
http://www.w3.org/2003/g/data-view#
""".split())
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HAS_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:", re.IGNORECASE)
RANGE_ADDRESS = f"{{{_NS['table']}}}cell-range-address"
PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9.\-]*):(?!//)")
PIECES = re.compile(r"\"(?:[^\"]|\"\")*\"?|'(?:[^']|'')*'?|[^\"']+")
REACHING_CALL = re.compile(r"(?<![A-Za-z0-9_])(?:[A-Za-z0-9_]+\.)*(DDE|WEBSERVICE|FILTERXML)\s*\(", re.IGNORECASE)
HYPERLINK_CALL = re.compile(r"(?<![A-Za-z0-9_])(?:[A-Za-z0-9_]+\.)*HYPERLINK\s*\(\s*", re.IGNORECASE)
ARGUMENT_END = re.compile(r"\s*[;,)]")
NAMES_A_PLACE = re.compile(r"file:|^\\\\|^//|^[a-z]:[\\/]|'#|^(?!https?://)[a-z][a-z0-9+.\-]*://|"
                           r"^(?:vnd\.sun\.star|macro|javascript|vbscript|mhtml|smb|ms-[a-z\-]+):")


def safe_link(value: str) -> bool:
    if value == "":
        return True  # the document itself
    if value != value.strip() or value != value.strip("\u200b\ufeff") or CONTROL.search(value):
        return False
    return value.lower().startswith(("http://", "https://", "mailto:", "#")) and mail_link_ok(value)


def package_part(value: str) -> bool:
    decoded = unquote(value)
    if not decoded or decoded != decoded.strip() or CONTROL.search(decoded) or "\\" in decoded:
        return False
    if decoded.startswith("/") or HAS_SCHEME.match(decoded):
        return False
    return ".." not in decoded.split("/")


def formula_problem(value: str) -> str | None:
    prefix = PREFIX.match(value)
    if prefix is not None and prefix.group(1).lower() not in ("of", "oooc"):
        return f"formula grammar {prefix.group(1)}"
    pieces = PIECES.findall(value[prefix.end():] if prefix is not None else value)
    for index, piece in enumerate(pieces):
        if piece.startswith("'"):
            following = pieces[index + 1] if index + 1 < len(pieces) else ""
            if following.lstrip().startswith("#"):
                return "reference to another document"
        elif piece.startswith('"'):
            literal = piece[1:-1].replace('""', '"').strip().lower()
            if NAMES_A_PLACE.search(literal):
                return "string naming a file, share or program"
        else:
            call = REACHING_CALL.search(piece)
            if call is not None:
                return f"{call.group(1).upper()} call"
            for link in HYPERLINK_CALL.finditer(piece):
                argument = pieces[index + 1] if link.end() == len(piece) and index + 1 < len(pieces) else ""
                after = pieces[index + 2] if index + 2 < len(pieces) else ""
                if not (argument.startswith('"') and len(argument) > 1 and argument.endswith('"')
                        and safe_link(argument[1:-1].replace('""', '"')) and ARGUMENT_END.match(after)):
                    return "HYPERLINK to an unsafe target"
    return None


def address_problem(value: str) -> str | None:
    if re.search(r"#|file:|://", value, re.IGNORECASE):
        return "range address in another document"
    return None


def element_problem(tag: str) -> str | None:
    """Why an element may not stand in an OpenDocument output, or None."""
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if uri in DEFINED or uri.startswith(ODF_FAMILY):
        return None if local in DEFINED.get(uri, ()) else f"element {local[:40]!r} that {uri[:80]!r} does not define"
    if uri in EXTENSION_NAMESPACES:
        return None
    return f"element {local[:40]!r} of namespace {uri[:80]!r}" if uri else f"element {local[:40]!r} without namespace"


def _loading_attributes(tag: str, attributes: Mapping[str, str]) -> list[str]:
    """Problems with what an element loads besides its ``xlink:href``: an image control's picture,
    a data source, an XForms instance or schema, an XForms or XML Schema element not on the list."""
    problems = []
    for attribute in LOADED_ATTRIBUTES.intersection(attributes):
        if not package_part(attributes[attribute]):
            problems.append(f"picture loaded from outside the package: {attributes[attribute][:60]!r}")
    for attribute in DATA_SOURCES.intersection(attributes):
        if not PLAIN_NAME.fullmatch(attributes[attribute]):
            problems.append(f"data source that is a location: {attributes[attribute][:60]!r}")
    if tag.startswith(tuple(f"{{{uri}}}" for uri in FOREIGN_NAMESPACES)):
        if tag not in FOREIGN_ALLOWED:
            problems.append(f"form model element {tag.rsplit('}', 1)[-1][:40]!r}")
        for attribute in ("src", "schema"):
            if attribute in attributes:
                problems.append(f"form model loading {attribute}={attributes[attribute][:60]!r}")
    return problems


def odf_xml_problems(name: str, source: IO[bytes]) -> list[str]:
    """Problems in one XML part of an OpenDocument package."""
    problems: list[str] = []
    seen: set[str] = set()
    try:
        for _event, element in iterparse(source, events=("start",), forbid_dtd=True):
            tag = element.tag
            if tag not in seen:
                seen.add(tag)
                unknown = element_problem(tag)
                if unknown is not None:
                    problems.append(f"{unknown} in {name}")
            if tag in FORBIDDEN:
                problems.append(f"forbidden element {tag.rsplit('}', 1)[-1]} in {name}")
            problems.extend(f"{problem} in {name}" for problem in _loading_attributes(tag, element.attrib))
            href = element.get(XLINK)
            if href is not None:
                if tag in LOADED_WITH_DOCUMENT:
                    if not package_part(href):
                        problems.append(f"reference outside the package in {name}: {href[:60]!r}")
                elif tag in CHART:  # a chart's data source: the document holding it, never anything else
                    if href not in (".", ".."):
                        problems.append(f"chart data from outside the document in {name}: {href[:60]!r}")
                elif not safe_link(href):
                    problems.append(f"unsafe link in {name}: {href[:60]!r}")
            for attribute in FORMULA_ATTRIBUTES.intersection(element.keys()):
                value = element.get(attribute, "")
                problem = address_problem(value) if attribute == RANGE_ADDRESS else formula_problem(value)
                if problem is not None:
                    problems.append(f"{problem} in {name}: {element.get(attribute, '')[:60]!r}")
    except (ParseError, DefusedXmlException, ValueError) as exc:
        problems.append(f"unreadable xml {name}: {type(exc).__name__}")
    except LookupError as exc:  # an encoding declaration naming no codec (codecs' own plain LookupError)
        if type(exc) is not LookupError:
            raise  # a KeyError or IndexError here is a bug of this module, not the document's
        problems.append(f"unreadable xml {name}: unknown encoding")
    return problems
