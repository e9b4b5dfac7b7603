"""Embedded font programs (a font descriptor's /FontFile, /FontFile2, /FontFile3) written anew from
what fontTools parsed, never copied as they came.

Font parsers and rasterisers in readers are a classic way in (CoolType's SING table, CVE-2010-2883;
Type 1 and CFF charstrings, CVE-2015-0093; TrueType hinting bytecode, a virtual machine the
rasteriser runs, CVE-2011-3402). A font program leaves the rebuild only as a font read and written
here; what is in it decides how (the descriptor's key and /Subtype are written to match):

- TrueType and OpenType (sfnt): only the tables a glyph is drawn from - head, hhea, hmtx, maxp,
  loca and glyf (TrueType outlines) or CFF (PostScript outlines, checked by ``pdf_font_cff``),
  cmap (simple TrueType fonts find glyphs through it), post (glyph names, ditto), OS/2, vhea and
  vmtx (metrics), name (only the records naming the font) - each parsed by fontTools and written
  by it. Hinting programs (fpgm, prep, cvt, each glyph's instructions) are left out, and with them
  everything else: SING, GSUB and GPOS (a PDF has chosen its glyphs already: LibreOffice's vertical
  Japanese names the vertical forms), kern, gasp, hdmx, bitmaps, colour and variation tables,
  and tables nobody has named. Written as /FontFile2 (TrueType outlines) or /FontFile3 /OpenType.
- CFF (/FontFile3 /Type1C or /CIDFontType0C): ``pdf_font_cff``.
- Type 1 (/FontFile, a PostScript program): converted to CFF by ``pdf_font_type1`` and written as
  /FontFile3 /Type1C (the font dictionary stays /Type1, as ISO 32000-2 9.9 allows).

A program that does not parse, is not one of these (a TrueType collection, CFF2, Multiple Master),
exceeds the limits below or fails the checks is not written: the font dictionary stays, so the text
is drawn in the reader's substitute font and still extracts, and the finding says a font program
was removed. A font that is rewritten is not a finding (nothing was taken away).
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import pikepdf
from fontTools.ttLib import TTFont, getTableClass
from fontTools.ttLib.tables._c_m_a_p import cmap_format_unknown

from converters.formats.pdf_active import EXTERNAL_STREAM_KEYS
from converters.formats.pdf_font_cff import Budget, clean_font_set, rewrite_cff
from converters.formats.pdf_font_type1 import type1_to_cff

log = logging.getLogger(__name__)
# fontTools' own warnings about a font ("timestamp seems very low" ...) may quote the font: not logged
logging.getLogger("fontTools").setLevel(logging.CRITICAL)

OUTLINES = {"glyf": frozenset({"glyf", "loca"}), "CFF ": frozenset({"CFF "})}
REQUIRED = frozenset({"head", "hhea", "hmtx", "maxp"})
OPTIONAL = frozenset({"cmap", "post", "OS/2", "vhea", "vmtx", "name"})
SFNT_TABLES = REQUIRED | OPTIONAL | OUTLINES["glyf"] | OUTLINES["CFF "]
NAME_IDS = frozenset(range(7))  # copyright, family, style, unique id, full name, version, PostScript name
MAX_NAME_LENGTH = 256
MAX_PROGRAM_BYTES = 32 * 1024 * 1024  # decoded; a whole CJK font embedded unsubset is 5-20 MB
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # decoded font programs read for one document
# glyph program run for one document's fonts, each font held to its own limit too (pdf_font_cff, pdf_font_type1):
# one font's limit is about 10 s of work, and a document of a few hundred bytes per font could ask for it again
# and again; every real document seen is far below (25 subset fonts of a 335-page export)
MAX_DOCUMENT_WORK = 32_000_000
FONT_FILE_KEYS = ("/FontFile", "/FontFile2", "/FontFile3")  # the order readers (PDFium) look in
UNREADABLE = ("pdf_unknown_structure_removed", "font program that cannot be read")
for _tag in sorted(SFNT_TABLES):  # fontTools imports a table's module when it first meets one: now, before a job
    getTableClass(_tag)


class FontRefused(Exception):
    """Not a font program this module writes (the message says why, without its content)."""


class Writer(Protocol):
    """What the hook needs of the copier: the document written and where findings go."""
    target: pikepdf.Pdf
    note: Callable[[str, str], None]


@dataclass
class _Document:
    read: int = 0
    written: dict[tuple[int, int], tuple[str, pikepdf.Stream] | None] = field(default_factory=dict)
    work: Budget = field(default_factory=lambda: Budget(MAX_DOCUMENT_WORK))


_DOCUMENTS: WeakKeyDictionary[Writer, _Document] = WeakKeyDictionary()


def embed_font_program(source: object, made: object, writer: Writer) -> None:
    """The font program of the descriptor ``source`` written anew into ``made`` (the descriptor written),
    or left out with a finding. A hook of ``pdf_schema.FONT_DESCRIPTOR``."""
    if not isinstance(source, pikepdf.Dictionary) or not isinstance(made, pikepdf.Dictionary):
        return
    present = [key for key in FONT_FILE_KEYS if key in source]
    if not present:
        return
    if len(present) > 1:
        writer.note("pdf_unknown_structure_removed", "a second font program")
    document = _DOCUMENTS.setdefault(writer, _Document())
    value = source.get(present[0])
    memo = value.objgen if isinstance(value, pikepdf.Stream) and value.is_indirect else None
    if memo is not None and memo in document.written:
        written = document.written[memo]
    else:
        written = _written(value, writer, document)
        if memo is not None:
            document.written[memo] = written
    if written is not None:
        made[written[0]] = written[1]


def _written(value: object, writer: Writer, document: _Document) -> tuple[str, pikepdf.Stream] | None:
    if not isinstance(value, pikepdf.Stream):
        writer.note(*UNREADABLE)
        return None
    if any(key in value for key in EXTERNAL_STREAM_KEYS):
        writer.note("pdf_external_link_removed", "stream data in another file")
        return None
    data = _decoded(value)
    if data is None or document.read + len(data) > MAX_DOCUMENT_BYTES:
        writer.note(*UNREADABLE)
        return None
    document.read += len(data)
    length1 = value.get("/Length1")
    try:
        key, program, subtype = rewrite_font_program(data, length1 if isinstance(length1, int) else None,
                                                     document.work)
    except Exception as exc:  # fontTools raises anything (struct, index, assertion ...) on bad fonts
        log.info("font program not written: %s", type(exc).__name__)
        writer.note(*UNREADABLE)
        return None
    stream = pikepdf.Stream(writer.target, program)
    if key == "/FontFile2":
        stream["/Length1"] = len(program)
    if subtype is not None:
        stream["/Subtype"] = pikepdf.Name(subtype)
    return key, stream


def _decoded(stream: pikepdf.Stream) -> bytes | None:
    """The stream's data decoded, or None when it cannot be or is larger than MAX_PROGRAM_BYTES (a
    Flate stream alone, the usual case, is inflated only that far)."""
    filters = stream.get("/Filter")
    listed = list(filters) if isinstance(filters, pikepdf.Array) else [] if filters is None else [filters]
    try:
        if [str(item) for item in listed] == ["/FlateDecode"] and "/DecodeParms" not in stream:
            inflater = zlib.decompressobj()
            data = inflater.decompress(stream.read_raw_bytes(), MAX_PROGRAM_BYTES + 1)
        else:
            data = stream.read_bytes()
    except (pikepdf.PdfError, zlib.error, ValueError):
        return None
    return data if 0 < len(data) <= MAX_PROGRAM_BYTES else None


def rewrite_font_program(data: bytes, length1: int | None = None,
                         within: Budget | None = None) -> tuple[str, bytes, str | None]:
    """The descriptor key, the program written anew and its stream's /Subtype; FontRefused (or any error
    of fontTools) when it is not a program this module writes. ``within``: the document's budget of work."""
    head = data[:4]
    if head in (b"\x00\x01\x00\x00", b"true", b"OTTO"):
        return rewrite_sfnt(data, within)
    if head.startswith((b"%!", b"\x80\x01")):
        return "/FontFile3", type1_to_cff(data, length1, within), "/Type1C"
    if head[:1] == b"\x01" and head[1:2] == b"\x00":  # CFF 1.0 header
        program, cid = rewrite_cff(data, within)
        return "/FontFile3", program, "/CIDFontType0C" if cid else "/Type1C"
    raise FontRefused("not a TrueType, OpenType, CFF or Type 1 font program")


