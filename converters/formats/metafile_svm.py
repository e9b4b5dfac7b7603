"""LibreOffice's own metafiles (SVM, StarView metafile: ``VCLMTF``; ODF ``Pictures/*.svm`` and the
object previews under ``ObjectReplacements/``) written anew from an allowlist of actions, read the
way vcl's SvmReader reads them (every structure inside an action is a version and a length, then
fields added by version).

Written: the header (map mode, preferred size, the number of actions kept; no compression mode),
then drawing (pixel, point, line, rectangles, ellipse, arc, pie, chord, polyline, polygon, polygon
sets, the four text actions and text lines, gradients, hatches, transparent polygons), state
(push/pop, line/fill/text colours, text alignment, map mode, font, clipping, raster operation,
reference point, layout mode, text language) and bitmaps whose DIBs are plain and whole
(``metafile_dib``), each field of a known version read and written again with its count checked
against the bytes it stands in - fields of later versions are not copied. A transparency group
(FLOATTRANSPARENT) holds a metafile of its own, written anew the same way down to ``MAX_DEPTH``.

Left out: comments (EMF+ data, gradient and path sequences and any blob a producer puts there),
EPS actions (PostScript a renderer may be handed), wallpapers, any action type not named here, and
an action whose lengths or counts do not hold. A text's encoding follows the font last set, as in
LibreOffice (a font in Unicode makes the 8-bit strings UTF-16).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from converters.formats.metafile_dib import BI_BITFIELDS, BI_RLE4, BI_RLE8, DAMAGED, BadBitmap, read_dib, read_header
from converters.formats.metafile_records import COMMENT, EMF_PLUS, MALFORMED, MAX_RECORDS, NOT_KEPT, Rewritten, Unkept

MAGIC = b"VCLMTF"
MAX_DEPTH = 8
UNICODE = 0xFFFF  # RTL_TEXTENCODING_UNICODE
COL_NAME_USER = 0x8000
BITMAP_EX_MAGIC = struct.pack("<II", 0x25091962, 0xACB20201)
MAX_REGION_ENTRIES = 1_000_000
EPS = "EPS (PostScript) actions"
TOO_DEEP = "transparency groups nested too deep"


class Damaged(Exception):
    pass


class Short(Exception):
    """A field that runs past the bytes it may stand in."""


class Reader:
    """Fields from ``data[pos:end]``; reading past ``end`` raises Short."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > self.end:
            raise Short
        self.pos += size
        return self.data[self.pos - size:self.pos]

    def unpack(self, fmt: str) -> int:
        return int(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0])

    def u8(self) -> int:
        return self.unpack("<B")

    def u16(self) -> int:
        return self.unpack("<H")

    def u32(self) -> int:
        return self.unpack("<I")

    def i32(self) -> int:
        return self.unpack("<i")

    def left(self) -> int:
        return self.end - self.pos

    def compat(self) -> tuple[int, Reader]:
        """A VersionCompat block: version, length, then that many bytes (read by the returned reader)."""
        version, length = struct.unpack("<HI", self.take(6))
        body = Reader(self.data, self.pos, self.pos + length)
        self.take(length)
        return version, body


def block(version: int, body: bytes) -> bytes:
    return struct.pack("<HI", version, len(body)) + body


def known(version: int, newest: int) -> int:
    """The version written: what was read, at least 1 (the reader treats 0 as 1), at most the newest
    whose fields are read here."""
    return min(max(version, 1), newest)


# the structures actions are made of

def flag(r: Reader) -> bytes:
    return b"\x01" if r.u8() else b"\x00"


def colour(r: Reader) -> bytes:
    """GenericTypeSerializer's colour: a name, or a user colour with three 16-bit channels."""
    name = r.u16()
    return struct.pack("<H", name) + (r.take(6) if name & COL_NAME_USER else b"")


def string8(r: Reader) -> bytes:
    length = r.u16()
    return struct.pack("<H", length) + r.take(length)


def string16(r: Reader) -> bytes:
    length = r.u16()
    return struct.pack("<H", length) + r.take(2 * length)


