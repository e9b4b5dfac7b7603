"""Bitmaps inside Windows metafile records ([MS-WMF] 2.2.2.9 DeviceIndependentBitmap: a
BITMAPINFOHEADER or BITMAPCOREHEADER, masks or a colour table, then the bits), read the way GDI
reads them and written anew as a BITMAPINFOHEADER (40 bytes), the masks or colours the bitmap needs
and exactly the bits its size needs.

Kept: one plane of 1, 4, 8, 16, 24 or 32 bits a pixel, uncompressed (BI_RGB), run-length encoded
(BI_RLE8, BI_RLE4: the codes are walked and must stay inside the bitmap) or with colour masks
(BI_BITFIELDS), within a pixel budget. Not kept: JPEG and PNG payloads (BI_JPEG, BI_PNG, which GDI
hands to a printer driver or a codec), other compressions, V4/V5 colour-space fields (a linked
profile names a file, possibly on a share), bits shorter than the header says, a header that lies
about its size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_JPEG, BI_PNG = 0, 1, 2, 3, 4, 5
DIB_RGB_COLORS, DIB_PAL_COLORS = 0, 1
CORE_HEADER, INFO_HEADER, V4_HEADER, V5_HEADER = 12, 40, 108, 124
BIT_COUNTS = frozenset({1, 4, 8, 16, 24, 32})

CODED = "JPEG or PNG bitmaps"
DAMAGED = "damaged bitmaps"
TOO_LARGE = "bitmaps over the size limit"


class BadBitmap(Exception):
    """A bitmap that cannot be kept; ``kind`` names what it was, for the report."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Bitmap:
    info: bytes  # BITMAPINFOHEADER, then masks or colour table
    bits: bytes
    pixels: int


@dataclass(frozen=True)
class Header:
    size: int
    width: int
    height: int
    bit_count: int
    compression: int
    size_image: int
    resolution: tuple[int, int]
    colours_used: int


def read_header(info: bytes) -> Header:
    if len(info) < 4:
        raise BadBitmap(DAMAGED)
    size = struct.unpack_from("<I", info)[0]
    if size == CORE_HEADER and len(info) >= CORE_HEADER:
        width, height, planes, bit_count = struct.unpack_from("<HHHH", info, 4)
        compression, size_image, resolution, used = BI_RGB, 0, (0, 0), 0
    elif size in (INFO_HEADER, V4_HEADER, V5_HEADER) and len(info) >= size:
        width, height, planes, bit_count, compression, size_image, x_ppm, y_ppm, used = struct.unpack_from(
            "<iiHHIIiiI", info, 4)
        resolution = (x_ppm, y_ppm)
    else:
        raise BadBitmap(DAMAGED)
    if compression in (BI_JPEG, BI_PNG):
        raise BadBitmap(CODED)
    if planes != 1 or bit_count not in BIT_COUNTS or width < 1 or height == 0:
        raise BadBitmap(DAMAGED)
    allowed = {BI_RGB: True, BI_RLE8: bit_count == 8, BI_RLE4: bit_count == 4, BI_BITFIELDS: bit_count in (16, 32)}
    if not allowed.get(compression, False) or (height < 0 and compression in (BI_RLE8, BI_RLE4)):
        raise BadBitmap(DAMAGED)
    return Header(size, width, height, bit_count, compression, size_image, resolution, used)


def packed_info_size(dib: bytes, usage: int) -> int:
    """How many bytes of a packed DIB (header and bits in one run, as WMF records hold it) are its
    header, masks and colour table."""
    header = read_header(dib)
    entry = 2 if usage == DIB_PAL_COLORS else 3 if header.size == CORE_HEADER else 4
    masks = 12 if header.compression == BI_BITFIELDS and header.size == INFO_HEADER else 0
    return header.size + masks + colour_count(header) * entry


def colour_count(header: Header) -> int:
    """Entries of the colour table as GDI reads it: a palette for 8 bits a pixel or fewer (all 2^n
    when the header says 0), otherwise the optional entries of biClrUsed."""
    if header.bit_count <= 8:
        return header.colours_used or 1 << header.bit_count
    return header.colours_used


def masks_of(info: bytes, header: Header) -> bytes:
    """The three colour masks of a BI_BITFIELDS bitmap, each set, apart and inside the pixel."""
    start = INFO_HEADER  # after a BITMAPINFOHEADER, or the V4/V5 header's own mask fields
    if len(info) < start + 12:
        raise BadBitmap(DAMAGED)
    masks = struct.unpack_from("<III", info, start)
    seen = 0
    for mask in masks:
        if mask == 0 or mask & seen or mask >> header.bit_count:
            raise BadBitmap(DAMAGED)
        seen |= mask
    return info[start:start + 12]


