"""Reading an OOXML package (Open Packaging Conventions) under limits: parts by case-insensitive
name, [Content_Types].xml, relationship files, and hardened XML parsing (no DTD, no entities,
no network)."""

from __future__ import annotations

import posixpath
import zipfile
from typing import IO

from lxml import etree

from converters.base import ConvertRequest
from converters.errors import CorruptFile, DecompressionBomb, EncryptedArchive, TooManyMembers
from converters.formats.zip_damage import file_members

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAX_XML_PART_BYTES = 256 * 1024 * 1024
ENCRYPTED_FLAGS = 0x1 | 0x40  # ZIP general-purpose flags: encrypted, strong encryption


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=False)


def parse_xml(data: bytes, part: str) -> etree._Element:
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise CorruptFile(f"the document part {part} declares a DTD (entity bomb or external entity)",
                          code="xml_dtd_forbidden")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CorruptFile(f"the document part {part} is not well-formed XML") from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise CorruptFile(f"the document part {part} declares a DTD (entity bomb or external entity)",
                          code="xml_dtd_forbidden")
    return root


def serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def rels_path_for(part: str) -> str:
    directory, name = posixpath.split(part)
    return posixpath.join(directory, "_rels", f"{name}.rels")


def resolve_target(source: str, target: str) -> str:
    """The part a relative (or absolute) relationship target names, as a package path."""
    target = target.split("#", 1)[0]
    if target.startswith("/"):
        resolved = posixpath.normpath(target.lstrip("/"))
    else:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
    return "" if resolved.startswith("..") or resolved == "." else resolved


class OoxmlPackage:
    """Reads a package under limits; part names are case-insensitive as OPC requires."""

    def __init__(self, archive: zipfile.ZipFile, request: ConvertRequest, compressed: int) -> None:
        self.archive = archive
        limits = request.limits
        infos = file_members(archive, "the document package")
        if len(infos) > limits.archive_max_members:
            raise TooManyMembers("the document holds too many parts")
        if any(i.flag_bits & ENCRYPTED_FLAGS for i in infos):
            raise EncryptedArchive("the document package holds an encrypted member (cannot be inspected)")
        declared = sum(i.file_size for i in infos)
        if declared > limits.archive_max_total_bytes or (
                declared > limits.archive_ratio_grace_bytes and declared > limits.archive_max_ratio * compressed):
            raise DecompressionBomb("the document expands far more than documents do (zip bomb)")
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self.lower: dict[str, str] = {}
        for info in infos:
            name = info.filename.lstrip("/")
            if name.lower() in self.lower:
                # two parts whose names differ only in case: which one Office reads is not defined
                raise CorruptFile(f"the document holds two parts named {name[:80]!r} (the names differ only in case)")
            self.infos[name] = info
            self.lower[name.lower()] = name

    def name(self, part: str) -> str | None:
        return self.lower.get(part.lower())

    def read(self, part: str) -> bytes:
        info = self.infos[part]
        with self.archive.open(info) as handle:
            data = handle.read(MAX_XML_PART_BYTES + 1)
        if len(data) > MAX_XML_PART_BYTES:
            raise DecompressionBomb(f"the document part {part} is too large")
        return data

    def root_tag(self, part: str) -> str | None:
        """The root element's name (``{namespace}local``) read from the part's first 64 KiB, or
        None when that does not show it (the whole part is parsed, and judged, later)."""
        with self.archive.open(self.infos[part]) as handle:
            head = handle.read(64 * 1024)
        if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
            return None
        parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True, load_dtd=False)
        try:
            parser.feed(head)
            for _event, element in parser.read_events():
                return str(element.tag) if isinstance(element.tag, str) else None
        except etree.XMLSyntaxError:
            return None
        return None

    def copy(self, part: str, target: IO[bytes]) -> None:
        with self.archive.open(self.infos[part]) as handle:
            while chunk := handle.read(1024 * 1024):
                target.write(chunk)


class ContentTypes:
    """[Content_Types].xml: Default by extension and Override by part name, both case-insensitive."""

    def __init__(self, package: OoxmlPackage) -> None:
        name = package.name("[Content_Types].xml")
        if name is None:
            raise CorruptFile("the document has no [Content_Types].xml")
        root = parse_xml(package.read(name), name)
        self.defaults = {el.get("Extension", "").lower(): el.get("ContentType", "").strip()
                         for el in root.iter(f"{{{CT_NS}}}Default")}
        self.overrides = {el.get("PartName", "").lstrip("/").lower(): el.get("ContentType", "").strip()
                          for el in root.iter(f"{{{CT_NS}}}Override")}

    def of(self, part: str) -> str:
        """The content type, lower-cased (OPC compares media types case-insensitively)."""
        ext = part.rsplit(".", 1)[-1].lower() if "." in part.rsplit("/", 1)[-1] else ""
        found: str = self.overrides.get(part.lower(), self.defaults.get(ext, ""))
        return found.lower()


def write_content_types(parts: dict[str, str]) -> bytes:
    """A fresh [Content_Types].xml: one Override per written part (``parts``: name -> type), plus
    the Defaults every package needs."""
    root = etree.Element(f"{{{CT_NS}}}Types", nsmap={None: CT_NS})
    for extension, ctype in (("rels", "application/vnd.openxmlformats-package.relationships+xml"),
                             ("xml", "application/xml")):
        etree.SubElement(root, f"{{{CT_NS}}}Default", Extension=extension, ContentType=ctype)
    for part, ctype in parts.items():
        etree.SubElement(root, f"{{{CT_NS}}}Override", PartName="/" + part, ContentType=ctype)
    return serialise(root)
