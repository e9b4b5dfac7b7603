"""Which converter handles which detected type: an explicit allowlist. A type not listed here
cannot come out of the gateway."""

from __future__ import annotations

from converters.archive import (
    CompressedFileConverter,
    SevenZipConverter,
    TarConverter,
    ZipConverter,
)
from converters.base import Converter, Method
from converters.image import ImageConverter
from converters.pdf import PdfRebuildConverter
from converters.pdf_raster import PdfRasterConverter
from converters.text import TextConverter

_ALL: tuple[type[Converter], ...] = (
    PdfRebuildConverter, ImageConverter, TextConverter, ZipConverter, SevenZipConverter,
    TarConverter, CompressedFileConverter,
)
REBUILD: dict[str, type[Converter]] = {t: cls for cls in _ALL for t in cls.input_types}
RASTERIZE: dict[str, type[Converter]] = {**REBUILD, "application/pdf": PdfRasterConverter}
ARCHIVE_TYPES: frozenset[str] = frozenset(
    t for cls in (ZipConverter, SevenZipConverter, TarConverter, CompressedFileConverter)
    for t in cls.input_types)


def converter_for(mime: str, method: Method) -> Converter | None:
    table = RASTERIZE if method == "rasterize" else REBUILD
    cls = table.get(mime)
    return cls() if cls is not None else None
