"""Structure-aware mutation of ZIP containers (plain archives, OOXML, ODF, JAR-like packages).

Two layers:

- *semantic*: the archive is read with ``zipfile`` and written again after changing one member
  (its data through an inner mutator - XML parts through the XML mutator, nested archives through
  this one -, its name, its compression, its extra field) or the member list (add one from a
  dictionary of Office and attack names, remove, duplicate); the result is a well-formed ZIP whose
  CRCs and sizes agree, so the parsers behind the container are reached;
- *raw*: one field of a local header, a central-directory entry or the end record is set to an
  interesting value (compression method, flag bits such as encryption and strong encryption, CRC,
  sizes, offsets, name and extra lengths, entry counts), names differ between local and central
  headers, the archive is cut at a structural boundary, junk is put in front, or a fake end
  record is hidden in the comment - the damage real truncated downloads and attackers produce.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable

Mutator = Callable[[bytes, random.Random], bytes]

LFH, CDH, EOCD = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"
# (offset in the record, struct format, field name)
LFH_FIELDS = [(4, "<H", "version"), (6, "<H", "flags"), (8, "<H", "method"), (10, "<H", "time"),
              (12, "<H", "date"), (14, "<I", "crc"), (18, "<I", "csize"), (22, "<I", "usize"),
              (26, "<H", "name_len"), (28, "<H", "extra_len")]
CDH_FIELDS = [(4, "<H", "made_by"), (6, "<H", "version"), (8, "<H", "flags"), (10, "<H", "method"),
              (12, "<H", "time"), (14, "<H", "date"), (16, "<I", "crc"), (20, "<I", "csize"),
              (24, "<I", "usize"), (28, "<H", "name_len"), (30, "<H", "extra_len"), (32, "<H", "comment_len"),
              (34, "<H", "disk"), (36, "<H", "internal_attr"), (38, "<I", "external_attr"), (42, "<I", "offset")]
EOCD_FIELDS = [(4, "<H", "disk"), (6, "<H", "cd_disk"), (8, "<H", "disk_entries"), (10, "<H", "entries"),
               (12, "<I", "cd_size"), (16, "<I", "cd_offset"), (20, "<H", "comment_len")]
METHODS = (0, 1, 6, 8, 9, 12, 14, 19, 93, 95, 96, 97, 98, 99, 0xFFFF)
FLAG_BITS = (0x1, 0x8, 0x40, 0x800, 0x2000, 0x20, 0x4000)
MEMBER_NAMES = (
    "[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/_rels/document.xml.rels",
    "word/vbaProject.bin", "word/settings.xml", "word/webSettings.xml", "word/embeddings/oleObject1.bin",
    "word/activeX/activeX1.xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml",
    "xl/externalLinks/externalLink1.xml", "xl/connections.xml", "xl/macrosheets/sheet1.xml",
    "xl/vbaProject.bin", "ppt/presentation.xml", "ppt/slides/slide1.xml", "customUI/customUI14.xml",
    "docProps/core.xml", "mimetype", "content.xml", "styles.xml", "META-INF/manifest.xml",
    "Basic/Standard/Module1.xml", "Scripts/python/x.py", "Object 1/content.xml",
    "../../evil.txt", "/etc/passwd", "C:\\Windows\\evil.exe", "a/../../b.txt", "CON.txt", "aux",
    "dir/", "dir\\file.txt", "ファイル.txt", "名前\u202egpj.exe", "x" * 300, "", ".", "a/b/c/d/e/f/g/h.txt",
    "readme.TXT", "README.txt", "invoice.pdf.exe", "doc.docm", "nested.zip", "image.png", "script.js",
)
MEMBER_DATA = (
    b"", b"<?xml version='1.0'?><a/>", b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode",
    b"\x7fELF\x02\x01\x01" + b"\x00" * 57, b"%PDF-1.4\n%%EOF\n", b"\x89PNG\r\n\x1a\n",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, b"PK\x05\x06" + b"\x00" * 18,
    "日本語のテキスト\r\n".encode("cp932"), b"<html><script>alert(1)</script></html>",
    b"=cmd|' /C calc'!A0\r\n", b"application/vnd.oasis.opendocument.text",
)


def _interesting_int(rng: random.Random, current: int, size: int, length: int) -> int:
    top = (1 << (8 * size)) - 1
    choices = [0, 1, top, top - 1, current + 1, max(0, current - 1), current * 2, length, length + 1,
               rng.randrange(top + 1), 0x7FFF, 0x8000, 0x7FFFFFFF & top, current ^ (1 << rng.randrange(8 * size))]
    return rng.choice(choices) & top


def _offsets(data: bytes, signature: bytes) -> list[int]:
    found: list[int] = []
    start = 0
    while len(found) < 4096:
        at = data.find(signature, start)
        if at < 0:
            break
        found.append(at)
        start = at + 1
    return found


def _set_field(data: bytes, at: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    if at + size > len(data):
        return data
    return data[:at] + struct.pack(fmt, value) + data[at + size:]


def raw_field(data: bytes, rng: random.Random) -> bytes:
    """One header field of one record set to an interesting value."""
    records = [(CDH, CDH_FIELDS), (LFH, LFH_FIELDS), (EOCD, EOCD_FIELDS)]
    rng.shuffle(records)
    for signature, fields in records:
        places = _offsets(data, signature)
        if not places:
            continue
        base = rng.choice(places)
        offset, fmt, name = rng.choice(fields)
        size = struct.calcsize(fmt)
        if base + offset + size > len(data):
            return data
        (current,) = struct.unpack_from(fmt, data, base + offset)
        if name == "method":
            value = rng.choice(METHODS)
        elif name == "flags":
            value = current ^ rng.choice(FLAG_BITS)
        else:
            value = _interesting_int(rng, current, size, len(data))
        return _set_field(data, base + offset, fmt, value)
    return data


def raw_name(data: bytes, rng: random.Random) -> bytes:
    """Rewrite a name in place in the local or the central header only, so the two disagree."""
    places = [(at, 30, 26) for at in _offsets(data, LFH)] + [(at, 46, 28) for at in _offsets(data, CDH)]
    if not places:
        return data
    at, header, len_at = rng.choice(places)
    if at + header > len(data):
        return data
    (length,) = struct.unpack_from("<H", data, at + len_at)
    name = bytearray(data[at + header: at + header + length])
    if not name:
        return data
    choice = rng.randrange(4)
    if choice == 0:
        name[rng.randrange(len(name))] = rng.choice(b"/\\.\x00\xff\x81A:")
    elif choice == 1:
        name = bytearray(name.upper())
    elif choice == 2:
        replacement = "名前".encode("cp932")[: len(name)]
        name[: len(replacement)] = replacement
    else:
        name[:3] = b"../"[: len(name)]
    return data[: at + header] + bytes(name[:length]) + data[at + header + length:]


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut at (or near) a record boundary: a truncated download."""
    places = _offsets(data, LFH) + _offsets(data, CDH) + _offsets(data, EOCD)
    if not places:
        return data[: rng.randrange(len(data) + 1)]
    cut = rng.choice(places) + rng.choice((0, 1, 4, 10, 22, 30, 46))
    return data[:cut]


