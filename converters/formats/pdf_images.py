"""Images of the rebuilt PDF written anew from their pixels: no byte of the input's image data goes out.

Every image stream the rebuild writes (an image XObject, its soft mask, its stencil mask) is decoded
here to its samples, as a reader decodes it, and encoded again: lossless samples as /FlateDecode
(no parameters), photographs that came as DCT (JPEG) as DCT written by Pillow with the input's own
quantisation tables and subsampling (``quality="keep"``: no visible loss, about the input's size;
quality 92 when those cannot be kept). So JBIG2 (CVE-2009-0658, CVE-2021-30860), JPEG 2000, CCITT
fax and JPEG bytes written by an attacker never reach a reader's image decoder: only Flate and
JPEG data we wrote do.

Decoders: qpdf for the general filters (Flate, LZW, RunLength, ASCII hex/85; Flate and RunLength
under a cap on their output), Pillow for DCT, JPEG 2000 (OpenJPEG) and CCITT G3/G4 (libtiff, through
a TIFF header written here), the ``jbig2dec`` program for JBIG2 (with its own memory cap and a time
limit). The image's meaning stays: size, bits per component, colour space (copied by ``pdf_copy``),
/Decode, /ImageMask, /Interpolate, masks. Where a codec carries its own representation the dictionary
follows it: JPEG 2000 gets the colour space of its decoded mode when the dictionary names none, 8
bits (16 for deep grey), no /Decode (a JPEG 2000 image ignores it) and its alpha, when /SMaskInData
asks for it and no /SMask is given, as a soft mask of its own; fax and JBIG2 images are 1 bit.

An image that does not decode, whose samples are fewer than width x height x components x bits
(rows padded to bytes) say, whose codec stream is not the size the dictionary gives, or that would
be larger than ``MAX_PIXELS`` or ``MAX_SAMPLE_BYTES`` once decoded (checked before decoding) is not
written: the finding ``pdf_image_removed`` says which. An image that decodes is no finding.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import struct
import subprocess
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pikepdf.settings
from pikepdf import Array, Dictionary, Name
from PIL import Image

from converters.base import Limits
from converters.formats.image import PILLOW_DAMAGE
from converters.formats.pdf_active import name_of

MAX_PIXELS = Limits().max_image_pixels  # the limit every other image is held to
MAX_SAMPLE_BYTES = 256 * 1024 * 1024  # decoded samples of one image
JBIG2_SECONDS = 60
JBIG2_MEMORY = 512 * 1024 * 1024  # jbig2dec -M: what its allocations may add up to
FALLBACK_JPEG_QUALITY = 92
FLATE_LEVEL = 6
GENERAL_FILTERS = frozenset({"/FlateDecode", "/LZWDecode", "/RunLengthDecode", "/ASCIIHexDecode", "/ASCII85Decode"})
CODECS = frozenset({"/DCTDecode", "/JPXDecode", "/CCITTFaxDecode", "/JBIG2Decode"})
DEVICE_COMPONENTS = {"/DeviceGray": 1, "/DeviceRGB": 3, "/DeviceCMYK": 4}
FAMILY_COMPONENTS = {"/CalGray": 1, "/CalRGB": 3, "/Lab": 3, "/Indexed": 1, "/Separation": 1}
BITS = frozenset({1, 2, 4, 8, 16})
# a JPEG's colour transform as libjpeg (and so Pillow) assumes it without an Adobe marker (ISO 32000-2 7.4.8)
JPEG_TRANSFORM = {1: 0, 3: 1, 4: 0}
# a decoded JPEG 2000 mode with no colour space in the dictionary: the colour space, the colour bands
JPX_MODES: dict[str, tuple[str, str]] = {"L": ("/DeviceGray", "L"), "LA": ("/DeviceGray", "L"),
                                         "RGB": ("/DeviceRGB", "RGB"), "RGBA": ("/DeviceRGB", "RGB"),
                                         "CMYK": ("/DeviceCMYK", "CMYK")}
PARAMETERS = ("/Predictor", "/Colors", "/BitsPerComponent", "/Columns", "/EarlyChange")  # of the general filters
INLINE_CODING = ("/Filter", "/DecodeParms", "/Length")  # what an inline image says of its data, written anew
Note = Callable[[str, str], None]
FINDING = "pdf_image_removed"


class _Removed(Exception):
    """The image is not written; the message says why (the finding's detail)."""


@dataclass
class NewImage:
    """An image stream written anew, and what its dictionary needs once ``pdf_copy`` has copied it."""
    stream: pikepdf.Stream
    settings: dict[str, object] = field(default_factory=dict)  # None: the key is removed
    soft_mask: pikepdf.Stream | None = None  # a JPEG 2000's alpha, when no /SMask is given

    def settle(self, made: pikepdf.Object) -> None:
        for key, value in self.settings.items():
            if value is None:
                if key in made:
                    del made[key]
            elif key != "/ColorSpace" or key not in made:
                made[key] = value
        if "/SMaskInData" in made:  # of a JPEG 2000 only: what it asked for is in the new data, or not wanted
            del made["/SMaskInData"]
        if self.soft_mask is not None and "/SMask" not in made:
            made["/SMask"] = self.soft_mask


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    components: int
    bits: int

    @property
    def size(self) -> int:
        return (self.width * self.components * self.bits + 7) // 8 * self.height


def _true(value: object) -> bool:
    return value is True


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def components(space: object) -> int | None:
    """How many components a sample of the colour space has (None: not a colour space of an image)."""
    if isinstance(space, Name):
        return DEVICE_COMPONENTS.get(str(space))
    if not isinstance(space, Array) or len(space) == 0:
        return None
    family = name_of(space[0])
    if family in FAMILY_COMPONENTS:
        return FAMILY_COMPONENTS[family]
    if family == "/ICCBased" and len(space) > 1 and isinstance(space[1], pikepdf.Stream):
        count = _number(space[1].get("/N"))
        return count if count in (1, 3, 4) else None
    if family == "/DeviceN" and len(space) > 1 and isinstance(space[1], Array) and 0 < len(space[1]) <= 32:
        return len(space[1])
    return None


def _chain(source: pikepdf.Object) -> list[tuple[str, object]]:
    """The stream's filters, each with its parameters (None when it has none)."""
    filters = source.get("/Filter")
    listed = list(filters) if isinstance(filters, Array) else [] if filters is None else [filters]
    parms = source.get("/DecodeParms")
    given = list(parms) if isinstance(parms, Array) else [parms] * (1 if parms is not None else 0)
    chain: list[tuple[str, object]] = []
    for index, item in enumerate(listed):
        name = name_of(item)
        if name not in GENERAL_FILTERS | CODECS:
            raise _Removed("an image with a filter that is not a standard one")
        chain.append((name, given[index] if index < len(given) else None))
    if any(name in CODECS for name, _ in chain[:-1]):
        raise _Removed("an image whose codec is not its last filter")
    return chain


@contextlib.contextmanager
def _decoding_cap(limit: int) -> Iterator[None]:
    """qpdf's Flate and RunLength decoders stop past ``limit`` bytes of output (a small stream can
    expand to gigabytes); the process-wide settings are put back afterwards."""
    saved = pikepdf.settings.get_qpdf_limits()
    pikepdf.settings.set_qpdf_limits(flate_max_memory=limit, run_length_max_memory=limit)
    try:
        yield
    finally:
        pikepdf.settings.set_qpdf_limits(flate_max_memory=int(saved["flate_max_memory"]),
                                         run_length_max_memory=int(saved["run_length_max_memory"]))


def _general(source: pikepdf.Stream, chain: list[tuple[str, object]], limit: int) -> bytes:
    """The data once the general filters are undone (a codec's stream, or the samples)."""
    general = [(name, parms) for name, parms in chain if name in GENERAL_FILTERS]
    raw = source.read_raw_bytes()
    if not general:
        return raw
    with pikepdf.new() as scratch, _decoding_cap(limit):
        stream = pikepdf.Stream(scratch, raw)
        stream["/Filter"] = Array([Name(name) for name, _ in general])
        plain = [Dictionary({key: parms[key] for key in PARAMETERS
                             if key in parms and _number(parms[key]) is not None})
                 if isinstance(parms, Dictionary) else None for _, parms in general]
        stream["/DecodeParms"] = Array(plain)
        try:
            return stream.read_bytes(decode_level=pikepdf.StreamDecodeLevel.specialized)
        except (pikepdf.PdfError, RuntimeError, ValueError) as exc:  # QpdfRuntimeError: past the cap
            raise _Removed("an image whose data cannot be decoded") from exc


def _flate(target: pikepdf.Pdf, samples: bytes | memoryview) -> pikepdf.Stream:
    stream = pikepdf.Stream(target, zlib.compress(samples, FLATE_LEVEL))
    stream["/Filter"] = Name.FlateDecode
    return stream


@contextlib.contextmanager
def _pillow(kind: str) -> Iterator[None]:
    """Pillow's own errors as the image's removal (the sizes were checked before)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError as exc:
        raise _Removed(f"{kind} of more pixels than allowed") from exc
    except PILLOW_DAMAGE as exc:
        raise _Removed(f"{kind} that cannot be decoded") from exc


def _opened(data: bytes, layout: _Layout, kind: str) -> Image.Image:
    """The image in ``data`` decoded, when it is the size the dictionary gives."""
    image = Image.open(io.BytesIO(data))
    if image.size != (layout.width, layout.height):
        raise _Removed(f"{kind} whose size is not the one its dictionary gives")
    image.load()
    return image


def _jpeg(data: bytes, parms: object, width: int, height: int, components: int | None) -> bytes:
    """The JPEG in ``data`` decoded and written again by Pillow (``components``: what the dictionary's
    colour space needs, None when it is not known here)."""
    with _pillow("a JPEG image"):
        image = _opened(data, _Layout(width, height, 1, 8), "a JPEG image")
        bands = len(image.getbands())
        if image.format not in ("JPEG", "MPO") or (components is not None and bands != components):
            raise _Removed("a JPEG image whose colours are not the ones its dictionary gives")
        transform = _number(parms.get("/ColorTransform")) if isinstance(parms, Dictionary) else None
        if transform is not None and "adobe" not in image.info and transform != JPEG_TRANSFORM.get(bands):
            raise _Removed("a JPEG image with a colour transform no decoder here applies")
        image.info = {}  # comments, EXIF and profiles stay behind (Pillow would write the comment)
        written = io.BytesIO()
        try:  # the input's quantisation tables and subsampling: no visible loss, about its size
            image.save(written, "JPEG", quality="keep", subsampling="keep")
        except (ValueError, OSError):
            written = io.BytesIO()
            image.save(written, "JPEG", quality=FALLBACK_JPEG_QUALITY)
    return written.getvalue()


def _jpx(target: pikepdf.Pdf, data: bytes, source: pikepdf.Stream, declared: int | None,
         width: int, height: int) -> NewImage:
    """A JPEG 2000 image: its samples in the dictionary's colour space (or its own), alpha apart."""
    alpha_wanted = _number(source.get("/SMaskInData")) in (1, 2)
    with _pillow("a JPEG 2000 image"):
        image = _opened(data, _Layout(width, height, 1, 8), "a JPEG 2000 image")
        if image.mode in ("P", "PA"):
            if declared is not None:
                raise _Removed("a JPEG 2000 image with a palette and a colour space of its dictionary")
            image = image.convert("RGBA" if image.mode == "PA" else image.palette.mode if image.palette else "RGB")
        bands = image.getbands()
        alpha = image.getchannel("A") if "A" in bands else None
        settings: dict[str, object] = {"/Decode": None, "/BitsPerComponent": 8}
        if image.mode.startswith("I;16"):
            if declared not in (None, 1):
                raise _Removed("a JPEG 2000 image whose colours are not the ones its dictionary gives")
            samples = image.tobytes("raw", "I;16B")
            settings.update({"/BitsPerComponent": 16, "/ColorSpace": Name.DeviceGray})
        elif declared is None:
            if image.mode not in JPX_MODES:
                raise _Removed("a JPEG 2000 image of an unknown kind")
            space, colour = JPX_MODES[image.mode]
            samples = (image.convert(colour) if image.mode != colour else image).tobytes()
            settings["/ColorSpace"] = Name(space)
        else:
            channels = [image.getchannel(band) for band in bands]
            if len(channels) == declared + 1 and alpha is not None:
                channels = [channel for band, channel in zip(bands, channels, strict=True) if band != "A"]
            if len(channels) != declared:
                raise _Removed("a JPEG 2000 image whose colours are not the ones its dictionary gives")
            samples = _interleaved(channels)
    made = NewImage(_flate(target, samples), settings)
    if alpha is not None and alpha_wanted:
        mask = _flate(target, alpha.tobytes())
        for key, value in (("/Type", Name.XObject), ("/Subtype", Name.Image), ("/Width", width),
                           ("/Height", height), ("/ColorSpace", Name.DeviceGray), ("/BitsPerComponent", 8)):
            mask[key] = value
        made.soft_mask = mask
    return made


def _interleaved(channels: list[Image.Image]) -> bytes:
    """8-bit channels as one sample of each after the other, pixel by pixel."""
    if len(channels) == 1:
        return channels[0].tobytes()
    if len(channels) in (3, 4):
        return Image.merge("RGB" if len(channels) == 3 else "CMYK", channels).tobytes()
    planes = [channel.tobytes() for channel in channels]
    mixed = bytearray(len(planes[0]) * len(planes))
    for index, plane in enumerate(planes):
        mixed[index::len(planes)] = plane
    return bytes(mixed)


def _fax_tiff(data: bytes, width: int, height: int, parms: object) -> bytes:
    """The CCITT data wrapped in the smallest TIFF libtiff decodes: one strip, the parameters of
    ISO 32000-2 table 11 as TIFF tags (black is 0 in the samples unless /BlackIs1)."""
    parms = parms if isinstance(parms, Dictionary) else Dictionary()
    k = _number(parms.get("/K")) or 0
    if _true(parms.get("/EncodedByteAlign")):
        raise _Removed("a fax image with byte-aligned rows")
    if _number(parms.get("/Columns", 1728)) != width:
        raise _Removed("a fax image whose rows are not as wide as its dictionary says")
    black_is_1 = _true(parms.get("/BlackIs1"))
    compression, options = (4, (293, 0)) if k < 0 else (3, (292, 1 if k > 0 else 0))
    entries = sorted([(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, compression),
                      (262, 3, 1 if black_is_1 else 0), (273, 4, 0), (277, 3, 1), (278, 4, height),
                      (279, 4, len(data)), (options[0], 4, options[1])])
    start = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else
        struct.pack("<HHII", tag, kind, 1, start if tag == 273 else value) for tag, kind, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + directory + b"\x00\x00\x00\x00" + data


def _bilevel(data: bytes, layout: _Layout, kind: str) -> bytes:
    """A decoded 1-bit image (Pillow's mode 1: black 0) as PDF samples (0 black, rows padded)."""
    with _pillow(kind):
        image = _opened(data, layout, kind)
        if image.mode != "1":
            raise _Removed(f"{kind} that is not black and white")
        return image.tobytes()


def _jbig2(data: bytes, parms: object, layout: _Layout) -> bytes:
    """JBIG2 decoded by jbig2dec (a separate process, capped in memory and time) to a PBM file."""
    program = shutil.which("jbig2dec")
    if program is None:
        raise _Removed("a JBIG2 image (no JBIG2 decoder here)")
    shared = parms.get("/JBIG2Globals") if isinstance(parms, Dictionary) else None
    try:
        with _decoding_cap(MAX_SAMPLE_BYTES):
            globals_data = shared.read_bytes() if isinstance(shared, pikepdf.Stream) else b""
    except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
        raise _Removed("a JBIG2 image whose shared segments cannot be decoded") from exc
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
            raise _Removed("a JBIG2 image that cannot be decoded") from exc
        output = folder / "out.pbm"
        if done.returncode != 0 or not output.is_file():
            raise _Removed("a JBIG2 image that cannot be decoded")
        return _bilevel(output.read_bytes(), layout, "a JBIG2 image")


def _size(details: pikepdf.Object) -> tuple[int, int]:
    width, height = _number(details.get("/Width")), _number(details.get("/Height"))
    if width is None or height is None or width <= 0 or height <= 0:
        raise _Removed("an image without a size")
    if width * height > MAX_PIXELS:
        raise _Removed(f"an image of {width}x{height} pixels, over the limit")
    return width, height


def inline_image(instruction: pikepdf.ContentStreamInlineImage,
                 scratch: pikepdf.Pdf) -> pikepdf.ContentStreamInlineImage | None:
    """An inline image (BI ... ID ... EI) whose data is for a codec - fax or JPEG, the only ones an
    inline image may use - decoded and written anew: fax as its samples, JPEG by Pillow, in ASCII hex
    (no binary byte a reader could take for EI). None when it does not decode; an image of the general
    filters only is returned as it is. Inline images are small by rule (ISO 32000-2 8.9.7)."""
    image = instruction.iimage
    details = image.obj
    try:
        chain = _chain(details)
        codec, parms = chain[-1] if chain and chain[-1][0] in CODECS else ("", None)
        if codec not in ("/CCITTFaxDecode", "/DCTDecode"):
            return instruction
        width, height = _size(details)
        data = _general(pikepdf.Stream(scratch, image.read_raw_bytes()), chain, MAX_SAMPLE_BYTES)
        if codec == "/DCTDecode":
            space = details.get("/ColorSpace")  # a name of the page's resources is not known here
            encoded = _jpeg(data, parms, width, height, DEVICE_COMPONENTS.get(name_of(space)))
            filters = Array([Name.ASCIIHexDecode, Name.DCTDecode])
        else:
            if _number(details.get("/BitsPerComponent", 1)) != 1:
                raise _Removed("a black and white image whose dictionary says otherwise")
            encoded = _bilevel(_fax_tiff(data, width, height, parms), _Layout(width, height, 1, 1), "a fax image")
            filters = Array([Name.ASCIIHexDecode])
    except _Removed:
        return None
    kept = Dictionary({key: value for key, value in details.items() if key not in INLINE_CODING})
    kept["/Filter"] = filters
    written = b"BI " + kept.unparse()[2:-2] + b" ID " + encoded.hex().encode("ascii") + b"> EI"
    parsed = pikepdf.parse_content_stream(pikepdf.Stream(scratch, written))
    return parsed[0] if len(parsed) == 1 and isinstance(parsed[0], pikepdf.ContentStreamInlineImage) else None


class ImageWriter:
    """Writes the rebuilt document's image streams (``pdf_copy`` calls ``rewrite`` for each)."""

    def __init__(self, target: pikepdf.Pdf, note: Note) -> None:
        self.target = target
        self.note = note
        self._refused: set[tuple[int, int]] = set()

    def rewrite(self, source: pikepdf.Stream) -> NewImage | None:
        """The image decoded and encoded anew, or None (and a finding) when it is not written."""
        if source.objgen in self._refused:
            return None
        try:
            return self._rewrite(source)
        except _Removed as removed:
            self.note(FINDING, str(removed))
            if source.objgen != (0, 0):
                self._refused.add(source.objgen)
            return None

    def _rewrite(self, source: pikepdf.Stream) -> NewImage:
        width, height = _size(source)
        chain = _chain(source)
        codec, parms = chain[-1] if chain and chain[-1][0] in CODECS else ("", None)
        mask = _true(source.get("/ImageMask"))
        declared = 1 if mask else components(source.get("/ColorSpace"))
        if codec == "/JPXDecode":
            if mask:
                raise _Removed("a JPEG 2000 stencil mask")
            if width * height * 5 > MAX_SAMPLE_BYTES:
                raise _Removed(f"an image of {width}x{height} pixels, over the limit")
            return _jpx(self.target, _general(source, chain, MAX_SAMPLE_BYTES), source, declared, width, height)
        bits = 1 if mask and "/BitsPerComponent" not in source else _number(source.get("/BitsPerComponent"))
        if declared is None or bits not in BITS or (mask and bits != 1):
            raise _Removed("an image whose colours cannot be read")
        layout = _Layout(width, height, declared, bits)
        if layout.size > MAX_SAMPLE_BYTES:
            raise _Removed(f"an image of {width}x{height} pixels, over the limit")
        if codec == "/DCTDecode":
            if bits != 8:
                raise _Removed("a JPEG image that does not say 8 bits")
            stream = pikepdf.Stream(self.target, _jpeg(_general(source, chain, MAX_SAMPLE_BYTES), parms, width, height,
                                                       declared))
            stream["/Filter"] = Name.DCTDecode
            return NewImage(stream, {"/BitsPerComponent": 8})
        if codec in ("/CCITTFaxDecode", "/JBIG2Decode"):
            if layout.components != 1 or layout.bits != 1:
                raise _Removed("a black and white image whose dictionary says otherwise")
            data = _general(source, chain, MAX_SAMPLE_BYTES)
            samples = (_bilevel(_fax_tiff(data, width, height, parms), layout, "a fax image")
                       if codec == "/CCITTFaxDecode" else _jbig2(data, parms, layout))
            return NewImage(_flate(self.target, samples), {"/BitsPerComponent": 1})
        samples = _general(source, chain, 2 * layout.size + (1 << 20))  # a little beyond is cut off below
        if len(samples) < layout.size:
            raise _Removed("an image with fewer samples than its size needs")
        return NewImage(_flate(self.target, memoryview(samples)[:layout.size]))
