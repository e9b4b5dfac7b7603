"""Images of the rebuilt PDF written anew from their pixels: no byte of the input's image data goes out.

Every image stream the rebuild writes (an image XObject, its soft mask, its stencil mask) is decoded
here to its samples, as a reader decodes it, and encoded again: lossless samples as /FlateDecode
(no parameters), photographs that came as DCT (JPEG) as DCT written by Pillow with the input's own
quantisation tables and subsampling (``quality="keep"``: no visible loss, about the input's size;
quality 92 when those cannot be kept). So JBIG2 (CVE-2009-0658, CVE-2021-30860), JPEG 2000, CCITT
fax and JPEG bytes written by an attacker never reach a reader's image decoder: only Flate and
JPEG data we wrote do.

The decoders are ``pdf_image_codecs``. The image's meaning stays: size, bits per component,
colour space (copied by ``pdf_copy``),
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

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image

from converters.base import Limits
from converters.formats.pdf_active import name_of
from converters.formats.pdf_image_codecs import (
    GENERAL_FILTERS,
    MAX_SAMPLE_BYTES,
    ImageLayout,
    ImageRemoved,
    bilevel_samples,
    fax_as_tiff,
    is_true,
    jbig2_samples,
    jpeg_anew,
    opened,
    pillow_errors,
    undo_general_filters,
    whole_number,
)

MAX_PIXELS = Limits().max_image_pixels  # the default of the limit every other image is held to
FLATE_LEVEL = 6
CODECS = frozenset({"/DCTDecode", "/JPXDecode", "/CCITTFaxDecode", "/JBIG2Decode"})
DEVICE_COMPONENTS = {"/DeviceGray": 1, "/DeviceRGB": 3, "/DeviceCMYK": 4}
FAMILY_COMPONENTS = {"/CalGray": 1, "/CalRGB": 3, "/Lab": 3, "/Indexed": 1, "/Separation": 1}
BITS = frozenset({1, 2, 4, 8, 16})
# a decoded JPEG 2000 mode with no colour space in the dictionary: the colour space, the colour bands
JPX_MODES: dict[str, tuple[str, str]] = {"L": ("/DeviceGray", "L"), "LA": ("/DeviceGray", "L"),
                                         "RGB": ("/DeviceRGB", "RGB"), "RGBA": ("/DeviceRGB", "RGB"),
                                         "CMYK": ("/DeviceCMYK", "CMYK")}
# what an inline image's dictionary keeps (ISO 32000-2 table 91, its data's coding written anew)
INLINE_KEYS = frozenset({"/Width", "/Height", "/ColorSpace", "/BitsPerComponent", "/ImageMask", "/Decode",
                         "/Interpolate", "/Intent"})
MAX_INLINE_BYTES = 16 * 1024 * 1024  # decoded; "should not exceed 4 KB" (8.9.7), scanners write a page or two
Note = Callable[[str, str], None]
FINDING = "pdf_image_removed"


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
        count = whole_number(space[1].get("/N"))
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
            raise ImageRemoved("an image with a filter that is not a standard one")
        chain.append((name, given[index] if index < len(given) else None))
    if any(name in CODECS for name, _ in chain[:-1]):
        raise ImageRemoved("an image whose codec is not its last filter")
    return chain


def _flate(target: pikepdf.Pdf, samples: bytes | memoryview) -> pikepdf.Stream:
    stream = pikepdf.Stream(target, zlib.compress(samples, FLATE_LEVEL))
    stream["/Filter"] = Name.FlateDecode
    return stream


def _jpx(target: pikepdf.Pdf, data: bytes, source: pikepdf.Stream, declared: int | None,
         width: int, height: int) -> NewImage:
    """A JPEG 2000 image: its samples in the dictionary's colour space (or its own), alpha apart."""
    alpha_wanted = whole_number(source.get("/SMaskInData")) in (1, 2)
    with pillow_errors("a JPEG 2000 image"):
        image = opened(data, ImageLayout(width, height, 1, 8), "a JPEG 2000 image")
        if image.mode in ("P", "PA"):
            if declared is not None:
                raise ImageRemoved("a JPEG 2000 image with a palette and a colour space of its dictionary")
            image = image.convert("RGBA" if image.mode == "PA" else image.palette.mode if image.palette else "RGB")
        bands = image.getbands()
        alpha = image.getchannel("A") if "A" in bands else None
        settings: dict[str, object] = {"/Decode": None, "/BitsPerComponent": 8}
        if image.mode.startswith("I;16"):
            if declared not in (None, 1):
                raise ImageRemoved("a JPEG 2000 image whose colours are not the ones its dictionary gives")
            samples = image.tobytes("raw", "I;16B")
            settings.update({"/BitsPerComponent": 16, "/ColorSpace": Name.DeviceGray})
        elif declared is None:
            if image.mode not in JPX_MODES:
                raise ImageRemoved("a JPEG 2000 image of an unknown kind")
            space, colour = JPX_MODES[image.mode]
            samples = (image.convert(colour) if image.mode != colour else image).tobytes()
            settings["/ColorSpace"] = Name(space)
        else:
            channels = [image.getchannel(band) for band in bands]
            if len(channels) == declared + 1 and alpha is not None:
                channels = [channel for band, channel in zip(bands, channels, strict=True) if band != "A"]
            if len(channels) != declared:
                raise ImageRemoved("a JPEG 2000 image whose colours are not the ones its dictionary gives")
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