def junk_around(data: bytes, rng: random.Random) -> bytes:
    """Junk in front (offsets shift, as in self-extracting archives), after, or a fake end record
    hidden in the archive comment."""
    choice = rng.randrange(3)
    if choice == 0:
        return rng.choice((b"MZ", b"%PDF-1.4\n", b"\x00" * 7, b"GIF89a")) + bytes(rng.randrange(64))
    if choice == 1:
        return data + rng.choice((b"\x00" * 100, b"PK\x03\x04", b"<script>", EOCD + b"\x00" * 18))
    fake = EOCD + struct.pack("<HHHHIIH", 0, 0, 1, 1, 46, 0, 0)
    at = data.rfind(EOCD)
    if at < 0 or at + 22 > len(data):
        return data + fake
    patched = _set_field(data, at + 20, "<H", len(fake))
    return patched[: at + 22] + fake


# --- semantic layer -------------------------------------------------------------------------

Entry = tuple[zipfile.ZipInfo, bytes]


def read_entries(data: bytes, limit: int = 2_000_000) -> list[Entry] | None:
    """Every member with its data, or None when ``zipfile`` cannot read the archive whole."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries, total = [], 0
            for info in archive.infolist()[:400]:
                if info.file_size > limit or info.flag_bits & 0x1:
                    return None
                member = archive.read(info)
                total += len(member)
                if total > limit:
                    return None
                entries.append((info, member))
            return entries
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
            NotImplementedError, RuntimeError, zlib.error, struct.error, UnicodeDecodeError, OverflowError):
        return None


def write_entries(entries: list[Entry], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, member in entries:
            fresh = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fresh.compress_type = info.compress_type if info.compress_type in (0, 8, 12, 14) else 8
            fresh.extra = info.extra
            fresh.external_attr = info.external_attr
            fresh.create_system = info.create_system
            archive.writestr(fresh, member)
        archive.comment = comment[:65535]
    return buffer.getvalue()


def _byte_edit(member: bytes, rng: random.Random) -> bytes:
    if not member:
        return rng.choice(MEMBER_DATA)
    at = rng.randrange(len(member))
    choice = rng.randrange(4)
    if choice == 0:
        return member[:at] + bytes([rng.randrange(256)]) + member[at + 1:]
    if choice == 1:
        return member[:at]
    if choice == 2:
        return member[:at] + rng.choice(MEMBER_DATA) + member[at:]
    span = rng.randrange(1, 64)
    return member[:at] + member[at:at + span] * rng.randrange(2, 50) + member[at + span:]


class ZipMutator:
    """Structure-aware ZIP mutation; ``inner`` mutates XML parts (the XML mutator)."""

    def __init__(self, inner_xml: Mutator | None = None, depth: int = 0) -> None:
        self.inner_xml = inner_xml
        self.depth = depth
        self.last_op = ""

    def __call__(self, data: bytes, rng: random.Random) -> bytes:
        entries = read_entries(data)
        semantic: list[Callable[[list[Entry], random.Random, bytes], bytes]] = [
            self._member_data, self._member_data, self._member_data, self._add_member, self._remove_member,
            self._duplicate_member, self._rename_member, self._compression, self._extra_field, self._comment]
        raw: list[Mutator] = [raw_field, raw_field, raw_name, truncate, junk_around]
        if entries and rng.random() < 0.7:
            op = rng.choice(semantic)
            self.last_op = f"zip.{op.__name__.lstrip('_')}"
            return op(entries, rng, data)
        raw_op = rng.choice(raw)
        self.last_op = f"zip.{raw_op.__name__}"
        return raw_op(data, rng)

    def _pick(self, entries: list[Entry], rng: random.Random) -> int:
        xml = [i for i, (info, _) in enumerate(entries) if info.filename.endswith((".xml", ".rels", ".vml"))]
        if xml and rng.random() < 0.7:
            return rng.choice(xml)
        return rng.randrange(len(entries))

    def _member_data(self, entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        index = self._pick(entries, rng)
        info, member = entries[index]
        if member.lstrip()[:1] == b"<" and self.inner_xml is not None:
            member = self.inner_xml(member, rng)
        elif member[:4] == LFH and self.depth < 2:
            member = ZipMutator(self.inner_xml, self.depth + 1)(member, rng)
        else:
            member = _byte_edit(member, rng)
        entries[index] = (info, member)
        return write_entries(entries)

    @staticmethod
    def _add_member(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        info = zipfile.ZipInfo(rng.choice(MEMBER_NAMES) or "x", date_time=(1980, 1, 1, 0, 0, 0))
        entries.insert(rng.randrange(len(entries) + 1), (info, rng.choice(MEMBER_DATA)))
        return write_entries(entries)

    @staticmethod
    def _remove_member(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        del entries[rng.randrange(len(entries))]
        return write_entries(entries)

    @staticmethod
    def _duplicate_member(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        entries.append(entries[rng.randrange(len(entries))])  # same name twice
        return write_entries(entries)

    @staticmethod
    def _rename_member(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        index = rng.randrange(len(entries))
        info, member = entries[index]
        name = info.filename
        choice = rng.randrange(4)
        if choice == 0:
            name = rng.choice(MEMBER_NAMES) or name
        elif choice == 1:
            name = name.upper() if name != name.upper() else name.lower()
        elif choice == 2:
            name = "../" + name
        else:
            name = name.replace("/", "\\")
        renamed = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        renamed.compress_type = info.compress_type
        entries[index] = (renamed, member)
        return write_entries(entries)

    @staticmethod
    def _compression(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        """Recompress one member (stored, deflate, bzip2, lzma): readers must support each or say so."""
        index = rng.randrange(len(entries))
        entries[index][0].compress_type = rng.choice((0, 8, 12, 14))
        return write_entries(entries)

    @staticmethod
    def _extra_field(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        """A malformed or misleading extra field: short ZIP64 record, Unicode path, huge length."""
        index = rng.randrange(len(entries))
        extras = (struct.pack("<HH", 0x0001, 4) + b"\xff\xff\xff\xff", struct.pack("<HH", 0x0001, 0),
                  struct.pack("<HH", 0x7075, 9) + b"\x01\x00\x00\x00\x00../x", struct.pack("<HH", 0x9901, 7)
                  + b"\x02\x00AE\x03\x08\x00", struct.pack("<HH", 0xCAFE, 0), b"\x01\x00\xff\xff")
        entries[index][0].extra = rng.choice(extras)
        return write_entries(entries)

    @staticmethod
    def _comment(entries: list[Entry], rng: random.Random, _: bytes) -> bytes:
        comment = rng.choice((b"\x00" * 200, EOCD + b"\x00" * 18, "コメント".encode("cp932"), b"x" * 65535))
        return write_entries(entries, comment)
