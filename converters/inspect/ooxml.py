"""Independent check of Office (OOXML) outputs, reading the package as Office reads it: parts
reached by walking relationships from _rels/.rels; content and relationship types compared
case-insensitively against allowlists of content and layout types, Strict namespaces read as the
transitional ones; every XML part parsed (character references decoded, no DTD) and every
element's namespace allowed; Word fields joined across runs, Excel formulas wherever they may
stand, PowerPoint actions; image bytes that are the image their type says. Anything that cannot
be read is a problem (fail closed). Shares no code with the converters."""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml

from converters.inspect.damaged_zip import ZipUnreadable, zip_reading
from converters.inspect.mail_links import mail_link_ok
from converters.inspect.metafile import emf_problems, wmf_problems
from converters.inspect.ooxml_formulas import SAFE_LINK, callable_name
from converters.inspect.ooxml_xml import MS, PKG, D, Part, T, normalize, show

MAX_PART = 256 * 1024 * 1024
MAX_TOTAL = 1024 * 1024 * 1024

# Relationship types of content and layout (ECMA-376 Part 1 §15 and Microsoft's documented
# extensions). Not here, so problems: vbaProject, wordVbaData, oleObject, package, control,
# activeXControlBinary, xlMacrosheet, xlIntlMacrosheet, dialogsheet, externalLink(Path),
# connections, queryTable, ui/extensibility (customUI), webextension(s), taskpanes,
# attachedTemplate, frame, subDocument, aFChunk, printerSettings, font (embedded fonts carry a
# font parser's attack surface), audio, video, media, hdphoto, ctrlProp, customProperty,
# volatileDependencies (RTD), xmlMaps, revisions, digital signatures, keyMapCustomizations.
REL_TYPES = frozenset(
    [T + kind for kind in """officedocument extended-properties custom-properties metadata/core-properties
        metadata/thumbnail styles settings websettings fonttable theme themeoverride numbering footnotes endnotes
        comments header footer image hyperlink glossarydocument customxml customxmlprops worksheet chartsheet
        sharedstrings calcchain drawing table pivottable pivotcachedefinition pivotcacherecords sheetmetadata
        vmldrawing chart chartusershapes diagramdata diagramlayout diagramquickstyle diagramcolors slide slidelayout
        slidemaster notesslide notesmaster handoutmaster presprops viewprops tablestyles commentauthors tags""".split()]
    + [PKG + "metadata/core-properties", PKG + "metadata/thumbnail"]
    + [MS + kind.lower() for kind in """2007/relationships/stylesWithEffects 2007/relationships/diagramDrawing
        2011/relationships/chartStyle 2011/relationships/chartColorStyle 2014/relationships/chartEx
        2011/relationships/people 2011/relationships/commentsExtended 2016/09/relationships/commentsIds
        2018/08/relationships/commentsExtensible 2017/10/relationships/threadedComment
        2017/10/relationships/person 2019/04/relationships/namedSheetView 2007/relationships/slicer
        2007/relationships/slicerCache 2011/relationships/timeline 2011/relationships/timelineCache
        2018/10/relationships/comments 2018/10/relationships/authors 2015/10/relationships/revisionInfo
        2020/02/relationships/classificationlabels""".split()])
CUSTOM_XML_REL = T + "customxml"
MAIN_TYPES = frozenset(D + kind for kind in (
    "wordprocessingml.document.main+xml", "wordprocessingml.template.main+xml", "spreadsheetml.sheet.main+xml",
    "spreadsheetml.template.main+xml", "presentationml.presentation.main+xml", "presentationml.slideshow.main+xml",
    "presentationml.template.main+xml"))
