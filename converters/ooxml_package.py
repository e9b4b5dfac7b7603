"""Which kind of Office document an OPC (ZIP) package is, found as Office finds it: the part the
package relationship ``officeDocument`` names, and the content type [Content_Types].xml gives that
part. Also what each macro-enabled kind is rebuilt as."""

from __future__ import annotations

import posixpath
import zipfile
from urllib.parse import unquote

from lxml import etree

_OOXML = "application/vnd.openxmlformats-officedocument"
# main part content type (in [Content_Types].xml) -> the package's MIME type
OOXML_PACKAGE_TYPES: dict[str, str] = {
    f"{_OOXML}.wordprocessingml.document.main+xml": f"{_OOXML}.wordprocessingml.document",
    f"{_OOXML}.wordprocessingml.template.main+xml": f"{_OOXML}.wordprocessingml.template",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml":
        "application/vnd.ms-word.template.macroEnabled.12",
    f"{_OOXML}.spreadsheetml.sheet.main+xml": f"{_OOXML}.spreadsheetml.sheet",
    f"{_OOXML}.spreadsheetml.template.main+xml": f"{_OOXML}.spreadsheetml.template",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.ms-excel.template.macroEnabled.main+xml":
        "application/vnd.ms-excel.template.macroEnabled.12",
    "application/vnd.ms-excel.addin.macroEnabled.main+xml": "application/vnd.ms-excel.addin.macroEnabled.12",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main":
        "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    f"{_OOXML}.presentationml.presentation.main+xml": f"{_OOXML}.presentationml.presentation",
    f"{_OOXML}.presentationml.slideshow.main+xml": f"{_OOXML}.presentationml.slideshow",
    f"{_OOXML}.presentationml.template.main+xml": f"{_OOXML}.presentationml.template",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml":
        "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml":
        "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml":
        "application/vnd.ms-powerpoint.template.macroEnabled.12",
}
# the same, looked up without regard to case (content types are case-insensitive, RFC 2045)
_PACKAGE_TYPE_BY_MAIN = {main.lower(): package for main, package in OOXML_PACKAGE_TYPES.items()}
# what a template, slide show or macro-enabled package is rebuilt as: the macro-free kind of the same
# document (a template stays a template); an add-in has no use without its macros, and its sheets
# become an ordinary workbook
MACRO_FREE_PACKAGE: dict[str, str] = {
    "application/vnd.ms-word.document.macroEnabled.12": f"{_OOXML}.wordprocessingml.document",
    "application/vnd.ms-word.template.macroEnabled.12": f"{_OOXML}.wordprocessingml.template",
    "application/vnd.ms-excel.sheet.macroEnabled.12": f"{_OOXML}.spreadsheetml.sheet",
    "application/vnd.ms-excel.template.macroEnabled.12": f"{_OOXML}.spreadsheetml.template",
    "application/vnd.ms-excel.addin.macroEnabled.12": f"{_OOXML}.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.12": f"{_OOXML}.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12": f"{_OOXML}.presentationml.presentation",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.12": f"{_OOXML}.presentationml.slideshow",
    "application/vnd.ms-powerpoint.template.macroEnabled.12": f"{_OOXML}.presentationml.template",
    **{package: package for package in OOXML_PACKAGE_TYPES.values() if package.startswith(_OOXML)},
}
OOXML_GENERIC = "application/vnd.openxmlformats-package"
MAX_PACKAGE_XML = 1024 * 1024  # [Content_Types].xml and _rels/.rels larger than this are not read
OFFICE_DOCUMENT_REL = "/officedocument"  # transitional .../relationships/officeDocument, Strict alike


def _package_xml(archive: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo], name: str) -> etree._Element | None:
    """A package-level XML part (part names compare without regard to case, as in OPC), parsed
    without DTDs, entities or network; None when missing, too large or not well-formed."""
    info = parts.get(name)
    if info is None or info.file_size > MAX_PACKAGE_XML:
        return None
    with archive.open(info) as handle:
        data = handle.read(MAX_PACKAGE_XML + 1)
    if len(data) > MAX_PACKAGE_XML or b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def _localname(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _main_part(rels: etree._Element | None) -> str | None:
    """The part the package relationship ``officeDocument`` names (relative to the root)."""
    if rels is None:
        return None
    for rel in rels:
        if _localname(rel) != "Relationship" or rel.get("TargetMode", "").lower() == "external":
            continue
        if rel.get("Type", "").strip().lower().endswith(OFFICE_DOCUMENT_REL):
            target = posixpath.normpath(unquote(rel.get("Target", "").strip()).lstrip("/"))
            return None if target.startswith("..") else target.lower()
    return None


def ooxml_package_type(archive: zipfile.ZipFile) -> str:
    """What an OPC package is, from the content type its main part has in [Content_Types].xml
    (an Override for the part, else the Default for its extension), the main part being the one
    the package relationships name, as Office finds it. Anything else is the generic package."""
    parts = {info.filename.lower(): info for info in archive.infolist()}
    types = _package_xml(archive, parts, "[content_types].xml")
    if types is None:
        return OOXML_GENERIC
    main = _main_part(_package_xml(archive, parts, "_rels/.rels"))
    if main is None or main not in parts:  # Office opens no package without it either
        return OOXML_GENERIC
    overrides: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for entry in types:
        kind = _localname(entry)
        if kind == "Override":
            overrides.setdefault(unquote(entry.get("PartName", "")).lstrip("/").lower(), entry.get("ContentType", ""))
        elif kind == "Default":
            defaults.setdefault(entry.get("Extension", "").lstrip(".").lower(), entry.get("ContentType", ""))
    ctype = overrides.get(main)
    if ctype is None:
        ctype = defaults.get(main.rsplit("/", 1)[-1].rpartition(".")[2] if "." in main else "", "")
    return _PACKAGE_TYPE_BY_MAIN.get(ctype.strip().lower(), OOXML_GENERIC)
