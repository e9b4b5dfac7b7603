"""The pixel stream is a trust boundary: the trusted side must refuse anything malformed."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pikepdf
import pytest

from converters.errors import ConverterError, CorruptFile, DecompressionBomb, TooManyPages
from converters.protocol import Frame, FrameWriter
from gateway.pipeline.raster_pdf import assemble

GREY = Frame(40, 30, 1, 595.28, 841.89, bytes(range(256)) * 4 + bytes(40 * 30 - 1024))


def stream_of(*documents: tuple[str, list[Frame]], end: bool = True) -> io.BytesIO:
    buffer = io.BytesIO()
    writer = FrameWriter(buffer)
    for path, frames in documents:
        writer.begin(path)
        for frame in frames:
            writer.page(frame)
        if end:
            writer.end()
    buffer.seek(0)
    return buffer


def build(stream: io.BytesIO, root: Path, **limits: int) -> list[str]:
    return assemble(stream, root, max_pixels=limits.get("max_pixels", 10_000_000),
                    max_pages=limits.get("max_pages", 100))


def test_valid_stream_builds_one_pdf_per_document(tmp_path: Path) -> None:
    colour = Frame(20, 10, 3, 100, 50, bytes(20 * 10 * 3))
    built = build(stream_of(("a.pdf", [GREY, GREY]), ("dir/b.pdf", [colour])), tmp_path)
    assert built == ["a.pdf", "dir/b.pdf"]
    with pikepdf.open(tmp_path / "a.pdf") as pdf:
        assert len(pdf.pages) == 2
        assert [float(v) for v in pdf.pages[0].mediabox] == [0, 0, 595.28, 841.89]
    with pikepdf.open(tmp_path / "dir/b.pdf") as pdf:
        assert len(pdf.pages) == 1


@pytest.mark.parametrize("path", ["../escape.pdf", "/abs.pdf", "a/../../b.pdf", "x.exe", "a\\b.pdf"])
def test_unsafe_document_names_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(CorruptFile):
        build(stream_of((path, [GREY])), tmp_path / "root")
    assert not (tmp_path / "escape.pdf").exists() and not Path("/abs.pdf").exists()


def test_truncated_and_unended_streams_are_refused(tmp_path: Path) -> None:
    whole = stream_of(("a.pdf", [GREY])).getvalue()
    with pytest.raises(CorruptFile):
        build(io.BytesIO(whole[:-30]), tmp_path)
    with pytest.raises(CorruptFile):
        build(stream_of(("a.pdf", [GREY]), end=False), tmp_path)
    assert not (tmp_path / "a.pdf").exists()


def test_size_mismatch_and_impossible_dimensions_are_refused(tmp_path: Path) -> None:
    data = bytearray(stream_of(("a.pdf", [GREY])).getvalue())
    page_at = data.index(b"PAGE")
    lying = bytearray(data)
    lying[page_at + 8:page_at + 12] = struct.pack(">I", 41)  # width 41 with 40*30 pixels
    with pytest.raises(CorruptFile):
        build(io.BytesIO(bytes(lying)), tmp_path)
    zero = bytearray(data)
    zero[page_at + 8:page_at + 12] = struct.pack(">I", 0)
    with pytest.raises(CorruptFile):
        build(io.BytesIO(bytes(zero)), tmp_path)


def test_pixel_and_page_limits(tmp_path: Path) -> None:
    with pytest.raises(DecompressionBomb):
        build(stream_of(("a.pdf", [GREY])), tmp_path, max_pixels=100)
    with pytest.raises(TooManyPages):
        build(stream_of(("a.pdf", [GREY] * 3)), tmp_path, max_pages=2)


def test_garbage_is_refused(tmp_path: Path) -> None:
    garbage_streams = (b"", b"not frames", b"GWFRAMES2\nPAGE\x00\x00\x00\x01x",
                       b"GWFRAMES2\nEVIL\x00\x00\x00\x00")
    for garbage in garbage_streams:
        with pytest.raises(ConverterError):
            build(io.BytesIO(garbage), tmp_path)


def test_the_office_output_types_are_what_the_rebuilds_write() -> None:
    """The trusted side lets out the types converters/protocol.py lists; the rebuilds decide what
    they write from their own tables, which must not drift from it."""
    from converters.formats.ooxml.rebuild import MAIN_TYPES
    from converters.protocol import ODF_TYPES, OOXML_OUTPUT_TYPES
    from converters.registry import REBUILD

    assert {mime: extension for _, extension, mime in MAIN_TYPES.values()} == OOXML_OUTPUT_TYPES
    assert {mime for mime, target in REBUILD.items() if target.endswith(":OdfConverter")} == set(ODF_TYPES)