XML_TYPES = MAIN_TYPES | frozenset(
    [D + kind + "+xml" for kind in """wordprocessingml.document.glossary wordprocessingml.styles
        wordprocessingml.settings wordprocessingml.websettings wordprocessingml.fonttable wordprocessingml.numbering
        wordprocessingml.footnotes wordprocessingml.endnotes wordprocessingml.comments wordprocessingml.header
        wordprocessingml.footer wordprocessingml.commentsextended wordprocessingml.commentsids
        wordprocessingml.commentsextensible wordprocessingml.people spreadsheetml.worksheet spreadsheetml.chartsheet
        spreadsheetml.sharedstrings spreadsheetml.styles spreadsheetml.calcchain spreadsheetml.comments
        spreadsheetml.table spreadsheetml.pivottable spreadsheetml.pivotcachedefinition
        spreadsheetml.pivotcacherecords spreadsheetml.sheetmetadata presentationml.slide presentationml.slidelayout
        presentationml.slidemaster presentationml.notesslide presentationml.notesmaster presentationml.handoutmaster
        presentationml.presprops presentationml.viewprops presentationml.tablestyles presentationml.commentauthors
        presentationml.comments presentationml.tags theme themeoverride drawing drawingml.chart drawingml.chartshapes
        drawingml.diagramdata drawingml.diagramlayout drawingml.diagramstyle drawingml.diagramcolors
        customxmlproperties extended-properties custom-properties""".split()]
    + [f"application/vnd.ms-{kind}+xml" for kind in """word.styleswitheffects excel.slicer excel.slicercache
        excel.timeline excel.timelinecache excel.threadedcomments excel.person excel.namedsheetviews
        powerpoint.comments powerpoint.authors powerpoint.revisioninfo office.drawingml.diagramdrawing
        office.chartstyle office.chartcolorstyle office.chartex office.classificationlabels""".split()]
    + [D + "vmldrawing", "application/vnd.openxmlformats-package.core-properties+xml"])
CHART_TYPES = frozenset({D + "drawingml.chart+xml", "application/vnd.ms-office.chartex+xml"})
WORKBOOK_PACKAGE = D + "spreadsheetml.sheet"
CUSTOM_XML_TYPES = frozenset({"application/xml", "text/xml"})  # data items only: bound, never run
IMAGE_TYPES = {"image/png": "PNG", "image/x-png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG",
               "image/pjpeg": "JPEG", "image/gif": "GIF", "image/bmp": "BMP", "image/x-bmp": "BMP",
               "image/x-ms-bmp": "BMP", "image/tiff": "TIFF", "image/x-tiff": "TIFF", "image/x-emf": "EMF",
               "image/emf": "EMF", "image/x-wmf": "WMF", "image/wmf": "WMF"}

RELS_PART = re.compile(r"(^|/)_rels/[^/]*\.rels$")
PAYLOAD = re.compile(rb"This program cannot be run in DOS mode|\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1|\x7fELF[\x01\x02]"
                     rb"|<script|<html|<svg[\s>]", re.IGNORECASE)
MAGIC = {"PNG": (b"\x89PNG\r\n\x1a\n",), "JPEG": (b"\xff\xd8\xff",), "GIF": (b"GIF87a", b"GIF89a"),
         "BMP": (b"BM",), "TIFF": (b"II*\x00", b"MM\x00*"), "EMF": (b"\x01\x00\x00\x00",),
         "WMF": (b"\xd7\xcd\xc6\x9a", b"\x01\x00\x09\x00", b"\x02\x00\x09\x00")}




def part_key(name: str) -> str:
    """How Office matches part names: percent-decoded, without the leading slash, in any case."""
    return unquote(name).lstrip("/").lower()




def check_ooxml(path: Path) -> list[str]:
    """Problems found in the OOXML package at ``path``; an empty list means clean."""
    return check_package(path, embedded=False)


def check_package(source: Path | io.BytesIO, embedded: bool) -> list[str]:
    problems: list[str] = []
    try:
        with zip_reading(), zipfile.ZipFile(source) as package:
            Package(package, problems, embedded).check()
    except ZipUnreadable as exc:  # a package or part that cannot be read fails the file, never passes it
        problems.append(f"ooxml_unreadable: {exc}")
    return list(dict.fromkeys(problems))


