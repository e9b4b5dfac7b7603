"""Enhanced metafiles ([MS-EMF]) written anew from an allowlist of records.

The header is written from its bounds, frame and reference sizes only (no description string, no
pixel format, no OpenGL flag; byte, record and handle counts recomputed for what is written), then
drawing, path, clipping, state, object (pen, brush, font, palette) and text records, each at the
size its type requires and with the counts inside it checked against that size, then EMR_EOF
without a palette. Bitmaps inside records are read and written anew (``metafile_dib``).

Left out: escapes (EMR_DRAWESCAPE, EMR_EXTESCAPE, EMR_NAMEDESCAPE), EMR_COMMENT (which is where
EMF+ and the public comments ride; a dual EMF+ file still draws from its GDI records), ICM and
colour-space records (EMR_SETICMPROFILEA/W, EMR_CREATECOLORSPACE(W) and EMR_COLORMATCHTOTARGETW
name profile files, a UNC path makes Windows connect out; EMR_SETICMMODE, which names none and
which Office writes, stays), OpenGL records, UFI font mapping,
EMR_POLYTEXTOUT, any type not named here, and a record whose bitmap or counts do not hold. A
selection or deletion of an object whose creation was left out goes too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from converters.formats.metafile_dib import BadBitmap, read_dib
from converters.formats.metafile_records import (
    COLOUR_SPACE,
    COMMENT,
    EMF_PLUS,
    ESCAPE,
    FONT_MAPPING,
    MALFORMED,
    MAX_RECORDS,
    NOT_KEPT,
    OPENGL,
    Rewritten,
    Unkept,
)

EMR_HEADER, EMR_EOF, EMR_COMMENT = 1, 14, 70
HEADER_SIZE = 108
SIGNATURE = b" EMF"
STOCK_FIRST, STOCK_LAST = 0x80000000, 0x80000013
MAX_HANDLE = 0xFFFE
ETO_NO_RECT, ETO_SMALL_CHARS, ETO_PDY = 0x100, 0x200, 0x2000
BITMAP_BRUSH_STYLES = (3, 5, 6)  # BS_PATTERN, BS_DIBPATTERN, BS_DIBPATTERNPT
PATH_POINT_TYPES = frozenset({2, 3, 4, 5, 6})  # PT_LINETO, PT_BEZIERTO, PT_MOVETO (| PT_CLOSEFIGURE)

# records of one layout and size: type -> bytes written (the type's whole size)
FIXED = {
    9: 16, 10: 16, 11: 16, 12: 16, 13: 16, 15: 20, 16: 12, 17: 12, 18: 12, 19: 12, 20: 12, 21: 12, 22: 12, 23: 32,
    24: 12, 25: 12, 26: 16, 27: 16, 28: 8, 29: 24, 30: 24, 31: 24, 32: 24, 33: 8, 34: 12, 35: 32, 36: 36, 41: 28,
    42: 24, 43: 24, 44: 32, 45: 40, 46: 40, 47: 40, 52: 8, 53: 24, 54: 16, 55: 40, 57: 12, 58: 12, 59: 8, 60: 8,
    61: 8, 62: 24, 63: 24, 64: 24, 65: 8, 66: 8, 67: 12, 68: 8, 98: 12, 115: 12, 120: 16,
}
# bitmap records: type -> (size of the fixed part, (offset of offBmi, offset of the usage field, bitmap required)...)
BLITS: dict[int, tuple[int, tuple[tuple[int, int, bool], ...]]] = {
    76: (100, ((84, 80, False),)),  # EMR_BITBLT (no bitmap: a pattern operation)
    77: (108, ((84, 80, False),)),  # EMR_STRETCHBLT
    78: (128, ((84, 80, False), (112, 108, False))),  # EMR_MASKBLT
    79: (140, ((96, 92, False), (124, 120, False))),  # EMR_PLGBLT
    80: (76, ((48, 64, True),)),  # EMR_SETDIBITSTODEVICE
    81: (80, ((48, 64, True),)),  # EMR_STRETCHDIBITS
    93: (32, ((16, 12, True),)),  # EMR_CREATEMONOBRUSH
    94: (32, ((16, 12, True),)),  # EMR_CREATEDIBPATTERNBRUSHPT
    114: (108, ((84, 80, True),)),  # EMR_ALPHABLEND
    116: (108, ((84, 80, True),)),  # EMR_TRANSPARENTBLT
}
# region records: type -> (size of the part before the region data, offset of cbRgnData, offset of a brush or 0)
REGIONS = {71: (32, 24, 28), 72: (40, 24, 28), 73: (28, 24, 0), 74: (28, 24, 0), 75: (16, 8, 0)}
CREATORS = frozenset({38, 39, 49, 82, 93, 94, 95})  # the object index is at offset 8
LEFT_OUT = {
    EMR_COMMENT: COMMENT, 105: ESCAPE, 106: ESCAPE, 110: ESCAPE, 102: OPENGL, 103: OPENGL, 104: OPENGL,
    109: FONT_MAPPING, 119: FONT_MAPPING,
    **dict.fromkeys((99, 100, 101, 111, 112, 113, 121, 122), COLOUR_SPACE),
}
DRAWING = frozenset({*range(2, 9), 15, *range(41, 48), 53, 54, 55, 56, 62, 63, 64, *range(71, 75), *range(76, 82),
                     83, 84, *range(85, 93), 108, 114, 116, 118})


def u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def need(record: bytes, size: int) -> None:
    if len(record) < size:
        raise Unkept(MALFORMED)


def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def inside(record: bytes, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` of the record, which must lie after its type and size."""
    if offset < 8 or offset + length > len(record):
        raise Unkept(MALFORMED)
    return record[offset:offset + length]


