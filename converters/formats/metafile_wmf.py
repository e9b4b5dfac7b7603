"""Windows metafiles ([MS-WMF]) written anew from an allowlist of records.

Written: the placeable header (bounding box and units kept, checksum recomputed) when the file
had one, the standard header with its size, largest record and object count recomputed, then
drawing, clipping, state, object (pen, brush, font, palette) and text records at the size their
function requires, the counts inside them checked against it, bitmaps read and written anew
(``metafile_dib``), and META_EOF.

Left out: META_ESCAPE of any function (SETABORTPROC, CVE-2005-4560, is one; the comments that
carry an embedded EMF are others), the Windows 2.x bitmap records (META_BITBLT, META_STRETCHBLT,
META_CREATEPATTERNBRUSH), regions, any function not named here, and a record whose bitmap or
counts do not hold. WMF numbers its objects by the order they are made, so a creation left out
is replaced by a hollow brush that nothing selects: every later object keeps its number.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from converters.formats.metafile_dib import BadBitmap, read_packed_dib
from converters.formats.metafile_records import ABORT_PROC, ESCAPE, MALFORMED, MAX_RECORDS, NOT_KEPT, Rewritten, Unkept

PLACEABLE_KEY = b"\xd7\xcd\xc6\x9a"
META_EOF, META_ESCAPE, SETABORTPROC = 0x0000, 0x0626, 9
CREATE_BRUSH = 0x02FC
HOLLOW_BRUSH = struct.pack("<IHHIH", 7, CREATE_BRUSH, 1, 0, 0)  # BS_NULL: draws nothing
ETO_OPAQUE, ETO_CLIPPED = 0x0002, 0x0004
MAX_OBJECTS = 0xFFFF

# records of one layout: function -> parameter bytes written
FIXED = {
    0x0035: 0, 0x001E: 0, 0x0102: 2, 0x0103: 2, 0x0104: 2, 0x0106: 2, 0x0107: 2, 0x0108: 2, 0x0127: 2, 0x0139: 2,
    0x012E: 2, 0x0149: 4, 0x0201: 4, 0x0209: 4, 0x0211: 4, 0x0213: 4, 0x0214: 4, 0x0220: 4, 0x0231: 4, 0x020A: 4,
    0x020B: 4, 0x020C: 4, 0x020D: 4, 0x020E: 4, 0x020F: 4, 0x0410: 8, 0x0412: 8, 0x0415: 8, 0x0416: 8, 0x0418: 8,
    0x041B: 8, 0x041F: 8, 0x0419: 8, 0x0548: 10, 0x061C: 12, 0x061D: 12, 0x081A: 16, 0x0817: 16, 0x0830: 16,
}
# bitmap records: function -> (parameters before the bitmap, parameters of the form without one or 0,
# offset of the colour usage or -1 for DIB_RGB_COLORS, offset of a scan-line count or -1)
BLITS = {
    0x0940: (16, 18, -1, -1),  # META_DIBBITBLT
    0x0B41: (20, 22, -1, -1),  # META_DIBSTRETCHBLT
    0x0F43: (22, 0, 4, -1),  # META_STRETCHDIB
    0x0D33: (18, 0, 0, 2),  # META_SETDIBTODEV
}
# object creations: function -> kind of object made
CREATORS = {0x02FA: "pen", 0x02FC: "brush", 0x0142: "brush", 0x02FB: "font", 0x00F7: "palette",
            0x01F9: "brush", 0x06FF: "region"}
# records using an object: function -> kinds it may be
REFERENCES = {0x012D: ("pen", "brush", "font"), 0x0234: ("palette",), 0x012A: ("region",), 0x012B: ("region",)}
SILENT = frozenset({0x0105})  # META_SETRELABS: reserved, does nothing
DRAWING = frozenset({0x0213, 0x0324, 0x0325, 0x0538, 0x0418, 0x041B, 0x061C, 0x081A, 0x0817, 0x0830, 0x041F,
                     0x0419, 0x0548, 0x061D, 0x0521, 0x0A32, *BLITS, 0x0228, 0x0429, 0x012A, 0x012B})


def u16(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<H", data, at)[0])


def need(params: bytes, size: int) -> None:
    if len(params) < size:
        raise Unkept(MALFORMED)


def even(data: bytes) -> bytes:
    return data + bytes(len(data) % 2)


class WmfRewriter:
    def __init__(self, max_pixels: int) -> None:
        self.pixels_left = max_pixels
        self.slots: list[str | None] = []
        self.objects = 0
        self.drawable = False
        self.result = Rewritten()
        self.records: list[bytes] = []
        self.handlers: dict[int, Callable[[int, bytes], bytes]] = {
            **dict.fromkeys(FIXED, self.fixed), **dict.fromkeys(BLITS, self.blit),
            **dict.fromkeys(REFERENCES, self.select), 0x0228: self.region_brush, 0x0429: self.region_brush,
            0x012C: self.select_clip, 0x01F0: self.delete, 0x0324: self.poly, 0x0325: self.poly,
            0x0538: self.poly_polygon, 0x0521: self.text, 0x0A32: self.extended_text, 0x0037: self.palette_entries,
            0x0436: self.palette_entries, 0x02FA: self.pen, 0x02FC: self.brush, 0x02FB: self.font,
            0x00F7: self.palette, 0x0142: self.pattern_brush,
        }

    def keep(self, function: int, params: bytes) -> None:
        params = even(params)
        self.records.append(struct.pack("<IH", 3 + len(params) // 2, function) + params)
        self.drawable = self.drawable or function in DRAWING

    def record(self, function: int, params: bytes) -> None:
        handler = self.handlers.get(function)
        try:
            if handler is None:
                raise Unkept(self.left_out(function, params))
            written = handler(function, params)
        except Unkept as unkept:
            if unkept.kind is not None:
                self.result.removed[unkept.kind] += 1
            if function in CREATORS:  # keep the numbering of the objects made after it
                self.make("placeholder")
                self.records.append(HOLLOW_BRUSH)
            return
        if function in CREATORS:
            self.make(CREATORS[function])
        self.keep(function, written)

    @staticmethod
    def left_out(function: int, params: bytes) -> str | None:
        if function == META_ESCAPE:
            return ABORT_PROC if len(params) >= 2 and u16(params, 0) == SETABORTPROC else ESCAPE
        return None if function in SILENT else NOT_KEPT

    # objects: WMF puts each new object in the lowest free slot of its table

    def make(self, kind: str) -> None:
        free = next((index for index, slot in enumerate(self.slots) if slot is None), len(self.slots))
        if free == len(self.slots):
            if free >= MAX_OBJECTS:
                raise Damaged
            self.slots.append(None)
        self.slots[free] = kind
        self.objects = max(self.objects, len(self.slots))

    def slot(self, params: bytes, at: int, kinds: tuple[str, ...]) -> None:
        need(params, at + 2)
        index = u16(params, at)
        if index >= len(self.slots) or self.slots[index] not in kinds:
            raise Unkept(None)

    def select(self, function: int, params: bytes) -> bytes:
        self.slot(params, 0, REFERENCES[function])
        return params[:2]

    def select_clip(self, function: int, params: bytes) -> bytes:
        """META_SELECTCLIPREGION: object 0 is how a metafile says "no clipping region"."""
        need(params, 2)
        if u16(params, 0) != 0:
            self.slot(params, 0, ("region",))
        return params[:2]

    def region_brush(self, function: int, params: bytes) -> bytes:
        size = 4 if function == 0x0228 else 8
        need(params, size)
        self.slot(params, 0, ("region",))
        self.slot(params, 2, ("brush",))
        return params[:size]

    def delete(self, function: int, params: bytes) -> bytes:
        need(params, 2)
        index = u16(params, 0)
        if index >= len(self.slots) or self.slots[index] is None:
            raise Unkept(None)
        self.slots[index] = None
        return params[:2]

    def pen(self, function: int, params: bytes) -> bytes:
        need(params, 10)
        return params[:10]

    def brush(self, function: int, params: bytes) -> bytes:
        """META_CREATEBRUSHINDIRECT: solid, hollow or hatched (a pattern style would make GDI take
        the hatch field for a bitmap handle)."""
        need(params, 8)
        if u16(params, 0) not in (0, 1, 2):
            raise Unkept(MALFORMED)
        return params[:8]

    def font(self, function: int, params: bytes) -> bytes:
        """META_CREATEFONTINDIRECT: the 18 bytes of metrics, then the face name (up to 31 bytes,
        in the font's own character set) ended and padded with NULs to 32."""
        need(params, 18)
        face = params[18:50].split(b"\x00", 1)[0][:31]
        return params[:18] + face + bytes(32 - len(face))

    def palette(self, function: int, params: bytes) -> bytes:
        need(params, 4)
        end = 4 + 4 * u16(params, 2)
        need(params, end)
        return params[:end]

    def palette_entries(self, function: int, params: bytes) -> bytes:
        return self.palette(function, params)

    def pattern_brush(self, function: int, params: bytes) -> bytes:
        """META_DIBCREATEPATTERNBRUSH: style BS_PATTERN (colours always RGB) or, for any other
        value, BS_DIBPATTERNPT as a reader takes it ([MS-WMF] 2.3.4.8), then the bitmap."""
        need(params, 4)
        style, usage = struct.unpack_from("<HH", params)
        style, usage = (3, 0) if style == 3 else (6, usage)
        return struct.pack("<HH", style, usage) + self.bitmap(params[4:], usage, None)

    # drawing

    def fixed(self, function: int, params: bytes) -> bytes:
        size = FIXED[function]
        need(params, size)
        return params[:size]

    def poly(self, function: int, params: bytes) -> bytes:
        need(params, 2)
        end = 2 + 4 * u16(params, 0)
        need(params, end)
        return params[:end]

    def poly_polygon(self, function: int, params: bytes) -> bytes:
        need(params, 2)
        polygons = u16(params, 0)
        need(params, 2 + 2 * polygons)
        end = 2 + 2 * polygons + 4 * sum(struct.unpack_from(f"<{polygons}H", params, 2))
        need(params, end)
        return params[:end]

    def text(self, function: int, params: bytes) -> bytes:
        need(params, 2)
        length = u16(params, 0)
        end = 2 + length + length % 2 + 4
        need(params, end)
        return params[:end]

    def extended_text(self, function: int, params: bytes) -> bytes:
        """META_EXTTEXTOUT: position, length, options, the rectangle when the options use one, the
        string, and the advances when the record has room for one a byte."""
        need(params, 8)
        length, options = struct.unpack_from("<HH", params, 4)
        start = 16 if options & (ETO_OPAQUE | ETO_CLIPPED) else 8
        end = start + length + length % 2
        need(params, end)
        advances = params[end:end + 2 * length]
        return params[:end] + (advances if len(advances) == 2 * length else b"")

    def blit(self, function: int, params: bytes) -> bytes:
        fixed, plain, usage_at, rows_at = BLITS[function]
        if plain and len(params) == plain:  # the form without a bitmap: a raster operation alone
            return params
        need(params, fixed)
        usage = u16(params, usage_at) if usage_at >= 0 else 0
        rows = u16(params, rows_at) if rows_at >= 0 else None
        return params[:fixed] + self.bitmap(params[fixed:], usage, rows)

    def bitmap(self, dib: bytes, usage: int, rows: int | None) -> bytes:
        try:
            bitmap = read_packed_dib(dib, usage, self.pixels_left, rows)
        except BadBitmap as bad:
            raise Unkept(bad.kind) from None
        self.pixels_left -= bitmap.pixels
        return bitmap.info + bitmap.bits


class Damaged(Exception):
    pass


def placeable_header(data: bytes) -> bytes:
    """The 22-byte placeable header written again: key, bounding box, units per inch, checksum."""
    if len(data) < 22:
        raise Damaged
    inch = u16(data, 14)
    if inch == 0:
        raise Damaged
    header = PLACEABLE_KEY + bytes(2) + data[6:14] + struct.pack("<HI", inch, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", header):
        checksum ^= word
    return header + struct.pack("<H", checksum)


def rewrite_wmf(data: bytes, max_pixels: int) -> Rewritten | str:
    """The WMF written anew, or why it cannot be."""
    damaged = "a damaged or disguised WMF metafile"
    try:
        placeable = placeable_header(data) if data.startswith(PLACEABLE_KEY) else b""
        start = len(placeable)
        if len(data) < start + 18:
            raise Damaged
        kind, header_words, version = struct.unpack_from("<HHH", data, start)
        if kind not in (1, 2) or header_words != 9 or version not in (0x0100, 0x0300):
            raise Damaged
        rewriter = WmfRewriter(max_pixels)
        position = start + 18
        for _ in range(MAX_RECORDS):
            if position + 6 > len(data):
                raise Damaged
            words, function = struct.unpack_from("<IH", data, position)
            if words < 3 or position + words * 2 > len(data):
                raise Damaged
            if function == META_EOF:
                position += words * 2
                break
            rewriter.record(function, data[position + 6:position + words * 2])
            position += words * 2
        else:
            raise Damaged
    except Damaged:
        return damaged
    result = rewriter.result
    if result.removed and not rewriter.drawable:
        return f"nothing of the WMF metafile is left to draw without its {result.summary()}"
    result.trailing = len(data[position:].rstrip(b"\x00"))
    records = b"".join(rewriter.records) + struct.pack("<IH", 3, META_EOF)
    largest = max(struct.unpack_from("<I", record)[0] for record in [*rewriter.records, b"\x03\x00\x00\x00"])
    header = struct.pack("<HHHIHIH", kind, 9, version, (18 + len(records)) // 2, rewriter.objects, largest, 0)
    result.data = placeable + header + records
    return result