class Package:
    def __init__(self, package: zipfile.ZipFile, problems: list[str], embedded: bool) -> None:
        self.package, self.problems, self.embedded = package, problems, embedded
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        self.reached: dict[str, str] = {}  # part key -> relationship type that reached it first
        self.calls: dict[str, str] = {}
        self.names: set[str] = set()

    def check(self) -> None:
        if not self.list_members() or not self.content_types():
            return
        self.walk()
        for key, info in self.members.items():
            if key in self.reached or key == "[content_types].xml":
                continue
            if not RELS_PART.search(key):
                self.problems.append(f"unreferenced part {info.filename}")
            elif self.source_of(key) not in self.reached and key != "_rels/.rels":
                self.problems.append(f"relationships of a missing part {info.filename}")
        for call, part in self.calls.items():
            if not callable_name(call) or call.lower() not in self.names:
                self.problems.append(f"function {show(call)} in formula in {part}")

    def list_members(self) -> bool:
        total = 0
        for info in self.package.infolist():
            name = info.filename
            if name.endswith("/") and info.file_size == 0:
                continue
            total += info.file_size
            key = part_key(name)
            if info.flag_bits & 0x1:
                self.problems.append(f"encrypted part {name}")
            elif name.startswith("/") or "\\" in name or ".." in name.split("/"):
                self.problems.append(f"unsafe part name {show(name)}")
            elif key in self.members:
                self.problems.append(f"duplicate part name {show(name)}")
            elif info.file_size > MAX_PART:
                self.problems.append(f"oversized part {name}")
            else:
                self.members[key] = info
        if total > MAX_TOTAL:
            self.problems.append("package too large to check")
        return not self.problems

    def read(self, key: str) -> bytes:
        return self.package.read(self.members[key])

    def content_types(self) -> bool:
        if "[content_types].xml" not in self.members:
            self.problems.append("no [Content_Types].xml")
            return False
        for element in self.elements("[content_types].xml", "[Content_Types].xml"):
            local = element.tag.rpartition("}")[2]
            if local == "Default":
                self.defaults[element.get("Extension", "").strip().lower()] = media_type(element.get("ContentType"))
            elif local == "Override":
                self.overrides[part_key(element.get("PartName", ""))] = media_type(element.get("ContentType"))
        return True

    def elements(self, key: str, name: str) -> Iterator[Element]:
        """Every element of a small bookkeeping part (content types, relationships), checked by a Part."""
        data = self.read(key)
        Part(name, self.problems, self.calls, self.names).read(data, vml=False, custom=False)
        try:
            yield from safe_xml.fromstring(data, forbid_dtd=True).iter()
        except (ParseError, ValueError, LookupError):
            return  # the Part reading above has reported it

    def content_type(self, key: str) -> str:
        if key in self.overrides:
            return self.overrides[key]
        return self.defaults.get(posixpath.basename(key).rpartition(".")[2], "")

    @staticmethod
    def source_of(rels_key: str) -> str:
        folder, _, name = rels_key.rpartition("_rels/")
        return folder + name.removesuffix(".rels")

    def walk(self) -> None:
        if "_rels/.rels" not in self.members:
            self.problems.append("no _rels/.rels")
            return
        queue, main = [""], 0
        while queue:
            source = queue.pop()
            folder, _, name = source.rpartition("/")
            rels = f"{folder}/_rels/{name}.rels".lstrip("/") if source else "_rels/.rels"
            if rels not in self.members:
                continue
            for element in self.elements(rels, self.members[rels].filename):
                if element.tag.rpartition("}")[2] != "Relationship":
                    continue
                kind = normalize(element.get("Type", ""))
                target = element.get("Target", "").strip()
                label = f"{show(kind.rpartition('/')[2])} in {self.members[rels].filename}"
                key = part_key(posixpath.normpath(posixpath.join("/" + folder, target.partition("#")[0])))
                if kind not in REL_TYPES and not self.chart_workbook(kind, source, key):
                    self.problems.append(f"relationship type {label}")
                if element.get("TargetMode", "Internal").strip().lower() != "internal":
                    if kind != T + "hyperlink" or not SAFE_LINK.match(target) or not mail_link_ok(target):
                        self.problems.append(f"external relationship {label}")
                    continue
                if re.match(r"[a-z][a-z0-9+.-]*:|//|\\\\", target, re.IGNORECASE):
                    self.problems.append(f"internal relationship with an address {label}")
                    continue
                if key not in self.members:
                    continue  # a dangling internal relationship reaches nothing
                main += kind == T + "officedocument" and not source
                if key not in self.reached:
                    self.reached[key] = kind
                    self.part(key, kind, not source and kind == T + "officedocument")
                    queue.append(key)
        if main != 1:
            self.problems.append(f"{main} main documents")

    def chart_workbook(self, kind: str, source: str, key: str) -> bool:
        """A chart's data as an embedded workbook (how Word and PowerPoint keep charts editable):
        allowed one level deep, and then checked as a whole package by this same inspector."""
        return (kind == T + "package" and not self.embedded and self.content_type(source) in CHART_TYPES
                and self.content_type(key) == WORKBOOK_PACKAGE)

    def outside_ids(self, key: str) -> frozenset[str]:
        """Ids of the part's relationships that lead outside the package (only a hyperlink may name one)."""
        folder, _, name = key.rpartition("/")
        rels = f"{folder}/_rels/{name}.rels".lstrip("/")
        if rels not in self.members:
            return frozenset()
        try:
            root = safe_xml.fromstring(self.read(rels), forbid_dtd=True)
        except (ParseError, ValueError, LookupError):
            return frozenset()  # reported when the walk reads it
        return frozenset(element.get("Id", "").strip() for element in root.iter()
                         if element.tag.rpartition("}")[2] == "Relationship"
                         and element.get("TargetMode", "Internal").strip().lower() != "internal")

    def reader(self, key: str) -> Part:
        return Part(self.members[key].filename, self.problems, self.calls, self.names, self.outside_ids(key))

    def part(self, key: str, kind: str, main: bool) -> None:
        name, ctype = self.members[key].filename, self.content_type(key)
        if main and ctype not in MAIN_TYPES:
            self.problems.append(f"main document of type {show(ctype)}")
        if ctype in IMAGE_TYPES:
            found = image_problems(self.read(key), IMAGE_TYPES[ctype])
            self.problems.extend(f"{problem} in {name}" for problem in found)
        elif ctype == WORKBOOK_PACKAGE and kind == T + "package" and not self.embedded:
            found = check_package(io.BytesIO(self.read(key)), embedded=True)
            self.problems.extend(f"{name}: {problem}" for problem in found)
        elif ctype in CUSTOM_XML_TYPES and kind == CUSTOM_XML_REL:
            self.reader(key).read(self.read(key), vml=False, custom=True)
        elif ctype in XML_TYPES:
            self.reader(key).read(self.read(key), vml=ctype == D + "vmldrawing", custom=False)
        else:
            self.problems.append(f"content type {show(ctype)} of {name}")
            if ctype.endswith("xml"):  # read anyway, so the report says what it holds
                self.reader(key).read(self.read(key), vml=False, custom=False)