def _size(details: pikepdf.Object, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    width, height = whole_number(details.get("/Width")), whole_number(details.get("/Height"))
    if width is None or height is None or width <= 0 or height <= 0:
        raise ImageRemoved("an image without a size")
    if width * height > max_pixels:
        raise ImageRemoved(f"an image of {width}x{height} pixels, over the limit")
    return width, height


def _inline_samples(data: bytes, details: pikepdf.Object, width: int, height: int) -> bytes:
    """An inline image's samples (its general filters undone) cut to its size, when its colour space
    says how many components a sample has; all of them when it names one of the page's resources."""
    mask = is_true(details.get("/ImageMask"))
    bits = 1 if mask and "/BitsPerComponent" not in details else whole_number(details.get("/BitsPerComponent"))
    if bits not in BITS or (mask and bits != 1):
        raise ImageRemoved("an image whose colours cannot be read")
    space = details.get("/ColorSpace")
    count = 1 if mask else components(space)
    if count is None:
        if not isinstance(space, Name):
            raise ImageRemoved("an image whose colours cannot be read")
        return data
    layout = ImageLayout(width, height, count, bits)
    if len(data) < layout.size:
        raise ImageRemoved("an image with fewer samples than its size needs")
    return data[:layout.size]


def inline_image(instruction: pikepdf.ContentStreamInlineImage,
                 scratch: pikepdf.Pdf) -> pikepdf.ContentStreamInlineImage | None:
    """An inline image (BI ... ID ... EI) decoded and written anew in ASCII hex (no binary byte a
    reader could take for EI): its samples, fax data as its samples, JPEG by Pillow; its dictionary
    only with the keys of INLINE_KEYS. None when it does not decode. Inline images are small by rule
    (ISO 32000-2 8.9.7): more than MAX_INLINE_BYTES decoded is not written."""
    image = instruction.iimage
    details = image.obj
    try:
        chain = _chain(details)
        codec, parms = chain[-1] if chain and chain[-1][0] in CODECS else ("", None)
        if codec not in ("", "/CCITTFaxDecode", "/DCTDecode"):
            return None
        width, height = _size(details)
        data = undo_general_filters(pikepdf.Stream(scratch, image.read_raw_bytes()), chain, MAX_INLINE_BYTES)
        if codec == "/DCTDecode":
            space = details.get("/ColorSpace")  # a name of the page's resources is not known here
            encoded = jpeg_anew(data, parms, width, height, DEVICE_COMPONENTS.get(name_of(space)))
            filters = Array([Name.ASCIIHexDecode, Name.DCTDecode])
        elif codec == "/CCITTFaxDecode":
            if whole_number(details.get("/BitsPerComponent", 1)) != 1:
                raise ImageRemoved("a black and white image whose dictionary says otherwise")
            layout = ImageLayout(width, height, 1, 1)
            encoded = bilevel_samples(fax_as_tiff(data, width, height, parms), layout, "a fax image")
            filters = Array([Name.ASCIIHexDecode])
        else:
            encoded = _inline_samples(data, details, width, height)
            filters = Array([Name.ASCIIHexDecode])
    except ImageRemoved:
        return None
    kept = Dictionary({key: value for key, value in details.items() if key in INLINE_KEYS})
    kept["/Filter"] = filters
    written = b"BI " + kept.unparse()[2:-2] + b" ID " + encoded.hex().encode("ascii") + b"> EI"
    parsed = pikepdf.parse_content_stream(pikepdf.Stream(scratch, written))
    return parsed[0] if len(parsed) == 1 and isinstance(parsed[0], pikepdf.ContentStreamInlineImage) else None


class ImageWriter:
    """Writes the rebuilt document's image streams (``pdf_copy`` calls ``rewrite`` for each)."""

    def __init__(self, target: pikepdf.Pdf, note: Note, max_pixels: int = MAX_PIXELS) -> None:
        self.target = target
        self.note = note
        self.max_pixels = max_pixels  # the operator's image limit (Limits.max_image_pixels)
        self._refused: set[tuple[int, int]] = set()

    def rewrite(self, source: pikepdf.Stream) -> NewImage | None:
        """The image decoded and encoded anew, or None (and a finding) when it is not written."""
        if source.objgen in self._refused:
            return None
        try:
            return self._rewrite(source)
        except ImageRemoved as removed:
            self.note(FINDING, str(removed))
            if source.objgen != (0, 0):
                self._refused.add(source.objgen)
            return None

    def _rewrite(self, source: pikepdf.Stream) -> NewImage:
        width, height = _size(source, self.max_pixels)
        chain = _chain(source)
        codec, parms = chain[-1] if chain and chain[-1][0] in CODECS else ("", None)
        mask = is_true(source.get("/ImageMask"))
        declared = 1 if mask else components(source.get("/ColorSpace"))
        if codec == "/JPXDecode":
            if mask:
                raise ImageRemoved("a JPEG 2000 stencil mask")
            if width * height * 5 > MAX_SAMPLE_BYTES:
                raise ImageRemoved(f"an image of {width}x{height} pixels, over the limit")
            data = undo_general_filters(source, chain, MAX_SAMPLE_BYTES)
            return _jpx(self.target, data, source, declared, width, height)
        bits = 1 if mask and "/BitsPerComponent" not in source else whole_number(source.get("/BitsPerComponent"))
        if declared is None or bits not in BITS or (mask and bits != 1):
            raise ImageRemoved("an image whose colours cannot be read")
        layout = ImageLayout(width, height, declared, bits)
        if layout.size > MAX_SAMPLE_BYTES:
            raise ImageRemoved(f"an image of {width}x{height} pixels, over the limit")
        if codec == "/DCTDecode":
            if bits != 8:
                raise ImageRemoved("a JPEG image that does not say 8 bits")
            data = undo_general_filters(source, chain, MAX_SAMPLE_BYTES)
            stream = pikepdf.Stream(self.target, jpeg_anew(data, parms, width, height, declared))
            stream["/Filter"] = Name.DCTDecode
            return NewImage(stream, {"/BitsPerComponent": 8})
        if codec in ("/CCITTFaxDecode", "/JBIG2Decode"):
            if layout.components != 1 or layout.bits != 1:
                raise ImageRemoved("a black and white image whose dictionary says otherwise")
            data = undo_general_filters(source, chain, MAX_SAMPLE_BYTES)
            samples = (bilevel_samples(fax_as_tiff(data, width, height, parms), layout, "a fax image")
                       if codec == "/CCITTFaxDecode" else jbig2_samples(data, parms, layout))
            return NewImage(_flate(self.target, samples), {"/BitsPerComponent": 1})
        samples = undo_general_filters(source, chain, 2 * layout.size + (1 << 20))  # a little beyond is cut off below
        if len(samples) < layout.size:
            raise ImageRemoved("an image with fewer samples than its size needs")
        return NewImage(_flate(self.target, memoryview(samples)[:layout.size]))
