"""Pictures inside a document: every raster image is decoded and written anew by the image
converter (metadata, trailing data and polyglot payloads do not survive); Windows metafiles
(EMF, WMF), which Pillow cannot redraw here, must walk as a well-formed record list. A picture
whose bytes are none of these (an executable named image1.png, an SVG, HTML) is dropped."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from converters.base import ConvertRequest
from converters.errors import ConverterError
from converters.formats.image import ImageConverter

RASTER_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg", "image/jpeg"),
    (b"GIF87a", "image/gif", "image/gif"),
    (b"GIF89a", "image/gif", "image/gif"),
    (b"BM", "image/bmp", "image/bmp"),
    (b"II*\x00", "image/tiff", "image/tiff"),
    (b"MM\x00*", "image/tiff", "image/tiff"),
)
EMF_TYPE = "image/x-emf"
WMF_TYPE = "image/x-wmf"
EMR_EOF = 14
MAX_METAFILE_RECORDS = 2_000_000


def sniff(data: bytes) -> str | None:
    """The picture's real type from its bytes, or None when it is not a picture we keep."""
    for magic, kind, _ in RASTER_MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 44 and data[:4] == b"\x01\x00\x00\x00" and data[40:44] == b" EMF":
        return EMF_TYPE
    if data[:4] == b"\xd7\xcd\xc6\x9a" or data[:6] in (b"\x01\x00\x09\x00\x00\x03", b"\x02\x00\x09\x00\x00\x03"):
        return WMF_TYPE
    return None


def emf_well_formed(data: bytes) -> bool:
    """Records of (type, size) with sizes that are multiples of 4, covering the file exactly and
    ending with EMR_EOF."""
    position, count = 0, 0
    while position + 8 <= len(data) and count < MAX_METAFILE_RECORDS:
        kind, size = struct.unpack_from("<II", data, position)
        if size < 8 or size % 4 or position + size > len(data) or not 1 <= kind <= 122:
            return False
        position += size
        count += 1
        if kind == EMR_EOF:
            return position == len(data) or not data[position:].strip(b"\x00")
    return False


def wmf_well_formed(data: bytes) -> bool:
    """An optional placeable header, the standard header, then records (size in 16-bit words)
    up to the end-of-file record (function 0)."""
    offset = 22 if data[:4] == b"\xd7\xcd\xc6\x9a" else 0
    if len(data) < offset + 18:
        return False
    header_words = struct.unpack_from("<H", data, offset + 2)[0]
    position, count = offset + header_words * 2, 0
    while position + 6 <= len(data) and count < MAX_METAFILE_RECORDS:
        words, function = struct.unpack_from("<IH", data, position)
        if words < 3 or position + words * 2 > len(data):
            return False
        position += words * 2
        count += 1
        if function == 0:
            return True
    return False


def rewrite_picture(data: bytes, part: str, request: ConvertRequest, work: Path) -> tuple[bytes, str, str] | str:
    """(new bytes, content type, what was hidden after the picture or "") for a picture that may
    stay, or the reason it may not."""
    kind = sniff(data)
    if kind is None:
        return "the bytes are not a picture (PNG, JPEG, GIF, BMP, TIFF, EMF, WMF)"
    if kind == EMF_TYPE:
        return (data, kind, "") if emf_well_formed(data) else "a damaged or disguised EMF metafile"
    if kind == WMF_TYPE:
        return (data, kind, "") if wmf_well_formed(data) else "a damaged or disguised WMF metafile"
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        source = Path(scratch) / "picture"
        source.write_bytes(data)
        member = ConvertRequest(method="rebuild", limits=request.limits, stem="picture", original_name=part,
                                detected_type=kind)
        try:
            conversion = ImageConverter().convert(source, Path(scratch), member)
        except ConverterError as exc:
            return exc.reason
        [output] = conversion.outputs
        hidden = "; ".join(f.detail for f in conversion.findings if f.code == "image_trailing_data_removed")
        return (Path(scratch) / output.path).read_bytes(), output.type, hidden
