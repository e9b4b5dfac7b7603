"""Pictures inside a document: every raster image is decoded and written anew by the image
converter (metadata, trailing data and polyglot payloads do not survive); Windows metafiles (EMF,
WMF), which Pillow cannot redraw here, are written anew from an allowlist of their records
(``converters.formats.metafile``). A picture whose bytes are none of these (an executable named
image1.png, an SVG, HTML) is dropped."""

from __future__ import annotations

import tempfile
from pathlib import Path

from converters.base import ConvertRequest
from converters.errors import ConverterError
from converters.formats.image import ImageConverter
from converters.formats.metafile import rewrite_metafile

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
# a picture's findings: (code, detail) pairs
Notes = tuple[tuple[str, str], ...]


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


def rewrite_picture(data: bytes, part: str, request: ConvertRequest, work: Path) -> tuple[bytes, str, Notes] | str:
    """(new bytes, content type, findings) for a picture that may stay, or the reason it may not.
    The findings say what the rewrite left out: data hidden after the picture
    (``image_trailing_data_removed``), records of a metafile (``metafile_records_removed``)."""
    kind = sniff(data)
    if kind is None:
        return "the bytes are not a picture (PNG, JPEG, GIF, BMP, TIFF, EMF, WMF)"
    if kind in (EMF_TYPE, WMF_TYPE):
        return rewrite_windows_metafile(data, kind, request)
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
        notes: Notes = (("image_trailing_data_removed", hidden),) if hidden else ()
        return (Path(scratch) / output.path).read_bytes(), output.type, notes


def rewrite_windows_metafile(data: bytes, kind: str, request: ConvertRequest) -> tuple[bytes, str, Notes] | str:
    result = rewrite_metafile(data, kind == EMF_TYPE, request.limits.max_image_pixels)
    if isinstance(result, str):
        return result
    return result.data, kind, result.findings("end record")