def text_string(r: Reader, unicode: bool) -> bytes:
    """ReadUniOrByteString in the encoding of the font last set."""
    if not unicode:
        return string8(r)
    length = r.u32()
    return struct.pack("<I", length) + r.take(2 * length)


def points(r: Reader) -> tuple[int, bytes]:
    count = r.u16()
    return count, struct.pack("<H", count) + r.take(8 * count)


def polygon(r: Reader) -> bytes:
    return points(r)[1]


def poly_polygon(r: Reader) -> bytes:
    count = r.u16()
    return struct.pack("<H", count) + b"".join(polygon(r) for _ in range(count))


def curved_polygon(r: Reader) -> bytes:
    """Polygon::Read: its points and, when flagged, one curve flag a point (normal, smooth, control,
    symmetric)."""
    _version, body = r.compat()
    count, written = points(body)
    flagged = body.u8()
    flags = body.take(count) if flagged else b""
    if any(value > 3 for value in flags):
        raise Unkept(MALFORMED)
    return block(1, written + (b"\x01" if flagged else b"\x00") + flags)


def line_info(r: Reader) -> bytes:
    """Style and width; dashes and dots (2), join (3), cap (4), the lengths again as doubles (5)."""
    version, body = r.compat()
    written = body.take(6)
    for since, size in ((2, 16), (3, 2), (4, 2), (5, 32)):
        if version >= since:
            written += body.take(size)
    return block(known(version, 5), written)


def map_mode(r: Reader) -> bytes:
    _version, body = r.compat()
    return block(1, body.take(26) + flag(body))


def gradient(r: Reader) -> bytes:
    _version, body = r.compat()
    return block(1, body.take(2) + colour(body) + colour(body) + body.take(14))


def hatch(r: Reader) -> bytes:
    _version, body = r.compat()
    return block(1, body.take(2) + colour(body) + body.take(6))


def region(r: Reader) -> bytes:
    """vcl::Region: null, empty, or bands of separations (then, from version 2, a polygon set)."""
    version, body = r.compat()
    own_version, kind = body.u16(), body.u16()
    if kind > 3:
        raise Unkept(MALFORMED)
    written = struct.pack("<HH", own_version, kind)
    if kind >= 2:
        for _ in range(MAX_REGION_ENTRIES):
            entry = body.u16()
            written += struct.pack("<H", entry)
            if entry == 2:  # STREAMENTRY_END
                break
            if entry > 1:
                raise Unkept(MALFORMED)
            written += body.take(8)
        else:
            raise Unkept(MALFORMED)
        if version >= 2:
            has_polygons = flag(body)
            written += has_polygons + (poly_polygon(body) if has_polygons == b"\x01" else b"")
    return block(known(version, 2), written)


def font(r: Reader) -> tuple[bytes, int]:
    """vcl::Font: family and style names, size, character set and the attributes of each version;
    the character set is handed back (it decides how texts after it are read)."""
    version, body = r.compat()
    written = string8(body) + string8(body) + body.take(8)
    charset = body.u16()
    written += struct.pack("<H", charset) + body.take(18) + flag(body) + flag(body) + flag(body) + body.take(1)
    if version >= 2:
        written += body.take(1) + body.take(2) + flag(body) + body.take(2)
    for since, size in ((3, 2), (4, 4)):
        if version >= since:
            written += body.take(size)
    return block(known(version, 4), written), charset


