"""The decoders behind ``pdf_images``: an image's data to its samples (or, for a JPEG, to a JPEG
written anew), each under its limits. qpdf for the general filters (Flate, LZW, RunLength, ASCII
hex/85; Flate and RunLength under a cap on their output), Pillow for DCT and CCITT G3/G4 (libtiff,
through a TIFF header written here), the ``jbig2dec`` program for JBIG2 (with its own memory cap and
a time limit). Whatever fails raises ``ImageRemoved`` with the finding's detail."""

from __future__ import annotations

import contextlib
import io
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pikepdf.settings
from pikepdf import Array, Dictionary, Name
from PIL import Image

from converters.formats.image import PILLOW_DAMAGE

MAX_SAMPLE_BYTES = 256 * 1024 * 1024  # decoded samples of one image
JBIG2_SECONDS = 60
JBIG2_MEMORY = 512 * 1024 * 1024  # jbig2dec -M: what its allocations may add up to
FALLBACK_JPEG_QUALITY = 92
GENERAL_FILTERS = frozenset({"/FlateDecode", "/LZWDecode", "/RunLengthDecode", "/ASCIIHexDecode", "/ASCII85Decode"})
# a JPEG's colour transform as libjpeg (and so Pillow) assumes it without an Adobe marker (ISO 32000-2 7.4.8)
JPEG_TRANSFORM = {1: 0, 3: 1, 4: 0}
PARAMETERS = ("/Predictor", "/Colors", "/BitsPerComponent", "/Columns", "/EarlyChange")  # of the general filters


class ImageRemoved(Exception):
    """The image is not written; the message says why (the finding's detail)."""


@dataclass(frozen=True)
class ImageLayout:
    width: int
    height: int
    components: int
    bits: int

    @property
    def size(self) -> int:
        return (self.width * self.components * self.bits + 7) // 8 * self.height


def is_true(value: object) -> bool:
    return value is True


def whole_number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@contextlib.contextmanager
def decoding_cap(limit: int) -> Iterator[None]:
    """qpdf's Flate and RunLength decoders stop past ``limit`` bytes of output (a small stream can
    expand to gigabytes); the process-wide settings are put back afterwards."""
    saved = pikepdf.settings.get_qpdf_limits()
    pikepdf.settings.set_qpdf_limits(flate_max_memory=limit, run_length_max_memory=limit)
    try:
        yield
    finally:
        pikepdf.settings.set_qpdf_limits(flate_max_memory=int(saved["flate_max_memory"]),
                                         run_length_max_memory=int(saved["run_length_max_memory"]))


def undo_general_filters(source: pikepdf.Stream, chain: list[tuple[str, object]], limit: int) -> bytes:
    """The data once the general filters are undone (a codec's stream, or the samples)."""
    general = [(name, parms) for name, parms in chain if name in GENERAL_FILTERS]
    raw = source.read_raw_bytes()
    if not general:
        return raw
    with pikepdf.new() as scratch, decoding_cap(limit):
        stream = pikepdf.Stream(scratch, raw)
        stream["/Filter"] = Array([Name(name) for name, _ in general])
        plain = [Dictionary({key: parms[key] for key in PARAMETERS
                             if key in parms and whole_number(parms[key]) is not None})
                 if isinstance(parms, Dictionary) else None for _, parms in general]
        stream["/DecodeParms"] = Array(plain)
        try:
            return stream.read_bytes(decode_level=pikepdf.StreamDecodeLevel.specialized)
        except (pikepdf.PdfError, RuntimeError, ValueError) as exc:  # QpdfRuntimeError: past the cap
            raise ImageRemoved("an image whose data cannot be decoded") from exc