def media_type(value: str | None) -> str:
    return (value or "").partition(";")[0].strip().lower()


def image_problems(data: bytes, kind: str) -> list[str]:
    """The bytes are the image the content type says, whole, with nothing after its end."""
    if not data.startswith(MAGIC[kind]):
        return [f"bytes are not {kind}"]
    if kind == "EMF":
        problems = emf_problems(data)
    elif kind == "WMF":
        problems = wmf_problems(data)
    else:
        problems = raster_problems(data, kind)
    if PAYLOAD.search(data):
        problems.append("executable, document or markup inside an image")
    return problems


def raster_problems(data: bytes, kind: str) -> list[str]:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != kind:
                return [f"bytes are {image.format}, not {kind}"]
            image.verify()
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError, struct.error,
            Image.DecompressionBombError) as exc:  # what Pillow's decoders raise on damaged data
        return [f"image unreadable ({type(exc).__name__})"]
    if kind == "PNG":
        position = 8
        while position + 8 <= len(data):
            length, chunk = struct.unpack(">I4s", data[position:position + 8])
            position += 12 + length
            if chunk == b"IEND":
                break
        return [] if position == len(data) else ["data after the image"]
    if kind == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return ["data after the image"]
    if kind == "GIF" and not data.endswith(b";"):
        return ["data after the image"]
    return []
