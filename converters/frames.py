"""Page pixels crossing from the sandbox to the trusted side.

A frames file is ``FRAMES_MAGIC`` followed by frames; each frame is a fixed header (width,
height, channels, page size in 1/100 pt, compressed length) and zlib-compressed raw pixels.
The reader trusts nothing: every size is bounded before memory is allocated, and the pixel
count must match the header exactly.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageChops

from converters.errors import CorruptFile, DecompressionBomb

FRAMES_MAGIC = b"GWFRAMES1\n"
_HEADER = struct.Struct(">4sIIBIII")
_FRAME_TAG = b"PAGE"
MAX_SIDE = 30_000
MAX_PAGE_POINTS = 14_400 * 100  # PDF's largest page side (200 inches), in 1/100 pt


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    channels: int  # 1 (grey) or 3 (RGB)
    page_width_pt: float
    page_height_pt: float
    pixels: bytes


def frame_from_image(image: Image.Image, page_width_pt: float, page_height_pt: float) -> Frame:
    """Make a frame from a rendered page, as one grey channel when the page has no colour."""
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    grey = (ImageChops.difference(red, green).getbbox() is None
            and ImageChops.difference(red, blue).getbbox() is None)
    if grey:
        return Frame(rgb.width, rgb.height, 1, page_width_pt, page_height_pt, red.tobytes())
    return Frame(rgb.width, rgb.height, 3, page_width_pt, page_height_pt, rgb.tobytes())


def write_header(stream: BinaryIO) -> None:
    stream.write(FRAMES_MAGIC)


def write_frame(stream: BinaryIO, frame: Frame) -> None:
    packed = zlib.compress(frame.pixels, 1)
    stream.write(_HEADER.pack(_FRAME_TAG, frame.width, frame.height, frame.channels,
                              round(frame.page_width_pt * 100), round(frame.page_height_pt * 100),
                              len(packed)))
    stream.write(packed)


def read_frames(stream: BinaryIO, *, max_pixels: int, max_frames: int) -> Iterator[Frame]:
    """Yield validated frames; raise CorruptFile or DecompressionBomb on anything unexpected."""
    if stream.read(len(FRAMES_MAGIC)) != FRAMES_MAGIC:
        raise CorruptFile("rasterised pages are malformed (bad header)")
    count = 0
    while True:
        header = stream.read(_HEADER.size)
        if not header:
            return
        if len(header) != _HEADER.size:
            raise CorruptFile("rasterised pages are truncated")
        tag, width, height, channels, page_w, page_h, packed_len = _HEADER.unpack(header)
        count += 1
        if tag != _FRAME_TAG or channels not in (1, 3):
            raise CorruptFile("rasterised pages are malformed (bad frame)")
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise CorruptFile("rasterised page has impossible dimensions")
        if not (0 < page_w <= MAX_PAGE_POINTS and 0 < page_h <= MAX_PAGE_POINTS):
            raise CorruptFile("rasterised page has an impossible page size")
        if width * height > max_pixels or count > max_frames:
            raise DecompressionBomb("rasterised pages exceed the pixel or page limit")
        expected = width * height * channels
        if packed_len > expected + 1024 + expected // 100:
            raise CorruptFile("rasterised page is larger than its pixels")
        packed = stream.read(packed_len)
        if len(packed) != packed_len:
            raise CorruptFile("rasterised pages are truncated")
        inflater = zlib.decompressobj()
        try:
            pixels = inflater.decompress(packed, expected)
        except zlib.error as exc:
            raise CorruptFile("rasterised page is not valid compressed data") from exc
        if len(pixels) != expected or inflater.unconsumed_tail or not inflater.eof:
            raise CorruptFile("rasterised page does not match its declared size")
        yield Frame(width, height, channels, page_w / 100, page_h / 100, pixels)