@contextlib.contextmanager
def pillow_errors(kind: str) -> Iterator[None]:
    """Pillow's own errors as the image's removal (the sizes were checked before)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError as exc:
        raise ImageRemoved(f"{kind} of more pixels than allowed") from exc
    except PILLOW_DAMAGE as exc:
        raise ImageRemoved(f"{kind} that cannot be decoded") from exc


def opened(data: bytes, layout: ImageLayout, kind: str) -> Image.Image:
    """The image in ``data`` decoded, when it is the size the dictionary gives."""
    image = Image.open(io.BytesIO(data))
    if image.size != (layout.width, layout.height):
        raise ImageRemoved(f"{kind} whose size is not the one its dictionary gives")
    image.load()
    return image


def jpeg_anew(data: bytes, parms: object, width: int, height: int, components: int | None) -> bytes:
    """The JPEG in ``data`` decoded and written again by Pillow (``components``: what the dictionary's
    colour space needs, None when it is not known here)."""
    with pillow_errors("a JPEG image"):
        image = opened(data, ImageLayout(width, height, 1, 8), "a JPEG image")
        bands = len(image.getbands())
        if image.format not in ("JPEG", "MPO") or (components is not None and bands != components):
            raise ImageRemoved("a JPEG image whose colours are not the ones its dictionary gives")
        transform = whole_number(parms.get("/ColorTransform")) if isinstance(parms, Dictionary) else None
        if transform is not None and "adobe" not in image.info and transform != JPEG_TRANSFORM.get(bands):
            raise ImageRemoved("a JPEG image with a colour transform no decoder here applies")
        image.info = {}  # comments, EXIF and profiles stay behind (Pillow would write the comment)
        written = io.BytesIO()
        try:  # the input's quantisation tables and subsampling: no visible loss, about its size
            image.save(written, "JPEG", quality="keep", subsampling="keep")
        except (ValueError, OSError):
            written = io.BytesIO()
            image.save(written, "JPEG", quality=FALLBACK_JPEG_QUALITY)
    return written.getvalue()


def fax_as_tiff(data: bytes, width: int, height: int, parms: object) -> bytes:
    """The CCITT data wrapped in the smallest TIFF libtiff decodes: one strip, the parameters of
    ISO 32000-2 table 11 as TIFF tags (black is 0 in the samples unless /BlackIs1)."""
    parms = parms if isinstance(parms, Dictionary) else Dictionary()
    k = whole_number(parms.get("/K")) or 0
    if is_true(parms.get("/EncodedByteAlign")):
        raise ImageRemoved("a fax image with byte-aligned rows")
    if whole_number(parms.get("/Columns", 1728)) != width:
        raise ImageRemoved("a fax image whose rows are not as wide as its dictionary says")
    black_is_1 = is_true(parms.get("/BlackIs1"))
    compression, options = (4, (293, 0)) if k < 0 else (3, (292, 1 if k > 0 else 0))
    entries = sorted([(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, compression),
                      (262, 3, 1 if black_is_1 else 0), (273, 4, 0), (277, 3, 1), (278, 4, height),
                      (279, 4, len(data)), (options[0], 4, options[1])])
    start = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else
        struct.pack("<HHII", tag, kind, 1, start if tag == 273 else value) for tag, kind, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + directory + b"\x00\x00\x00\x00" + data


def bilevel_samples(data: bytes, layout: ImageLayout, kind: str) -> bytes:
    """A decoded 1-bit image (Pillow's mode 1: black 0) as PDF samples (0 black, rows padded)."""
    with pillow_errors(kind):
        image = opened(data, layout, kind)
        if image.mode != "1":
            raise ImageRemoved(f"{kind} that is not black and white")
        return image.tobytes()


def jbig2_samples(data: bytes, parms: object, layout: ImageLayout) -> bytes:
    """JBIG2 decoded by jbig2dec (a separate process, capped in memory and time) to a PBM file."""
    program = shutil.which("jbig2dec")
    if program is None:
        raise ImageRemoved("a JBIG2 image (no JBIG2 decoder here)")
    shared = parms.get("/JBIG2Globals") if isinstance(parms, Dictionary) else None
    try:
        with decoding_cap(MAX_SAMPLE_BYTES):
            globals_data = shared.read_bytes() if isinstance(shared, pikepdf.Stream) else b""
    except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
        raise ImageRemoved("a JBIG2 image whose shared segments cannot be decoded") from exc
    with tempfile.TemporaryDirectory(prefix="gw-jbig2-") as work:
        folder = Path(work)
        (folder / "page").write_bytes(data)
        inputs = [folder / "page"]
        if globals_data:
            (folder / "globals").write_bytes(globals_data)
            inputs.insert(0, folder / "globals")
        command = [program, "--embedded", "-q", "-M", str(JBIG2_MEMORY), "-t", "pbm", "-o", str(folder / "out.pbm"),
                   *map(str, inputs)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=JBIG2_SECONDS, check=False)
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise ImageRemoved("a JBIG2 image that cannot be decoded") from exc
        output = folder / "out.pbm"
        if done.returncode != 0 or not output.is_file():
            raise ImageRemoved("a JBIG2 image that cannot be decoded")
        return bilevel_samples(output.read_bytes(), layout, "a JBIG2 image")
