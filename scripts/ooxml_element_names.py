"""Generate ``converters/formats/ooxml/element_names.py``: for each namespace the OOXML rebuild
writes, the element local names (and namespace-qualified attribute local names) the published
schemas define. The rebuild keeps only those (keep known good); everything else is dropped.

    .venv/bin/python scripts/ooxml_element_names.py --xsd DIR --sdk DIR [--out FILE]

Inputs (downloaded by hand; nothing here fetches anything):

- ``--xsd``: the ECMA-376 Part 1 transitional XML schemas (wml.xsd, sml.xsd, pml.xsd, dml-*.xsd,
  vml-*.xsd, shared-*.xsd, opc-xsd/opc-*.xsd), e.g. the ``ref/xsd`` folder of python-docx. They
  give the ECMA-376 namespaces (WordprocessingML, SpreadsheetML, PresentationML, DrawingML, VML,
  shared types, OPC) and, through their ``ref="dc:..."`` uses, Dublin Core.
- ``--sdk``: the ``data`` folder of the Open XML SDK (its ``namespaces.json`` and
  ``schemas/*.json``), Microsoft's machine-readable form of the [MS-DOCX], [MS-XLSX], [MS-PPTX]
  and [MS-ODRAWXML] schemas. Only the Microsoft extension namespaces
  (``http://schemas.microsoft.com/office/...``: w14, w15, w16*, x14, x15, xr*, p14, p15, a14, c14,
  wp14, wps, wpg, ...) are taken from it, except those in ``EXCLUDED`` (they embed, run or fetch
  things); for the ECMA-376 namespaces it adds the few names Microsoft's implementer notes use.

Element names are facts of the published standard; the output holds the names only, no schema
text. Elements that the schemas define but that embed or run something are not removed here:
``converters.formats.ooxml.markup`` subtracts its own list of them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

from lxml import etree
from name_lists import frozenset_table  # scripts/name_lists.py (run from the repository root)

XS = "http://www.w3.org/2001/XMLSchema"
MS_PREFIX = "http://schemas.microsoft.com/office/"
ECMA_PREFIX = "http://schemas.openxmlformats.org/"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML = "http://www.w3.org/XML/1998/namespace"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# Microsoft namespaces left out whole (nothing in them is written out), and why
EXCLUDED = {
    "http://schemas.microsoft.com/office/2006/activeX": "ActiveX control data",
    "http://schemas.microsoft.com/office/2006/01/customui": "ribbon customisation with macro callbacks",
    "http://schemas.microsoft.com/office/2009/07/customui": "ribbon customisation with macro callbacks",
    "http://schemas.microsoft.com/office/word/2006/wordml": "Word's VBA data, key maps and toolbars",
    "http://schemas.microsoft.com/office/webextensions/webextension/2010/11": "Office add-ins (web code)",
    "http://schemas.microsoft.com/office/webextensions/taskpanes/2010/11": "Office add-in task panes",
    "http://schemas.microsoft.com/office/drawing/2017/model3d": "embedded 3D models",
    "http://schemas.microsoft.com/office/drawing/2018/animation/model3d": "embedded 3D model animation",
    "http://schemas.microsoft.com/office/drawing/2021/oembed": "online media embedded from a web site",
    "http://schemas.microsoft.com/office/word/2020/oembed": "online media embedded from a web site",
    "http://schemas.microsoft.com/office/drawing/2021/scriptlink": "links to scripts",
    "http://schemas.microsoft.com/office/drawing/2021/livefeed": "live camera feeds",
    "http://schemas.microsoft.com/office/2007/6/19/audiovideo": "audio and video",
    "http://schemas.microsoft.com/office/spreadsheetml/2023/externalCodeService": "code run by a service",
    "http://schemas.microsoft.com/office/spreadsheetml/2025/externalCodeService2": "code run by a service",
    "http://schemas.microsoft.com/office/spreadsheetml/2023/msForms": "bound Microsoft Forms",
    "http://schemas.microsoft.com/office/spreadsheetml/2021/extlinks2021": "links to other workbooks",
    "http://schemas.microsoft.com/office/spreadsheetml/2019/extlinksprops": "links to other workbooks",
    "http://schemas.microsoft.com/office/2006/customDocumentInformationPanel": "InfoPath form panel",
    "http://schemas.microsoft.com/office/internal/2007/ofapi/packaging": "internal packaging data",
    "http://schemas.microsoft.com/office/2006/metadata/contentType": "SharePoint metadata (custom XML)",
    "http://schemas.microsoft.com/office/2006/metadata/customXsn": "InfoPath template reference",
    "http://schemas.microsoft.com/office/2006/metadata/properties/metaAttributes": "SharePoint metadata",
    "http://schemas.microsoft.com/office/2006/metadata/longProperties": "SharePoint metadata",
}
# Names no schema file above defines, from the standards' text: markup compatibility (ECMA-376
# Part 3 §10: AlternateContent, Choice, Fallback and the attributes on any element), the two XML
# attributes Office writes (xml:space, xml:lang), the instance attributes core properties use and
# the attributes below.
EXTRA_ELEMENTS = {MC: {"AlternateContent", "Choice", "Fallback"}}
EXTRA_ATTRIBUTES = {
    MC: {"Ignorable", "ProcessContent", "MustUnderstand", "PreserveElements", "PreserveAttributes"},
    XML: {"space", "lang"},
    XSI: {"type", "nil"},
    # [MS-XLSX] revision identifiers Excel writes on workbooks and sheets, and [MS-DOCX]'s
    # w15:restartNumberingAfterBreak: defined there, missing from the SDK's data
    f"{MS_PREFIX}spreadsheetml/2014/revision": {"uid", "revisionPtr", "documentId"},
    f"{MS_PREFIX}spreadsheetml/2015/revision2": {"uid"},
    f"{MS_PREFIX}spreadsheetml/2016/revision3": {"uid"},
    f"{MS_PREFIX}spreadsheetml/2016/revision6": {"coauthVersionLast", "coauthVersionMax"},
    f"{MS_PREFIX}spreadsheetml/2016/revision10": {"uidLastSave"},
    f"{MS_PREFIX}spreadsheetml/2017/revision16": {"uid"},
    f"{MS_PREFIX}word/2012/wordml": {"restartNumberingAfterBreak"},
}
SDK_ELEMENT = re.compile(r"^[A-Za-z0-9]+:[^/]+/([A-Za-z0-9]+):([A-Za-z_][\w.-]*)$")
SDK_ATTRIBUTE = re.compile(r"^([A-Za-z0-9]+):([A-Za-z_][\w.-]*)$")

Names = dict[str, set[str]]


def from_xsd(path: Path, elements: Names, attributes: Names) -> None:
    """Every element a schema file declares (global or local; all are qualified in ECMA-376), its
    namespace-qualified attributes, and the names it borrows from other namespaces (dc:, r:)."""
    root = etree.parse(str(path)).getroot()
    target = root.get("targetNamespace", "")
    elements_qualified = root.get("elementFormDefault") == "qualified"
    attributes_qualified = root.get("attributeFormDefault") == "qualified"
    for node in root.iter(f"{{{XS}}}element", f"{{{XS}}}attribute"):
        is_element = node.tag == f"{{{XS}}}element"
        reference = node.get("ref")
        if reference:
            prefix, _, local = reference.rpartition(":")
            namespace = node.nsmap.get(prefix or None, "")
            if namespace and namespace not in (XS, XML):
                (elements if is_element else attributes)[namespace].add(local)
            continue
        name = node.get("name")
        if not name:
            continue
        top = node.getparent() is root
        form = node.get("form")
        qualified = top or form == "qualified" or (
            form is None and (elements_qualified if is_element else attributes_qualified))
        if qualified:
            (elements if is_element else attributes)[target].add(name)


def from_sdk(data: Path, elements: Names, attributes: Names) -> None:
    """Element and attribute names of the Microsoft extension namespaces, as the Open XML SDK's
    schema data lists them (``"w:CT_Foo/w14:bar"`` names an element, ``"QName": "w14:paraId"``
    an attribute), and the few names Microsoft's implementer notes add to the ECMA-376 namespaces
    (w:uiCompat97To2003, w:durableId, DrawingML compatibility's legacyDrawing)."""
    ecma = set(elements)
    prefixes = {entry["Prefix"]: entry["Uri"] for entry in json.loads((data / "namespaces.json").read_text())}

    def wanted(prefix: str) -> str | None:
        uri = prefixes.get(prefix, "")
        known = uri.startswith((MS_PREFIX, ECMA_PREFIX)) or uri in ecma
        return uri if known and uri not in EXCLUDED else None

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key)
        elif isinstance(node, str):
            element = SDK_ELEMENT.match(node)
            if element and (uri := wanted(element.group(1))):
                elements[uri].add(element.group(2))
            attribute = SDK_ATTRIBUTE.match(node) if key == "QName" else None
            if attribute and (uri := wanted(attribute.group(1))):
                attributes[uri].add(attribute.group(2))

    for path in sorted((data / "schemas").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8-sig")))


def render(elements: Names, attributes: Names, sources: str) -> str:
    return "\n".join([
        '"""Element and attribute names per namespace for the OOXML rebuild\'s allowlist (generated by',
        "scripts/ooxml_element_names.py: do not edit by hand, run it again).",
        "",
        textwrap.fill("Sources: " + sources, width=100, break_on_hyphens=False),
        "The names are facts of the published standards; no schema text is copied.",
        "ELEMENTS: namespace -> element local names. ATTRIBUTES: namespace -> local names of attributes",
        'written with that namespace (w:val, r:id, w14:paraId); attributes in no namespace are not listed."""',
        "",
        "ELEMENTS: dict[str, frozenset[str]] = {",
        *frozenset_table(elements),
        "}",
        "ATTRIBUTES: dict[str, frozenset[str]] = {",
        *frozenset_table(attributes),
        "}",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xsd", type=Path, required=True, help="folder of the ECMA-376 transitional schemas")
    parser.add_argument("--sdk", type=Path, required=True, help="the Open XML SDK's data folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent
                        / "converters" / "formats" / "ooxml" / "element_names.py")
    args = parser.parse_args(argv)
    elements: Names = defaultdict(set)
    attributes: Names = defaultdict(set)
    schemas = sorted(args.xsd.rglob("*.xsd"))
    if not schemas or not (args.sdk / "namespaces.json").is_file():
        print("no schemas found (see --help)", file=sys.stderr)
        return 2
    for path in schemas:
        from_xsd(path, elements, attributes)
    from_sdk(args.sdk, elements, attributes)
    for extra, names in ((EXTRA_ELEMENTS, elements), (EXTRA_ATTRIBUTES, attributes)):
        for uri, local_names in extra.items():
            names[uri].update(local_names)
    for uri in EXCLUDED:
        elements.pop(uri, None)
        attributes.pop(uri, None)
    for uri in set(attributes) - set(elements):
        elements[uri] = set()  # a namespace of attributes only (relationships, xml, xsi)
    sources = ("ECMA-376 Part 1 transitional schemas (" + ", ".join(sorted({p.name for p in schemas}))
               + "); Microsoft's [MS-DOCX]/[MS-XLSX]/[MS-PPTX]/[MS-ODRAWXML] extension namespaces as the "
               "Open XML SDK's data/schemas lists them; ECMA-376 Part 3 (markup compatibility).")
    args.out.write_text(render(elements, attributes, sources), encoding="utf-8")
    print(f"{args.out}: {len(elements)} namespaces, {sum(map(len, elements.values()))} element names, "
          f"{sum(map(len, attributes.values()))} attribute names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