def _names(table: Any) -> None:
    """Only the records that name the font, as text."""
    kept = []
    for record in table.names:
        if record.nameID in NAME_IDS and record.platformID in (1, 3):
            text = record.toUnicode(errors="replace")[:MAX_NAME_LENGTH]
            record.string = text
            kept.append(record)
    table.names = kept


def _optional(font: TTFont, tag: str) -> None:
    try:
        table = font[tag]
        if tag == "cmap":
            table.tables = [sub for sub in table.tables if not isinstance(sub, cmap_format_unknown)]
        elif tag == "name":
            _names(table)
        elif tag == "post" and table.formatType not in (1.0, 2.0, 3.0):
            table.formatType = 3.0
    except Exception as exc:  # a table that does not parse is left out, not the font
        log.info("font table %r left out: %s", tag, type(exc).__name__)
        del font[tag]


def _without_hinting(font: TTFont) -> None:
    glyf = font["glyf"]
    for name in font.getGlyphOrder():
        glyf[name].removeHinting()  # glyf[name] parses the glyph: nothing of it is written as it came
    maxp = font["maxp"]
    if maxp.tableVersion >= 0x00010000:
        maxp.maxZones = 1
        for item in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                     "maxStackElements", "maxSizeOfInstructions"):
            setattr(maxp, item, 0)


def rewrite_sfnt(data: bytes, within: Budget | None = None) -> tuple[str, bytes, str | None]:
    font = TTFont(io.BytesIO(data), recalcBBoxes=True, recalcTimestamp=False)
    tags = set(font.reader.keys())
    outlines = [kind for kind in OUTLINES if kind in tags]
    if len(outlines) != 1 or not REQUIRED | OUTLINES[outlines[0]] <= tags:
        raise FontRefused("an sfnt font without the tables a glyph is drawn from")
    for tag in tags - REQUIRED - OPTIONAL - OUTLINES[outlines[0]]:
        del font[tag]
    for tag in sorted(REQUIRED | OUTLINES[outlines[0]]):
        font[tag]  # parsed now (a table never parsed would be written as it came)
    for tag in sorted(tags & OPTIONAL):
        _optional(font, tag)
    if "vmtx" in font and "vhea" not in font:
        del font["vmtx"]
    if outlines[0] == "glyf":
        _without_hinting(font)
    else:
        clean_font_set(font["CFF "].cff, within)
    written = io.BytesIO()
    font.save(written, reorderTables=True)
    again = TTFont(io.BytesIO(written.getvalue()))
    if not set(again.keys()) - {"GlyphOrder"} <= SFNT_TABLES:
        raise FontRefused("a table that is not on the list was written")
    for tag in again.keys():
        again[tag]  # every table parses again
    return ("/FontFile2", written.getvalue(), None) if outlines[0] == "glyf" else \
        ("/FontFile3", written.getvalue(), "/OpenType")
