"""What crosses the sandbox boundary besides the JSON reports: the size caps both sides of the
zygote protocol agree on, and the page pixels streamed from the sandbox to the trusted side.

Page pixels cross as a stream of records.

A stream is ``STREAM_MAGIC`` then records, each a 4-byte tag, a 4-byte big-endian length and a
payload: ``DOC `` (the output path of one rasterised document, UTF-8), ``PAGE`` (a fixed header
with width, height, channels and the page size in 1/100 pt, then the raw pixels) and ``END ``.
Documents follow one another; pages belong to the open document. The reader trusts nothing:
every length is bounded before memory is allocated and must match the header exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from converters.errors import CorruptFile, DecompressionBomb, TooManyPages

MAX_REQUEST_LINE = 64 * 1024  # a zygote request's JSON line; anything long travels in its data
MAX_ANSWER_BYTES = 160 * 1024 * 1024  # a zygote's answer (files of a forked job) at most

# The Office types a converter may write, each with its extension: the trusted side lets exactly
# these out (gateway/pipeline/report.py) and names outputs by them (gateway/pipeline/outputs.py);
# the rebuilds write nothing else (tests/converters/test_protocol.py holds them to it).
_OOXML = "application/vnd.openxmlformats-officedocument"
OOXML_OUTPUT_TYPES: dict[str, str] = {
    f"{_OOXML}.wordprocessingml.document": "docx", f"{_OOXML}.wordprocessingml.template": "dotx",
    f"{_OOXML}.spreadsheetml.sheet": "xlsx", f"{_OOXML}.spreadsheetml.template": "xltx",
    f"{_OOXML}.presentationml.presentation": "pptx", f"{_OOXML}.presentationml.slideshow": "ppsx",
    f"{_OOXML}.presentationml.template": "potx",
}
ODF_TYPES: dict[str, str] = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.graphics": "odg",
    "application/vnd.oasis.opendocument.text-template": "ott",
    "application/vnd.oasis.opendocument.spreadsheet-template": "ots",
    "application/vnd.oasis.opendocument.presentation-template": "otp",
}

STREAM_MAGIC = b"GWFRAMES2\n"
_RECORD = struct.Struct(">4sI")
_PAGE = struct.Struct(">IIBII")
MAX_SIDE = 30_000
MAX_PAGE_POINTS = 14_400 * 100  # PDF's largest page side (200 inches), in 1/100 pt
MAX_PATH_BYTES = 4096


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    channels: int  # 1 (grey) or 3 (RGB)
    page_width_pt: float
    page_height_pt: float
    pixels: bytes


class FrameWriter:
    """The sandbox side: writes documents and their pages to a binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.stream.write(STREAM_MAGIC)

    def _record(self, tag: bytes, payload: bytes) -> None:
        self.stream.write(_RECORD.pack(tag, len(payload)))
        self.stream.write(payload)

    def begin(self, path: str) -> None:
        self._record(b"DOC ", path.encode("utf-8"))

    def page(self, frame: Frame) -> None:
        header = _PAGE.pack(frame.width, frame.height, frame.channels,
                            round(frame.page_width_pt * 100), round(frame.page_height_pt * 100))
        self.stream.write(_RECORD.pack(b"PAGE", len(header) + len(frame.pixels)))
        self.stream.write(header)
        self.stream.write(frame.pixels)

    def end(self) -> None:
        self._record(b"END ", b"")
        self.stream.flush()


Record = tuple[Literal["doc"], str] | tuple[Literal["page"], Frame] | tuple[Literal["end"], None]


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CorruptFile("rasterised pages are truncated")
    return data


def iter_records(stream: BinaryIO, *, max_pixels: int, max_pages: int) -> Iterator[Record]:
    """Yield validated records; raise CorruptFile, DecompressionBomb or TooManyPages."""
    if stream.read(len(STREAM_MAGIC)) != STREAM_MAGIC:
        raise CorruptFile("rasterised pages are malformed (bad header)")
    pages = 0
    while True:
        header = stream.read(_RECORD.size)
        if not header:
            return
        if len(header) != _RECORD.size:
            raise CorruptFile("rasterised pages are truncated")
        tag, length = _RECORD.unpack(header)
        if tag == b"DOC ":
            if not 0 < length <= MAX_PATH_BYTES:
                raise CorruptFile("rasterised document has a malformed name")
            try:
                yield "doc", _read_exact(stream, length).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CorruptFile("rasterised document has a malformed name") from exc
            pages = 0
        elif tag == b"END ":
            if length:
                raise CorruptFile("rasterised pages are malformed (bad end)")
            yield "end", None
        elif tag == b"PAGE":
            if length < _PAGE.size:
                raise CorruptFile("rasterised page is malformed")
            width, height, channels, page_w, page_h = _PAGE.unpack(_read_exact(stream, _PAGE.size))
            pages += 1
            if channels not in (1, 3) or not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise CorruptFile("rasterised page has impossible dimensions")
            if not (0 < page_w <= MAX_PAGE_POINTS and 0 < page_h <= MAX_PAGE_POINTS):
                raise CorruptFile("rasterised page has an impossible page size")
            if width * height > max_pixels:
                raise DecompressionBomb("a rasterised page exceeds the pixel limit")
            if pages > max_pages:
                raise TooManyPages(f"the document has more than {max_pages} pages")
            if length != _PAGE.size + width * height * channels:
                raise CorruptFile("rasterised page does not match its declared size")
            pixels = _read_exact(stream, width * height * channels)
            yield "page", Frame(width, height, channels, page_w / 100, page_h / 100, pixels)
        else:
            raise CorruptFile("rasterised pages are malformed (unknown record)")