class EmfRewriter:
    def __init__(self, max_pixels: int) -> None:
        self.pixels_left = max_pixels
        self.live: dict[int, bool] = {}
        self.handles = 0
        self.drawable = False
        self.result = Rewritten()
        self.records: list[bytes] = []
        self.handlers: dict[int, Callable[[int, bytes], bytes]] = {
            **dict.fromkeys(FIXED, self.fixed), **dict.fromkeys(BLITS, self.blit),
            **dict.fromkeys(REGIONS, self.region), **dict.fromkeys(range(2, 7), self.poly),
            **dict.fromkeys(range(85, 90), self.poly), 7: self.poly_poly, 8: self.poly_poly, 90: self.poly_poly,
            91: self.poly_poly, 56: self.poly_draw, 92: self.poly_draw, 83: self.text, 84: self.text,
            108: self.small_text, 37: self.select, 48: self.select, 40: self.delete, 38: self.created_fixed,
            39: self.created_fixed, 82: self.font, 95: self.extended_pen, 49: self.palette, 50: self.palette_entries,
            51: self.resize_palette, 118: self.gradient,
        }

    # records

    def keep(self, kind: int, body: bytes) -> None:
        body = pad4(body)
        self.records.append(struct.pack("<II", kind, 8 + len(body)) + body)
        self.drawable = self.drawable or kind in DRAWING

    def record(self, kind: int, record: bytes) -> None:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise Unkept(self.left_out(kind, record))
            body = handler(kind, record)
        except Unkept as unkept:
            if kind in CREATORS and len(record) >= 12:
                self.live[u32(record, 8)] = False
            if unkept.kind is not None:
                self.result.removed[unkept.kind] += 1
            return
        self.keep(kind, body)

    @staticmethod
    def left_out(kind: int, record: bytes) -> str:
        if kind == EMR_COMMENT and record[12:16] == b"EMF+":
            return EMF_PLUS
        return LEFT_OUT.get(kind, NOT_KEPT)

    # objects

    def create(self, record: bytes) -> None:
        index = u32(record, 8)
        if not 1 <= index <= MAX_HANDLE:
            raise Unkept(MALFORMED)
        self.live[index] = True
        self.handles = max(self.handles, index)

    def reference(self, index: int) -> None:
        """An object the record uses: a stock object or one whose creation was kept and which is not
        deleted."""
        if not (STOCK_FIRST <= index <= STOCK_LAST or self.live.get(index)):
            raise Unkept(None)

    def select(self, kind: int, record: bytes) -> bytes:
        need(record, 12)
        self.reference(u32(record, 8))
        return record[8:12]

    def delete(self, kind: int, record: bytes) -> bytes:
        need(record, 12)
        index = u32(record, 8)
        if not self.live.get(index):
            raise Unkept(None)
        self.live[index] = False
        return record[8:12]

    def created_fixed(self, kind: int, record: bytes) -> bytes:
        """EMR_CREATEPEN, EMR_CREATEBRUSHINDIRECT (solid, hollow or hatched: a pattern style would
        make GDI take the hatch field for a bitmap handle)."""
        size = {38: 28, 39: 24}[kind]
        need(record, size)
        if kind == 39 and u32(record, 12) not in (0, 1, 2):
            raise Unkept(MALFORMED)
        self.create(record)
        return record[8:size]

    def font(self, kind: int, record: bytes) -> bytes:
        """EMR_EXTCREATEFONTINDIRECTW as its LogFont alone (92 bytes: a reader treats anything up
        to a LogFontPanose's size as a LogFont)."""
        need(record, 104)
        self.create(record)
        return record[8:104]

    def extended_pen(self, kind: int, record: bytes) -> bytes:
        need(record, 52)
        entries = u32(record, 48)
        if entries > 16:
            raise Unkept(MALFORMED)
        fixed = 52 + 4 * entries
        need(record, fixed)
        brush_style, colour = u32(record, 36), u32(record, 40)
        if brush_style not in BITMAP_BRUSH_STYLES:
            body = record[8:12] + bytes(16) + record[28:fixed]
        else:
            body = self.with_bitmaps(record, fixed, ((12, colour if brush_style != 3 else 0, True),), None)
        self.create(record)
        return body

    def palette(self, kind: int, record: bytes) -> bytes:
        need(record, 16)
        entries = struct.unpack_from("<H", record, 14)[0]
        need(record, 16 + 4 * entries)
        self.create(record)
        return record[8:16 + 4 * entries]

    def palette_entries(self, kind: int, record: bytes) -> bytes:
        need(record, 20)
        self.reference(u32(record, 8))
        end = 20 + 4 * u32(record, 16)
        need(record, end)
        return record[8:end]

    def resize_palette(self, kind: int, record: bytes) -> bytes:
        need(record, 16)
        self.reference(u32(record, 8))
        return record[8:16]

    # drawing

    def fixed(self, kind: int, record: bytes) -> bytes:
        size = FIXED[kind]
        need(record, size)
        return record[8:size]

    def poly(self, kind: int, record: bytes) -> bytes:
        """EMR_POLYGON and kin: bounds, a point count, that many points (4 bytes each in the 16-bit
        forms)."""
        need(record, 28)
        end = 28 + u32(record, 24) * (4 if kind >= 85 else 8)
        need(record, end)
        return record[8:end]

    def poly_poly(self, kind: int, record: bytes) -> bytes:
        need(record, 32)
        polygons, total = struct.unpack_from("<II", record, 24)
        need(record, 32 + 4 * polygons)
        if sum(struct.unpack_from(f"<{polygons}I", record, 32)) != total:
            raise Unkept(MALFORMED)
        end = 32 + 4 * polygons + total * (4 if kind >= 85 else 8)
        need(record, end)
        return record[8:end]

    def poly_draw(self, kind: int, record: bytes) -> bytes:
        need(record, 28)
        count = u32(record, 24)
        types_at = 28 + count * (4 if kind == 92 else 8)
        need(record, types_at + count)
        if not set(record[types_at:types_at + count]) <= PATH_POINT_TYPES:
            raise Unkept(MALFORMED)
        return record[8:types_at + count]

    def text(self, kind: int, record: bytes) -> bytes:
        """EMR_EXTTEXTOUTA/W: the fixed part (without its rectangle under ETO_NO_RECT), then the
        string and the character advances, placed right after it."""
        need(record, 60)
        chars, string_at, options = struct.unpack_from("<III", record, 44)
        fixed = 60 if options & ETO_NO_RECT else 76
        need(record, fixed)
        string = dx = b""
        if chars:
            string = inside(record, string_at, chars * (2 if kind == 84 else 1))
            dx = inside(record, u32(record, fixed - 4), chars * (8 if options & ETO_PDY else 4))
        head = bytearray(record[8:fixed])
        struct.pack_into("<I", head, 40, fixed)
        struct.pack_into("<I", head, fixed - 12, fixed + len(pad4(string)))
        return bytes(head) + pad4(string) + dx

    def small_text(self, kind: int, record: bytes) -> bytes:
        need(record, 36)
        chars, options = struct.unpack_from("<II", record, 16)
        end = (36 if options & ETO_NO_RECT else 52) + chars * (1 if options & ETO_SMALL_CHARS else 2)
        need(record, end)
        return record[8:end]

    def gradient(self, kind: int, record: bytes) -> bytes:
        need(record, 36)
        vertices, shapes, mode = struct.unpack_from("<III", record, 24)
        if mode not in (0, 1, 2):
            raise Unkept(MALFORMED)
        corners = 3 if mode == 2 else 2
        start = 36 + 16 * vertices
        end = start + 4 * corners * shapes
        need(record, end)
        if shapes and max(struct.unpack_from(f"<{corners * shapes}I", record, start)) >= vertices:
            raise Unkept(MALFORMED)
        return record[8:end]

    def region(self, kind: int, record: bytes) -> bytes:
        """A region record: its fixed part (with a brush that exists), then RegionData - a 32-byte
        header of rectangles and that many rectangles."""
        fixed, size_at, brush_at = REGIONS[kind]
        need(record, fixed)
        if brush_at:
            self.reference(u32(record, brush_at))
        size = u32(record, size_at)
        if kind == 75 and size == 0:  # EMR_EXTSELECTCLIPRGN with RGN_COPY and no region: clipping reset
            if u32(record, 12) != 5:
                raise Unkept(MALFORMED)
            return record[8:16]
        data = inside(record, fixed, size)
        if size < 32:
            raise Unkept(MALFORMED)
        header_size, region_type, count = struct.unpack_from("<III", data)
        if header_size != 32 or region_type != 1 or 32 + 16 * count > size:
            raise Unkept(MALFORMED)
        region = struct.pack("<IIII", 32, 1, count, 16 * count) + data[16:32 + 16 * count]
        head = bytearray(record[8:fixed])
        struct.pack_into("<I", head, size_at - 8, len(region))
        return bytes(head) + region

    def blit(self, kind: int, record: bytes) -> bytes:
        fixed, slots = BLITS[kind]
        need(record, fixed)
        rows = u32(record, 72) if kind == 80 else None  # EMR_SETDIBITSTODEVICE: cScans lines
        body = self.with_bitmaps(record, fixed, tuple((at, u32(record, usage), required)
                                                      for at, usage, required in slots), rows)
        if kind in (93, 94):  # a brush: made once its bitmap holds
            self.create(record)
        return body

    def with_bitmaps(self, record: bytes, fixed: int, slots: tuple[tuple[int, int, bool], ...],
                     rows: int | None) -> bytes:
        """The fixed part, then each bitmap (header and colours, bits) written anew after it, the
        record's offsets and sizes pointing at them; a slot without a bitmap gets zeros."""
        head, tail = bytearray(record[8:fixed]), bytearray()
        for at, usage, required in slots:
            bmi_at, bmi_size, bits_at, bits_size = struct.unpack_from("<IIII", record, at)
            if bmi_size == 0 and bits_size == 0:
                if required:
                    raise Unkept(MALFORMED)
                struct.pack_into("<IIII", head, at - 8, 0, 0, 0, 0)
                continue
            try:
                bitmap = read_dib(inside(record, bmi_at, bmi_size), inside(record, bits_at, bits_size), usage,
                                  self.pixels_left, rows)
            except BadBitmap as bad:
                raise Unkept(bad.kind) from None
            self.pixels_left -= bitmap.pixels
            info_at = fixed + len(tail)
            tail += pad4(bitmap.info)
            struct.pack_into("<IIII", head, at - 8, info_at, len(bitmap.info), fixed + len(tail), len(bitmap.bits))
            tail += pad4(bitmap.bits)
        return bytes(head + tail)


