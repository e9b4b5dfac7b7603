"""Independent check of Windows metafiles (EMF [MS-EMF], WMF [MS-WMF]) in Office and OpenDocument
outputs: records framed to their end record, each of a type drawing needs (its own tables, not the
converter's), long enough for its type and for the counts inside it; no escapes, no comments (EMF+
rides in them), no colour profile, colour space or OpenGL records, no header pixel format; bitmaps
only as whole uncompressed, RLE or bit-field DIBs. Shares no code with the converters."""

from __future__ import annotations

import struct

MAX_RECORDS = 2_000_000
MAX_BITMAP_PIXELS = 100_000_000

# EMF: type -> smallest size a record of it may have (types not here are problems)
EMF_SIZES = {
    2: 28, 3: 28, 4: 28, 5: 28, 6: 28, 7: 32, 8: 32, 9: 16, 10: 16, 11: 16, 12: 16, 13: 16, 15: 20, 16: 12, 17: 12,
    18: 12, 19: 12, 20: 12, 21: 12, 22: 12, 23: 32, 24: 12, 25: 12, 26: 16, 27: 16, 28: 8, 29: 24, 30: 24, 31: 24,
    32: 24, 33: 8, 34: 12, 35: 32, 36: 36, 37: 12, 38: 28, 39: 24, 40: 12, 41: 28, 42: 24, 43: 24, 44: 32, 45: 40,
    46: 40, 47: 40, 48: 12, 49: 16, 50: 20, 51: 16, 52: 8, 53: 24, 54: 16, 55: 40, 56: 28, 57: 12, 58: 12, 59: 8,
    60: 8, 61: 8, 62: 24, 63: 24, 64: 24, 65: 8, 66: 8, 67: 12, 68: 8, 71: 32, 72: 40, 73: 28, 74: 28, 75: 16,
    76: 100, 77: 108, 78: 128, 79: 140, 80: 76, 81: 80, 82: 104, 83: 60, 84: 60, 85: 28, 86: 28, 87: 28, 88: 28,
    89: 28, 90: 32, 91: 32, 92: 28, 93: 32, 94: 32, 95: 52, 98: 12, 108: 36, 114: 108, 115: 12, 116: 108, 118: 36,
    120: 16,
}
EMF_FORBIDDEN = {
    70: "comment (GDI comment or EMF+)", 105: "escape (EMR_DRAWESCAPE)", 106: "escape (EMR_EXTESCAPE)",
    110: "escape (EMR_NAMEDESCAPE)", 102: "OpenGL record", 103: "OpenGL record", 104: "pixel format record",
    99: "colour space record", 100: "colour space record",
    101: "colour space record", 111: "colour management record", 112: "colour profile record (file name)",
    113: "colour profile record (file name)", 121: "colour match record (file name)",
    122: "colour space record (file name)", 119: "font mapping record", 109: "font mapping record",
}
# EMF bitmap records: type -> offsets of (offBmi, cbBmi, offBits, cbBits) blocks
EMF_BITMAPS = {76: (84,), 77: (84,), 78: (84, 112), 79: (96, 124), 80: (48,), 81: (48,), 93: (16,), 94: (16,),
               95: (12,), 114: (84,), 116: (84,)}

# WMF: function -> smallest parameter size (functions not here are problems)
WMF_SIZES = {
    0x0035: 0, 0x001E: 0, 0x0102: 2, 0x0103: 2, 0x0104: 2, 0x0106: 2, 0x0107: 2, 0x0108: 2, 0x0127: 2, 0x0139: 2,
    0x012E: 2, 0x0149: 2, 0x0201: 4, 0x0209: 4, 0x0211: 4, 0x0213: 4, 0x0214: 4, 0x0220: 4, 0x0231: 4, 0x020A: 4,
    0x020B: 4, 0x020C: 4, 0x020D: 4, 0x020E: 4, 0x020F: 4, 0x0410: 8, 0x0412: 8, 0x0415: 8, 0x0416: 8, 0x0418: 8,
    0x041B: 8, 0x041F: 8, 0x0419: 8, 0x0548: 10, 0x061C: 12, 0x061D: 12, 0x081A: 16, 0x0817: 16, 0x0830: 16,
    0x012D: 2, 0x012C: 2, 0x0234: 2, 0x01F0: 2, 0x012A: 2, 0x012B: 2, 0x0228: 4, 0x0429: 8, 0x0324: 2,
    0x0325: 2, 0x0538: 2, 0x0521: 2, 0x0A32: 8, 0x0037: 4, 0x0436: 4, 0x02FA: 10, 0x02FC: 8, 0x02FB: 18,
    0x00F7: 4, 0x0142: 4, 0x0940: 16, 0x0B41: 20, 0x0F43: 22, 0x0D33: 18,
}
# WMF bitmap records: function -> (offset of the DIB, offset of the colour usage or -1)
WMF_BITMAPS = {0x0940: (16, -1), 0x0B41: (20, -1), 0x0F43: (22, 4), 0x0D33: (18, 0), 0x0142: (4, 2)}
WMF_PLAIN_BLITS = {0x0940: 18, 0x0B41: 22}  # the forms without a bitmap


