"""The inspector's own answer to "what kind of Office package is this output?", written apart
from the converters' type detection (it shares no code with it).

libmagic guesses a Word, Excel or PowerPoint file from the first member names and calls every
template and slide show a plain document. Office itself goes by the package: the relationship
``officeDocument`` in ``_rels/.rels`` names the main part, and ``[Content_Types].xml`` gives that
part's content type (an Override for the part, else the Default for its extension). That content
type, and nothing else, says document, template, slide show, add-in, macro-enabled or binary.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from converters.inspect.damaged_zip import ZipUnreadable, zip_reading

GENERIC_PACKAGE = "application/vnd.openxmlformats-package"
_DOC = "application/vnd.openxmlformats-officedocument"
# main part content type (lower case) -> what the package is
PACKAGE_KINDS: dict[str, str] = {
    f"{_DOC}.wordprocessingml.document.main+xml": f"{_DOC}.wordprocessingml.document",
    f"{_DOC}.wordprocessingml.template.main+xml": f"{_DOC}.wordprocessingml.template",
    f"{_DOC}.spreadsheetml.sheet.main+xml": f"{_DOC}.spreadsheetml.sheet",
    f"{_DOC}.spreadsheetml.template.main+xml": f"{_DOC}.spreadsheetml.template",
    f"{_DOC}.presentationml.presentation.main+xml": f"{_DOC}.presentationml.presentation",
    f"{_DOC}.presentationml.slideshow.main+xml": f"{_DOC}.presentationml.slideshow",
    f"{_DOC}.presentationml.template.main+xml": f"{_DOC}.presentationml.template",
    "application/vnd.ms-word.document.macroenabled.main+xml": "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml":
        "application/vnd.ms-word.template.macroEnabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.ms-excel.template.macroenabled.main+xml": "application/vnd.ms-excel.template.macroEnabled.12",
    "application/vnd.ms-excel.addin.macroenabled.main+xml": "application/vnd.ms-excel.addin.macroEnabled.12",
    "application/vnd.ms-excel.sheet.binary.macroenabled.main": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml":
        "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml":
        "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
    "application/vnd.ms-powerpoint.template.macroenabled.main+xml":
        "application/vnd.ms-powerpoint.template.macroEnabled.12",
}
LIMIT = 1024 * 1024


class NotAPackage(Exception):
    """The file is not an OPC package whose main part can be found."""


def _read_xml(package: zipfile.ZipFile, wanted: str) -> etree._Element:
    matches = [info for info in package.infolist() if info.filename.lower() == wanted]
    if len(matches) != 1:
        raise NotAPackage(f"{wanted}: {len(matches)} parts of that name")
    if matches[0].file_size > LIMIT:
        raise NotAPackage(f"{wanted}: too large")
    data = package.read(matches[0])
    if b"<!doctype" in data.lower() or b"<!entity" in data.lower():
        raise NotAPackage(f"{wanted}: holds a DTD")
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as exc:
        raise NotAPackage(f"{wanted}: not well-formed") from exc


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def package_kind(path: Path) -> str:
    """The package's kind by its main part's declared content type; GENERIC_PACKAGE when the
    content type is none that Office opens as a document. Raises NotAPackage."""
    try:
        with zip_reading(), zipfile.ZipFile(path) as package:
            types = _read_xml(package, "[content_types].xml")
            rels = _read_xml(package, "_rels/.rels")
            present = {info.filename.lower() for info in package.infolist()}
    except ZipUnreadable as exc:
        raise NotAPackage(str(exc)) from exc
    targets = [unquote(rel.get("Target", "")) for rel in rels if _local(rel) == "Relationship"
               and rel.get("Type", "").lower().rsplit("/", 1)[-1] == "officedocument"
               and rel.get("TargetMode", "Internal").lower() != "external"]
    if len(targets) != 1:
        raise NotAPackage(f"{len(targets)} main parts named")
    main = posixpath.normpath("/" + targets[0].lstrip("/")).lower()
    if main.lstrip("/") not in present:
        raise NotAPackage("the main part is missing")
    declared = None
    for entry in types:
        if _local(entry) == "Override" and unquote(entry.get("PartName", "")).lower() == main:
            declared = entry.get("ContentType", "")
            break
    if declared is None:
        extension = posixpath.splitext(main)[1].lstrip(".")
        declared = next((entry.get("ContentType", "") for entry in types if _local(entry) == "Default"
                         and entry.get("Extension", "").lower() == extension), "")
    return PACKAGE_KINDS.get(declared.strip().lower(), GENERIC_PACKAGE)
