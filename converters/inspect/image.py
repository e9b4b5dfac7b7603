"""Independent metadata check for image outputs: only the structures needed to show the pixels
may remain (allowlists of PNG chunks, JPEG markers and TIFF tags); any other block could carry
a payload."""

from __future__ import annotations

import struct

PNG_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"pHYs", b"gAMA", b"sRGB", b"cHRM",
                        b"acTL", b"fcTL", b"fdAT"})
JPEG_SEGMENTS = frozenset({0xE0, 0xEE, 0xDB, 0xC4, 0xDD} | set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC})
TIFF_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296, 297,
                       317, 320, 322, 323, 324, 325, 338, 339, 340, 341, 530, 531, 532})


def png_problems(data: bytes) -> list[str]:
    problems, position = [], 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind not in PNG_CHUNKS:
            problems.append(f"png chunk {kind.decode('latin-1')!r}")
        position += 12 + length
    return problems


def jpeg_problems(data: bytes) -> list[str]:
    problems, position = [], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: headers are over
            break
        if marker not in JPEG_SEGMENTS:
            problems.append(f"jpeg segment 0x{marker:02X}")
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        position += 2 + length
    return problems


def tiff_problems(tags: object) -> list[str]:
    keys = set(tags.keys()) if hasattr(tags, "keys") else set()
    return [f"tiff tag {tag}" for tag in sorted(keys - TIFF_TAGS)]
