"""PDF rasterisation, the trusted half: validated page pixels in, a fresh image-only PDF out.

Each page is encoded by what it holds: a grey page that is mostly paper and ink (a text page)
becomes 2-bit grey with PNG prediction and Flate (about a third of JPEG's size, sharper text);
grey pages with photographs become grey JPEG; colour pages become JPEG. ``PixelAssembly`` reads
the pixel stream on its own thread while the sandboxed converter writes it.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from converters.errors import ConverterError, CorruptFile
from converters.names import is_safe_relative_path
from converters.protocol import Frame, iter_records
from gateway.config import Settings
from gateway.pipeline.pdf_writer import ImagePdfWriter

log = logging.getLogger(__name__)

JPEG_QUALITY = 80
TEXT_PAGE_INK_SHARE = 0.75  # share of pixels that are near white or near black (anti-aliasing is the rest)
TWO_BIT_PALETTE = (0, 85, 170, 255)


@dataclass(frozen=True)
class EncodedPage:
    width: int
    height: int
    page_width_pt: float
    page_height_pt: float
    data: bytes
    filter: str
    colorspace: str
    bits: int
    predictor_columns: int | None = None


def _is_text_page(grey: Image.Image) -> bool:
    histogram = grey.histogram()
    total = grey.width * grey.height
    paper_and_ink = sum(histogram[:48]) + sum(histogram[208:])
    return paper_and_ink >= TEXT_PAGE_INK_SHARE * total


def _png_idat(png: bytes) -> bytes:
    """Concatenate the IDAT chunks of a PNG that this module itself just wrote."""
    position, chunks = 8, []
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        if kind == b"IDAT":
            chunks.append(png[position + 8:position + 8 + length])
        position += 12 + length
    return b"".join(chunks)


def _two_bit(grey: Image.Image) -> bytes:
    lut = [min(3, (value + 42) // 85) for value in range(256)]
    indexed = Image.frombytes("P", grey.size, grey.point(lut).tobytes())
    indexed.putpalette([level for level in TWO_BIT_PALETTE for _ in range(3)])
    buffer = io.BytesIO()
    indexed.save(buffer, "PNG", bits=2, compress_level=3)
    return _png_idat(buffer.getvalue())


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False)
    return buffer.getvalue()


def encode_page(frame: Frame) -> EncodedPage:
    mode = "L" if frame.channels == 1 else "RGB"
    image = Image.frombytes(mode, (frame.width, frame.height), frame.pixels)
    common = (frame.width, frame.height, frame.page_width_pt, frame.page_height_pt)
    if mode == "L" and _is_text_page(image):
        return EncodedPage(*common, _two_bit(image), "/FlateDecode", "/DeviceGray", 2,
                           predictor_columns=frame.width)
    colorspace = "/DeviceGray" if mode == "L" else "/DeviceRGB"
    return EncodedPage(*common, _jpeg(image), "/DCTDecode", colorspace, 8)


def _encoded_in_order(frames: Iterable[Frame], workers: int) -> Iterator[EncodedPage]:
    """Encode pages on ``workers`` threads (Pillow and zlib release the GIL), in page order,
    keeping at most ``2 * workers`` pages in memory."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        for frame in frames:
            pending.append(pool.submit(encode_page, frame))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def build_pdf(frames: Iterable[Frame], target: Path, *, workers: int = 2, max_bytes: int = 1 << 40) -> int:
    """Write an image-only PDF from validated frames, page by page; return the page count."""
    writer = ImagePdfWriter(target, max_bytes)
    try:
        for page in _encoded_in_order(frames, workers):
            writer.add_image_page(
                width=page.width, height=page.height, page_width_pt=page.page_width_pt,
                page_height_pt=page.page_height_pt, data=page.data, filter_name=page.filter,
                colorspace=page.colorspace, bits=page.bits, predictor_columns=page.predictor_columns)
    except BaseException:
        writer.abort()
        target.unlink(missing_ok=True)
        raise
    return writer.close()


def assemble(stream: BinaryIO, root: Path, *, max_pixels: int, max_pages: int, workers: int = 2,
             max_bytes: int = 1 << 40) -> list[str]:
    """Read a frame stream and build one PDF per document under ``root``; return their paths.
    Any malformed, truncated or over-limit record raises a ConverterError."""
    records = iter_records(stream, max_pixels=max_pixels, max_pages=max_pages)
    built: list[str] = []
    for kind, value in records:
        if kind != "doc" or not isinstance(value, str):
            raise CorruptFile("rasterised pages arrived outside a document")
        if not is_safe_relative_path(value) or not value.endswith(".pdf") or value in built:
            raise CorruptFile("rasterised document has an unsafe or repeated name")
        ended: list[bool] = []

        def pages(ended: list[bool] = ended) -> Iterator[Frame]:
            for page_kind, page in records:
                if page_kind == "page" and isinstance(page, Frame):
                    yield page
                elif page_kind == "end":
                    ended.append(True)
                    return
                else:
                    raise CorruptFile("rasterised document is malformed")

        target = root / value
        target.parent.mkdir(parents=True, exist_ok=True)
        count = build_pdf(pages(), target, workers=workers, max_bytes=max_bytes)
        max_bytes -= target.stat().st_size
        if not ended or count == 0:
            target.unlink(missing_ok=True)
            raise CorruptFile("rasterised document is truncated")
        built.append(value)
    return built


class PixelAssembly:
    """Builds PDFs from the pixel stream of a sandboxed converter (runs on its own thread)."""

    def __init__(self) -> None:
        self.built: list[str] = []
        self.error: ConverterError | None = None

    def run(self, descriptor: int, root: Path, settings: Settings) -> None:
        with os.fdopen(descriptor, "rb", buffering=1024 * 1024) as stream:
            try:
                self.built = assemble(stream, root, max_pixels=settings.limits.max_image_pixels,
                                      max_pages=settings.limits.max_pages, workers=settings.sanitize.raster_workers,
                                      max_bytes=settings.limits.archive_max_total_bytes)
            except ConverterError as exc:
                self.error = exc
            except Exception as exc:  # a thread boundary: any failure fails the rasterised outputs
                log.warning("raster assembly failed: %s", type(exc).__name__)
                self.error = CorruptFile("the rasterised pages could not be assembled")
            finally:
                while stream.read(1024 * 1024):  # drain, so a failing child is never stuck writing
                    pass