def colour_table(info: bytes, start: int, header: Header, usage: int) -> bytes:
    """The palette a bitmap of 8 bits a pixel or fewer needs: RGBQUADs (reserved byte zero), or
    16-bit indices into the selected palette for DIB_PAL_COLORS."""
    count = colour_count(header)
    if header.bit_count > 8:
        return b""
    if count > 1 << header.bit_count:
        raise BadBitmap(DAMAGED)
    if usage == DIB_PAL_COLORS:
        if len(info) < start + 2 * count:
            raise BadBitmap(DAMAGED)
        return info[start:start + 2 * count]
    entry = 3 if header.size == CORE_HEADER else 4
    if len(info) < start + entry * count:
        raise BadBitmap(DAMAGED)
    return b"".join(info[at:at + 3] + b"\x00" for at in range(start, start + entry * count, entry))


def rle_stream(bits: bytes, width: int, height: int, bit_count: int) -> bytes:
    """The run-length codes up to and with end-of-bitmap, every run inside the bitmap ([MS-WMF]
    3.1.6); a stream that stops without its end code gets one."""
    position = x = y = 0
    while position + 2 <= len(bits):
        count, value = bits[position], bits[position + 1]
        position += 2
        if count:
            if y >= height or x + count > width:
                raise BadBitmap(DAMAGED)
            x += count
        elif value == 0:
            x, y = 0, y + 1
            if y > height:
                raise BadBitmap(DAMAGED)
        elif value == 1:
            return bits[:position]
        elif value == 2:
            if position + 2 > len(bits):
                raise BadBitmap(DAMAGED)
            x, y = x + bits[position], y + bits[position + 1]
            position += 2
            if x > width or y > height:
                raise BadBitmap(DAMAGED)
        else:
            length = value if bit_count == 8 else (value + 1) // 2
            length += length % 2
            if y >= height or x + value > width or position + length > len(bits):
                raise BadBitmap(DAMAGED)
            x += value
            position += length
    return bits[:position] + b"\x00\x01"


def read_dib(info: bytes, bits: bytes, usage: int, max_pixels: int, rows: int | None = None) -> Bitmap:
    """The bitmap written anew from its header and colours (``info``) and its bits; ``rows`` is the
    number of scan lines the record carries when that is fewer than the height (SetDIBitsToDevice)."""
    header = read_header(info)
    if usage not in (DIB_RGB_COLORS, DIB_PAL_COLORS) or (usage == DIB_PAL_COLORS and header.bit_count > 8):
        raise BadBitmap(DAMAGED)
    height = abs(header.height)
    pixels = header.width * height
    if pixels > max_pixels:
        raise BadBitmap(TOO_LARGE)
    start = header.size
    masks = b""
    if header.compression == BI_BITFIELDS:
        masks = masks_of(info, header)  # after a BITMAPINFOHEADER, or inside a V4/V5 header: offset 40 both
        start += 12 if header.size == INFO_HEADER else 0
    colours = colour_table(info, start, header, usage)
    if header.compression in (BI_RLE8, BI_RLE4):
        limit = header.size_image if 0 < header.size_image <= len(bits) else len(bits)
        data = rle_stream(bits[:limit], header.width, height, header.bit_count)
    else:
        lines = height if rows is None else rows
        if not 0 <= lines <= height:
            raise BadBitmap(DAMAGED)
        needed = (header.width * header.bit_count + 31) // 32 * 4 * lines
        if len(bits) < needed:
            raise BadBitmap(DAMAGED)
        data = bits[:needed]
    used = len(colours) // (2 if usage == DIB_PAL_COLORS else 4)
    written = struct.pack("<IiiHHIIiiII", INFO_HEADER, header.width, header.height, 1, header.bit_count,
                          header.compression, len(data), *header.resolution, used, 0)
    return Bitmap(written + masks + colours, data, pixels)


def read_packed_dib(dib: bytes, usage: int, max_pixels: int, rows: int | None = None) -> Bitmap:
    """A packed DIB (WMF): header, colours and bits in one run."""
    split = packed_info_size(dib, usage)
    if split > len(dib):
        raise BadBitmap(DAMAGED)
    return read_dib(dib[:split], dib[split:], usage, max_pixels, rows)
