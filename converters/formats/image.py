"""Raster images: decode under a pixel cap, re-encode, drop metadata and anything after the image.

JPEG keeps its quantisation tables (no visible quality loss), PNG, GIF (all frames), BMP and TIFF
(all pages) keep their format; WebP becomes PNG, which every LGWAN-side viewer opens. EXIF
orientation is applied to the pixels before EXIF is dropped, so photos do not turn sideways.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.errors import CorruptFile, DecompressionBomb

# detected type -> (Pillow format expected, output format, output mime, output extension)
FORMATS: dict[str, tuple[str, str, str, str]] = {
    "image/jpeg": ("JPEG", "JPEG", "image/jpeg", "jpg"),
    "image/png": ("PNG", "PNG", "image/png", "png"),
    "image/gif": ("GIF", "GIF", "image/gif", "gif"),
    "image/bmp": ("BMP", "BMP", "image/bmp", "bmp"),
    "image/tiff": ("TIFF", "TIFF", "image/tiff", "tif"),
    "image/webp": ("WEBP", "PNG", "image/png", "png"),
}
METADATA_KEYS = ("exif", "xmp", "icc_profile", "comment", "photoshop", "adobe", "XML:com.adobe.xmp")


def png_end(data: bytes) -> int | None:
    """Offset just after a PNG's IEND chunk, or None when the chunk walk fails."""
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind = data[position + 4:position + 8]
        position += 12 + length
        if kind == b"IEND":
            return position
    return None