class Damaged(Exception):
    pass


def header_fields(data: bytes) -> tuple[int, bytes, tuple[int, int]]:
    """(header size, bounds + frame + signature, micrometre size) of a well-formed EMR_HEADER."""
    if len(data) < 88 or u32(data, 0) != EMR_HEADER or data[40:44] != SIGNATURE:
        raise Damaged
    size = u32(data, 4)
    if size < 88 or size % 4 or size > len(data):
        raise Damaged
    device = struct.unpack_from("<ii", data, 72)
    millimetres = struct.unpack_from("<ii", data, 80)
    if min(*device, *millimetres) <= 0 or max(millimetres) > 1_000_000:
        raise Damaged
    extent = size  # the header's own fields end where its description or pixel format begins
    if u32(data, 60):
        extent = min(extent, u32(data, 64))
    if extent >= 100 and u32(data, 88):
        extent = min(extent, u32(data, 92))
    micrometres = struct.unpack_from("<ii", data, 100) if extent >= 108 else (0, 0)
    if min(micrometres) <= 0:
        micrometres = (millimetres[0] * 1000, millimetres[1] * 1000)
    return size, data[8:44] + data[72:88], (micrometres[0], micrometres[1])


def rewrite_emf(data: bytes, max_pixels: int) -> Rewritten | str:
    """The EMF written anew, or why it cannot be."""
    damaged = "a damaged or disguised EMF metafile"
    try:
        position, kept_header, micrometres = header_fields(data)
    except Damaged:
        return damaged
    rewriter = EmfRewriter(max_pixels)
    for _ in range(MAX_RECORDS):
        if position + 8 > len(data):
            return damaged
        kind, size = struct.unpack_from("<II", data, position)
        if size < 8 or size % 4 or position + size > len(data):
            return damaged
        if kind == EMR_EOF:
            position += size
            break
        rewriter.record(kind, data[position:position + size])
        position += size
    else:
        return damaged
    result = rewriter.result
    if result.removed and not rewriter.drawable:
        return f"nothing of the EMF metafile is left to draw without its {result.summary()}"
    result.trailing = len(data[position:].rstrip(b"\x00"))
    eof = struct.pack("<IIIII", EMR_EOF, 20, 0, 16, 20)
    records = b"".join(rewriter.records)
    total = HEADER_SIZE + len(records) + len(eof)
    header = (struct.pack("<II", EMR_HEADER, HEADER_SIZE) + kept_header[:36]
              + struct.pack("<IIIHHIII", 0x10000, total, len(rewriter.records) + 2, rewriter.handles + 1, 0, 0, 0, 0)
              + kept_header[36:] + struct.pack("<IIIii", 0, 0, 0, *micrometres))
    result.data = header + records + eof
    return result