def dib_problem(info: bytes, bits: bytes | None, usage: int, rows: int | None = None) -> str | None:
    """A DIB as GDI reads it: a core or info header with one plane of 1-32 bits, no JPEG/PNG or
    other compression than RLE and bit fields, the colour table and (uncompressed) bits all there.
    ``bits`` None: the bits follow the colours in ``info`` (WMF); ``rows``: the scan lines a
    SetDIBitsToDevice record carries, when fewer than the height."""
    if len(info) < 12:
        return "bitmap header cut short"
    size = int.from_bytes(info[:4], "little")
    if size == 12:
        width, height, planes, depth = struct.unpack_from("<HHHH", info, 4)
        compression, used, entry = 0, 0, 3
    elif size == 40 and len(info) >= 40:
        width, height, planes, depth, compression = struct.unpack_from("<iiHHI", info, 4)
        used, entry = int.from_bytes(info[32:36], "little"), 4
    else:
        return f"bitmap header of {size} bytes"
    if compression in (4, 5):
        return "bitmap holding a JPEG or PNG"
    if compression > 3 or planes != 1 or depth not in (1, 4, 8, 16, 24, 32) or width <= 0 or height == 0:
        return "bitmap with an unusable header"
    if width * abs(height) > MAX_BITMAP_PIXELS:
        return "bitmap over the pixel limit"
    if usage == 1:
        entry = 2
    colours = (used or 1 << depth) if depth <= 8 else used
    table = size + (12 if compression == 3 and size == 40 else 0) + colours * entry
    if len(info) < table:
        return "bitmap colour table cut short"
    data = info[table:] if bits is None else bits
    if compression in (0, 3):
        needed = (width * depth + 31) // 32 * 4 * (abs(height) if rows is None else rows)
        if len(data) < needed:
            return "bitmap bits shorter than its size"
    return None


def emf_record_problems(kind: int, record: bytes) -> list[str]:
    size = len(record)
    if kind in (2, 3, 4, 5, 6, 85, 86, 87, 88, 89):
        count = int.from_bytes(record[24:28], "little")
        if 28 + count * (4 if kind >= 85 else 8) > size:
            return ["metafile point count beyond its record"]
    if kind in (7, 8, 90, 91):
        polygons, total = struct.unpack_from("<II", record, 24)
        if 32 + 4 * polygons + total * (4 if kind >= 90 else 8) > size:
            return ["metafile point count beyond its record"]
    if kind in (83, 84):
        chars, string_at, options = struct.unpack_from("<III", record, 44)
        dx_at = int.from_bytes(record[56:60] if options & 0x100 else record[72:76], "little")  # ETO_NO_RECT
        if size < (60 if options & 0x100 else 76):
            return [f"metafile record type {kind} shorter than its type"]
        if chars and not (8 <= string_at <= size - chars * (2 if kind == 84 else 1)
                          and 8 <= dx_at <= size - chars * (8 if options & 0x2000 else 4)):
            return ["metafile text beyond its record"]
    problems = []
    for at in EMF_BITMAPS.get(kind, ()):
        if at + 16 > size:
            return ["metafile bitmap record cut short"]
        bmi_at, bmi_size, bits_at, bits_size = struct.unpack_from("<IIII", record, at)
        if not bmi_size and not bits_size:
            continue
        if min(bmi_at, bits_at) < 8 or bmi_at + bmi_size > size or bits_at + bits_size > size:
            problems.append("metafile bitmap beyond its record")
            continue
        usage_at = {16: 12, 48: 64, 84: 80, 96: 92, 112: 108, 124: 120, 12: 40}[at]
        usage = int.from_bytes(record[usage_at:usage_at + 4], "little")
        if kind == 95 and int.from_bytes(record[36:40], "little") not in (5, 6):  # a pen: colour, not usage
            usage = 0
        rows = int.from_bytes(record[72:76], "little") if kind == 80 else None  # EMR_SETDIBITSTODEVICE: cScans
        found = dib_problem(record[bmi_at:bmi_at + bmi_size], record[bits_at:bits_at + bits_size], usage, rows)
        if found:
            problems.append(f"metafile {found}")
    return problems


