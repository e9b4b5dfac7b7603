"""Which converter handles which detected type: an explicit allowlist. A type not listed here
cannot come out of the gateway. Modules are imported on first use, so a sandboxed child only
loads the parsers its file needs."""

from __future__ import annotations

import importlib

from converters.base import Converter, Method
from converters.ooxml_package import OOXML_PACKAGE_TYPES
from converters.protocol import ODF_TYPES

_IMAGE = "converters.formats.image:ImageConverter"
_TEXT = "converters.formats.text:TextConverter"
_COMPRESSED = "converters.formats.archive:CompressedFileConverter"
REBUILD: dict[str, str] = {
    "application/pdf": "converters.formats.pdf:PdfRebuildConverter",
    "image/jpeg": _IMAGE, "image/png": _IMAGE, "image/gif": _IMAGE, "image/bmp": _IMAGE,
    "image/tiff": _IMAGE, "image/webp": _IMAGE,
    "text/plain": _TEXT, "text/csv": _TEXT, "text/html": _TEXT,
    "application/zip": "converters.formats.archive:ZipConverter",
    "application/x-7z-compressed": "converters.formats.sevenzip:SevenZipConverter",
    "application/x-tar": "converters.formats.archive:TarConverter",
    "application/gzip": _COMPRESSED, "application/x-bzip2": _COMPRESSED, "application/x-xz": _COMPRESSED,
}
_OOXML = "converters.formats.ooxml:OoxmlConverter"
REBUILD.update({mime: _OOXML for mime in OOXML_PACKAGE_TYPES.values()
                if mime != "application/vnd.ms-excel.sheet.binary.macroEnabled.12"})
_LEGACY = "converters.formats.office:LegacyOfficeConverter"
_OFFICE_RASTER = "converters.formats.office:OfficeRasterConverter"
LEGACY_TYPES = ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
                "application/vnd.ms-excel.sheet.binary.macroEnabled.12", "text/rtf", "application/x-ooxml-encrypted")
REBUILD.update({mime: _LEGACY for mime in LEGACY_TYPES})
REBUILD.update({mime: "converters.formats.odf:OdfConverter" for mime in ODF_TYPES})
RASTERIZE: dict[str, str] = {
    **REBUILD, "application/pdf": "converters.formats.pdf_raster:PdfRasterConverter",
    **{mime: _OFFICE_RASTER for mime in (*LEGACY_TYPES, *OOXML_PACKAGE_TYPES.values(), *ODF_TYPES)},
    "image/svg+xml": _OFFICE_RASTER,  # drawn by LibreOffice (no scripts run), then pixels only
}
# blocked kinds that are accepted when every page is re-drawn as pixels
RASTER_ONLY: frozenset[str] = frozenset({"image/svg+xml"})


def converter_for(mime: str, method: Method) -> Converter | None:
    target = (RASTERIZE if method == "rasterize" else REBUILD).get(mime)
    if target is None:
        return None
    module, name = target.split(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Converter)):
        raise TypeError(f"{target} is not a Converter")
    return cls()