def dib(r: Reader, pixels_left: int) -> tuple[bytes, int]:
    """A DIB after its BITMAPFILEHEADER, as LibreOffice writes one: info header, masks or colours,
    bits at the offset the file header names - uncompressed, or run-length codes of the size the
    header gives (alpha masks are RLE8). Written anew (``metafile_dib``): compressions other than
    these (LibreOffice's zlib ZCOMPRESS, JPEG, PNG) are not kept."""
    file_header = r.take(14)
    if file_header[:2] != b"BM":
        raise BadBitmap(DAMAGED)
    offset = struct.unpack_from("<I", file_header, 10)[0]
    rest = r.data[r.pos:r.end]
    header = read_header(rest)
    run_length = header.compression in (BI_RLE8, BI_RLE4)
    if run_length and not header.size_image:  # the reader would take the rest of the stream
        raise BadBitmap(DAMAGED)
    info_size = header.size + (12 if header.compression == BI_BITFIELDS and header.size == 40 else 0)
    if header.bit_count <= 8:
        info_size += 4 * (header.colours_used or 1 << header.bit_count)
    if offset != 14 + info_size:
        raise BadBitmap(DAMAGED)
    try:
        info = r.take(info_size)
        bits = r.take(header.size_image if run_length else
                      (header.width * header.bit_count + 31) // 32 * 4 * abs(header.height))
    except Short:
        raise BadBitmap(DAMAGED) from None
    bitmap = read_dib(info, bits, 0, pixels_left)
    size = 14 + len(bitmap.info) + len(bitmap.bits)
    return b"BM" + struct.pack("<IHHI", size, 0, 0, 14 + len(bitmap.info)) + bitmap.info + bitmap.bits, bitmap.pixels


class SvmRewriter:
    def __init__(self, max_pixels: int, depth: int = 0) -> None:
        self.pixels_left = max_pixels
        self.depth = depth
        self.unicode = False  # the reader starts in the stream's (8-bit) encoding
        self.drawable = False
        self.result = Rewritten()
        self.actions: list[bytes] = []
        draw, state = True, False
        self.handlers: dict[int, tuple[int, bool, Callable[[int, Reader], bytes]]] = {
            100: (1, draw, lambda v, r: r.take(12)),  # PIXEL: point, colour
            101: (1, draw, lambda v, r: r.take(8)),  # POINT
            102: (2, draw, lambda v, r: r.take(16) + (line_info(r) if v >= 2 else b"")),  # LINE
            103: (1, draw, lambda v, r: r.take(16)),  # RECT
            104: (1, draw, lambda v, r: r.take(24)),  # ROUNDRECT: rectangle, two radii
            105: (1, draw, lambda v, r: r.take(16)),  # ELLIPSE
            106: (1, draw, lambda v, r: r.take(32)),  # ARC: rectangle, two points
            107: (1, draw, lambda v, r: r.take(32)),  # PIE
            108: (1, draw, lambda v, r: r.take(32)),  # CHORD
            109: (3, draw, self.polyline),
            110: (2, draw, self.polygon),
            111: (2, draw, self.poly_polygon),
            112: (2, draw, self.text),
            113: (2, draw, self.text_array),
            114: (2, draw, self.stretch_text),
            115: (2, draw, self.text_rect),
            116: (1, draw, lambda v, r: self.bitmap(r, 8)),  # BMP: DIB, point
            117: (1, draw, lambda v, r: self.bitmap(r, 16)),  # BMPSCALE: DIB, point, size
            118: (1, draw, lambda v, r: self.bitmap(r, 32)),  # BMPSCALEPART: DIB, two points and sizes
            119: (1, draw, lambda v, r: self.bitmap_ex(r, 8)),
            120: (1, draw, lambda v, r: self.bitmap_ex(r, 16)),
            121: (1, draw, lambda v, r: self.bitmap_ex(r, 32)),
            122: (1, draw, lambda v, r: self.bitmap(r, 8)),  # MASK
            123: (1, draw, lambda v, r: self.bitmap(r, 16)),  # MASKSCALE
            124: (1, draw, lambda v, r: self.bitmap(r, 36)),  # MASKSCALEPART: DIB, colour, points and sizes
            125: (1, draw, lambda v, r: r.take(16) + gradient(r)),  # GRADIENT: rectangle, gradient
            126: (1, draw, lambda v, r: poly_polygon(r) + hatch(r)),  # HATCH
            128: (1, state, lambda v, r: region(r) + flag(r)),  # CLIPREGION
            129: (1, state, lambda v, r: r.take(16)),  # ISECTRECTCLIPREGION
            130: (1, state, lambda v, r: region(r)),  # ISECTREGIONCLIPREGION
            131: (1, state, lambda v, r: r.take(8)),  # MOVECLIPREGION
            132: (1, state, lambda v, r: r.take(4) + flag(r)),  # LINECOLOR
            133: (1, state, lambda v, r: r.take(4) + flag(r)),  # FILLCOLOR
            134: (1, state, lambda v, r: r.take(4)),  # TEXTCOLOR
            135: (1, state, lambda v, r: r.take(4) + flag(r)),  # TEXTFILLCOLOR
            136: (1, state, lambda v, r: r.take(2)),  # TEXTALIGN
            137: (1, state, lambda v, r: map_mode(r)),  # MAPMODE
            138: (1, state, self.font),
            139: (1, state, lambda v, r: r.take(2)),  # PUSH: flags
            140: (1, state, lambda v, r: b""),  # POP
            141: (1, state, lambda v, r: r.take(2)),  # RASTEROP
            142: (1, draw, lambda v, r: poly_polygon(r) + r.take(2)),  # Transparent: polygons, percent
            144: (1, state, lambda v, r: r.take(8) + flag(r)),  # REFPOINT
            145: (1, state, lambda v, r: r.take(4) + flag(r)),  # TEXTLINECOLOR
            146: (2, draw, lambda v, r: r.take(16) + (r.take(4) if v >= 2 else b"")),  # TEXTLINE
            147: (2, draw, self.float_transparent),
            148: (1, draw, lambda v, r: poly_polygon(r) + gradient(r)),  # GRADIENTEX
            149: (1, state, lambda v, r: r.take(4)),  # LAYOUTMODE
            150: (1, state, lambda v, r: r.take(2)),  # TEXTLANGUAGE
            151: (1, state, lambda v, r: r.take(4) + flag(r)),  # OVERLINECOLOR
        }

    # the metafile

    def rewrite(self, r: Reader) -> bytes:
        """The metafile at ``r`` written anew; ``r`` is left after its last action."""
        if r.take(6) != MAGIC:
            raise Damaged
        _version, header = r.compat()
        header.u32()  # compression mode: not used by the reader
        mode, size, count = map_mode(header), header.take(8), header.u32()
        if count > MAX_RECORDS:
            raise Damaged
        for _ in range(count):
            kind = r.u16()
            if kind == 0:  # META_NONE has no version or length: nothing writes it
                raise Damaged
            version, body = r.compat()
            self.action(kind, version, body)
        written = block(1, struct.pack("<I", 0) + mode + size + struct.pack("<I", len(self.actions)))
        return MAGIC + written + b"".join(self.actions)

    def action(self, kind: int, version: int, body: Reader) -> None:
        entry = self.handlers.get(kind)
        try:
            if entry is None:
                raise Unkept(self.left_out(kind, body))
            newest, drawing, handler = entry
            try:
                written = handler(version, body)
            except Short:
                raise Unkept(MALFORMED) from None
            except BadBitmap as bad:
                raise Unkept(bad.kind) from None
        except Unkept as unkept:
            if unkept.kind is not None:
                self.result.removed[unkept.kind] += 1
            return
        self.actions.append(struct.pack("<H", kind) + block(known(version, newest), written))
        self.drawable = self.drawable or drawing

    @staticmethod
    def left_out(kind: int, body: Reader) -> str:
        if kind == 512:
            try:
                return EMF_PLUS if string8(body)[2:] == b"EMF_PLUS" else COMMENT
            except Short:
                return COMMENT
        return EPS if kind == 143 else NOT_KEPT

    # drawing

    def polyline(self, version: int, r: Reader) -> bytes:
        written = polygon(r)
        if version >= 2:
            written += line_info(r)
        if version >= 3:
            flagged = r.u8()
            written += b"\x01" + curved_polygon(r) if flagged else b"\x00"
        return written

    def polygon(self, version: int, r: Reader) -> bytes:
        written = polygon(r)
        if version >= 2:
            flagged = r.u8()
            written += b"\x01" + curved_polygon(r) if flagged else b"\x00"
        return written

    def poly_polygon(self, version: int, r: Reader) -> bytes:
        """Polygons, then (version 2) curved ones replacing some of them by index."""
        count = r.u16()
        written = struct.pack("<H", count) + b"".join(polygon(r) for _ in range(count))
        if version >= 2:
            curved = r.u16()
            written += struct.pack("<H", curved)
            for _ in range(curved):
                index = r.u16()
                if index >= count:
                    raise Unkept(MALFORMED)
                written += struct.pack("<H", index) + curved_polygon(r)
        return written

    def text(self, version: int, r: Reader) -> bytes:
        written = r.take(8) + text_string(r, self.unicode) + r.take(4)  # point, string, index, length
        return written + (string16(r) if version >= 2 else b"")

    def text_array(self, version: int, r: Reader) -> bytes:
        """Point, string, index, length, then the advances (no more than the length: the reader
        takes none otherwise), the UTF-16 string (2); kashida and layout context (3, 4) are not
        kept."""
        written = r.take(8) + text_string(r, self.unicode)
        _index, length = struct.unpack("<HH", head := r.take(4))
        advances = r.i32()
        if advances < 0 or advances > length:
            raise Unkept(MALFORMED)
        written += head + struct.pack("<i", advances) + r.take(4 * advances)
        return written + (string16(r) if version >= 2 else b"")

    def stretch_text(self, version: int, r: Reader) -> bytes:
        written = r.take(8) + text_string(r, self.unicode) + r.take(8)  # width, index, length
        return written + (string16(r) if version >= 2 else b"")

    def text_rect(self, version: int, r: Reader) -> bytes:
        written = r.take(16) + text_string(r, self.unicode) + r.take(2)  # rectangle, string, style
        return written + (string16(r) if version >= 2 else b"")

    def font(self, version: int, r: Reader) -> bytes:
        written, charset = font(r)
        self.unicode = charset == UNICODE
        return written

    def bitmap(self, r: Reader, after: int) -> bytes:
        """A DIB, then the positions of the action filling the rest of it exactly."""
        written, pixels = dib(r, self.pixels_left)
        if r.left() != after:
            raise Unkept(MALFORMED)
        self.pixels_left -= pixels
        return written + r.take(after)

    def bitmap_ex(self, r: Reader, after: int) -> bytes:
        """A DIB, then (when marked) its transparency: an alpha or mask DIB, or a colour."""
        written, pixels = dib(r, self.pixels_left)
        self.pixels_left -= pixels
        transparency = b"\x00"
        if r.left() > after:
            if r.take(8) != BITMAP_EX_MAGIC:
                raise Unkept(MALFORMED)
            kind = r.u8()
            if kind == 2:
                mask, pixels = dib(r, self.pixels_left)
                self.pixels_left -= pixels
                transparency = b"\x02" + mask
            elif kind == 1:
                transparency = b"\x01" + colour(r)
            elif kind != 0:
                raise Unkept(MALFORMED)
        if r.left() != after:
            raise Unkept(MALFORMED)
        return written + BITMAP_EX_MAGIC + transparency + r.take(after)

    def float_transparent(self, version: int, r: Reader) -> bytes:
        """A metafile of its own (written anew, one level deeper), point, size, gradient, then
        (2) colour stops of four doubles each."""
        if self.depth >= MAX_DEPTH:
            raise Unkept(TOO_DEEP)
        inner = SvmRewriter(self.pixels_left, self.depth + 1)
        try:
            nested = inner.rewrite(r)
        except Damaged:
            raise Unkept(MALFORMED) from None
        self.result.removed.update(inner.result.removed)
        self.pixels_left = inner.pixels_left
        if not inner.drawable:
            raise Unkept(None)
        written = nested + r.take(16) + gradient(r)
        if version >= 2:
            stops = r.u16()
            written += struct.pack("<H", stops) + r.take(32 * stops)
        return written


def rewrite_svm(data: bytes, max_pixels: int) -> Rewritten | str:
    """The SVM written anew, or why it cannot be."""
    rewriter = SvmRewriter(max_pixels)
    reader = Reader(data)
    try:
        written = rewriter.rewrite(reader)
    except (Damaged, Short):
        return "a damaged or disguised SVM metafile"
    result = rewriter.result
    if result.removed and not rewriter.drawable:
        return f"nothing of the SVM metafile is left to draw without its {result.summary()}"
    result.data = written
    result.trailing = len(data[reader.pos:].rstrip(b"\x00"))
    return result