def emf_problems(data: bytes) -> list[str]:
    """Enhanced metafile: a header record with its signature and no pixel format, then allowed
    records to EMR_EOF and nothing after it."""
    if len(data) < 88 or data[:4] != b"\x01\x00\x00\x00" or data[40:44] != b" EMF":
        return ["bytes are not EMF"]
    header_size = int.from_bytes(data[4:8], "little")
    if header_size < 88 or header_size % 4 or header_size > len(data):
        return ["metafile header unreadable"]
    problems: dict[str, None] = {}
    extent = header_size  # the header's fields end where a description string begins
    if int.from_bytes(data[60:64], "little"):
        extent = min(extent, int.from_bytes(data[64:68], "little"))
    if extent >= 100 and (data[88:92] != bytes(4) or data[96:100] != bytes(4)):
        problems["metafile header with an OpenGL pixel format"] = None
    position = header_size
    for _ in range(MAX_RECORDS):
        if position + 8 > len(data):
            break
        kind, size = struct.unpack_from("<II", data, position)
        if size < 8 or size % 4 or position + size > len(data):
            return ["metafile records unreadable"]
        record = data[position:position + size]
        position += size
        if kind == 14:  # EMR_EOF
            if data[position:].strip(b"\x00"):
                problems["data after the image"] = None
            return list(problems)
        if kind in EMF_FORBIDDEN:
            problems[f"metafile {EMF_FORBIDDEN[kind]}"] = None
        elif kind not in EMF_SIZES:
            problems[f"metafile record type {kind} not allowed"] = None
        elif size < EMF_SIZES[kind]:
            problems[f"metafile record type {kind} shorter than its type"] = None
        else:
            problems.update(dict.fromkeys(emf_record_problems(kind, record)))
    return ["metafile without its end record"]


def wmf_record_problems(function: int, params: bytes) -> list[str]:
    size = len(params)
    if function in (0x0324, 0x0325) and 2 + 4 * int.from_bytes(params[:2], "little") > size:
        return ["metafile point count beyond its record"]
    if function == 0x0538:
        polygons = int.from_bytes(params[:2], "little")
        if 2 + 2 * polygons > size or 2 + 2 * polygons + 4 * sum(struct.unpack_from(f"<{polygons}H", params, 2)) > size:
            return ["metafile point count beyond its record"]
    if function == 0x0521:
        length = int.from_bytes(params[:2], "little")
        if 2 + length + length % 2 + 4 > size:
            return ["metafile text beyond its record"]
    if function in WMF_BITMAPS and size != WMF_PLAIN_BLITS.get(function):
        at, usage_at = WMF_BITMAPS[function]
        usage = int.from_bytes(params[usage_at:usage_at + 2], "little") if usage_at >= 0 else 0
        rows = int.from_bytes(params[2:4], "little") if function == 0x0D33 else None  # META_SETDIBTODEV
        found = dib_problem(params[at:], None, usage, rows)
        if found:
            return [f"metafile {found}"]
    return []


def wmf_problems(data: bytes) -> list[str]:
    """Windows metafile: (placeable header with its checksum,) header, allowed records to META_EOF
    and nothing after it; no escape of any kind."""
    position = 0
    if data.startswith(b"\xd7\xcd\xc6\x9a"):
        if len(data) < 22:
            return ["bytes are not WMF"]
        checksum = 0
        for (word,) in struct.iter_unpack("<H", data[:20]):
            checksum ^= word
        if checksum != int.from_bytes(data[20:22], "little"):
            return ["metafile placeable header checksum wrong"]
        position = 22
    if len(data) < position + 18 or struct.unpack_from("<HH", data, position) not in ((1, 9), (2, 9)):
        return ["bytes are not WMF"]
    position += 18
    problems: dict[str, None] = {}
    for _ in range(MAX_RECORDS):
        if position + 6 > len(data):
            break
        words, function = struct.unpack_from("<IH", data, position)
        if words < 3 or position + words * 2 > len(data):
            return ["metafile records unreadable"]
        params = data[position + 6:position + words * 2]
        position += words * 2
        if function == 0:  # META_EOF
            if data[position:].strip(b"\x00"):
                problems["data after the image"] = None
            return list(problems)
        if function == 0x0626:
            is_abort = params[:2] == b"\x09\x00"
            problems["metafile abort procedure (SETABORTPROC)" if is_abort else "metafile escape record"] = None
        elif function not in WMF_SIZES:
            problems[f"metafile record function 0x{function:04X} not allowed"] = None
        elif len(params) < WMF_SIZES[function]:
            problems[f"metafile record function 0x{function:04X} shorter than its function"] = None
        else:
            problems.update(dict.fromkeys(wmf_record_problems(function, params)))
    return ["metafile without its end record"]