def jpeg_end(data: bytes) -> int | None:
    """Offset just after a baseline/progressive JPEG's EOI marker, or None if not found."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xD9:
            return position + 2
        if marker in (0x01, *range(0xD0, 0xD8)) or marker == 0xFF:
            position += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        position += 2 + length
        if marker == 0xDA:  # entropy-coded data follows: skip to the next real marker
            while position + 1 < len(data):
                if data[position] == 0xFF and data[position + 1] not in (0x00, *range(0xD0, 0xD8)):
                    break
                position += 1
    return None


def trailing_bytes(src: Path, detected: str) -> int:
    data = src.read_bytes()
    end = png_end(data) if detected == "image/png" else jpeg_end(data) if detected == "image/jpeg" else None
    return 0 if end is None else max(0, len(data) - end)


# what Pillow raises on a damaged image: OSError (truncated or broken data), SyntaxError and
# ValueError (malformed headers), TypeError (a TIFF without its required tags, "Missing
# dimensions"), EOFError (a frame that is not there when the frames are counted), IndexError and
# struct.error (a GIF block cut short, read by GifImagePlugin without a length check)
PILLOW_DAMAGE = (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, struct.error)
GIF_MAX_SIDE = 65535  # a GIF's canvas is 16-bit wide and high; Pillow grows it for a frame placed beyond
# the longest delay a frame's field holds: GIF in hundredths of a second (16 bits), APNG as
# Pillow writes it, in milliseconds over 1000 (16 bits)
MAX_FRAME_MS = {"GIF": 655_350, "PNG": 65_535}


def open_checked(src: Path, expected_format: str, limits_pixels: int, max_frames: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(src)
    except UnidentifiedImageError as exc:
        raise CorruptFile("the image is damaged or not a supported image") from exc
    except PILLOW_DAMAGE as exc:
        raise CorruptFile("the image's header is damaged") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBomb("the image declares more pixels than allowed") from exc
    if image.format != expected_format:
        raise CorruptFile(f"the image content is {image.format}, not {expected_format}")
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > limits_pixels:
        raise DecompressionBomb(f"the image is {width}x{height} pixels, over the limit")
    try:
        frames = getattr(image, "n_frames", 1)
    except PILLOW_DAMAGE as exc:
        image.close()
        raise CorruptFile("a frame of the image is damaged or cut short") from exc
    if frames > max_frames or frames * width * height > limits_pixels * 4:
        raise DecompressionBomb(f"the image has {frames} frames, over the limit")
    return image


def _without_metadata(image: Image.Image) -> Image.Image:
    """Pillow writes what ``info`` holds (ICC profiles, comments, EXIF); a copy holds no TIFF tags."""
    image.info = {}
    return image


class ImageConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        expected, out_format, out_mime, out_ext = FORMATS[request.detected_type]
        limits = request.limits
        Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
        findings: list[Finding] = []
        image = open_checked(src, expected, limits.max_image_pixels, limits.max_image_frames)
        with image:
            removed = [key for key in METADATA_KEYS if image.info.get(key)]
            if any(isinstance(v, str) for k, v in image.info.items() if k not in METADATA_KEYS
                   and k not in ("dpi", "transparency", "duration", "loop", "background")):
                removed.append("text")
            if removed:
                findings.append(Finding("image_metadata_removed", ",".join(sorted(set(removed)))))
            extra = trailing_bytes(src, request.detected_type)
            if extra:
                findings.append(Finding("image_trailing_data_removed", f"{extra} bytes after the image"))
            name = f"{request.stem}.{out_ext}"
            try:
                self._write(image, out_dir / name, out_format, limits.max_image_pixels)
            except Image.DecompressionBombError as exc:  # a later frame, checked by Pillow when it is reached
                raise DecompressionBomb("a frame of the image declares more pixels than allowed") from exc
            except PILLOW_DAMAGE as exc:
                raise CorruptFile("the image data is damaged or cut short and cannot be decoded") from exc
        outcome: Outcome = "sanitized" if extra else "passed"
        return Conversion(outcome, [Output(name, out_mime)], findings)

    def _write(self, image: Image.Image, target: Path, out_format: str, max_pixels: int) -> None:
        frames = getattr(image, "n_frames", 1)
        options: dict[str, Any] = {}
        if out_format == "JPEG":
            options["qtables"] = getattr(image, "quantization", None) or None
            options["subsampling"] = JpegImagePlugin.get_sampling(image)
            if options["subsampling"] == -1:
                del options["subsampling"]
            if options["qtables"] is None:
                options["quality"] = 90
        if "transparency" in image.info and out_format in ("PNG", "GIF"):
            options["transparency"] = image.info["transparency"]
        if frames > 1 and out_format in ("GIF", "TIFF", "PNG"):
            pages = []
            durations = []
            total = 0
            for index in range(frames):
                image.seek(index)
                # a later frame may declare a larger canvas than the first (GIF, APNG): each is
                # checked before it is decoded - Pillow itself refuses only at twice its limit
                pixels = image.size[0] * image.size[1]
                total += pixels
                if pixels > max_pixels or total > max_pixels * 4:
                    raise DecompressionBomb(f"frame {index + 1} of the image makes it larger than allowed "
                                            f"({image.size[0]}x{image.size[1]} pixels)")
                if out_format == "GIF" and max(image.size) > GIF_MAX_SIDE:  # a frame placed past the canvas
                    raise CorruptFile(f"frame {index + 1} lies outside what a GIF can hold "
                                      f"({image.size[0]}x{image.size[1]} pixels)")
                pages.append(_without_metadata(image.copy()))
                delay = max(int(image.info.get("duration", 100)), 0)
                durations.append(min(delay, MAX_FRAME_MS.get(out_format, delay)))
            if out_format in ("GIF", "PNG"):
                options.update(duration=durations, loop=int(image.info.get("loop", 0)))
            if out_format == "TIFF":
                options["compression"] = "tiff_deflate"
            try:
                pages[0].save(target, out_format, save_all=True, append_images=pages[1:], **options)
            except OverflowError as exc:  # Pillow adds up the delays of identical frames it joins
                raise CorruptFile("the animation's frame delays add up to more than the format can hold") from exc
            return
        image.load()
        if out_format == "GIF" and max(image.size) > GIF_MAX_SIDE:  # the frame was placed past the canvas
            raise CorruptFile(f"the image lies outside what a GIF can hold ({image.size[0]}x{image.size[1]} pixels)")
        clean = _without_metadata(ImageOps.exif_transpose(image) if out_format == "JPEG" else image.copy())
        if out_format == "TIFF":
            options["compression"] = "tiff_deflate"
        if clean.mode == "P" and out_format == "BMP" and "transparency" in image.info:
            clean = clean.convert("RGBA")
        clean.save(target, out_format, **options)
