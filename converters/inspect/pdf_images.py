"""The inspector's check of a PDF output's pictures (written apart from the rebuild, sharing nothing with it).

The rebuild writes every picture from pixels it decoded itself: lossless samples as Flate, photographs
as JPEG (DCT) made by Pillow. So in an output an image stream (/Subtype /Image, or a stream with a
/Width and a /Height: a soft mask may be untyped) uses no filter but /FlateDecode and /DCTDecode, a
JPEG stands alone (no filter around it) and decodes with Pillow to the /Width and /Height its
dictionary gives, and no stream at all carries JBIG2, JPEG 2000 or CCITT fax data or JBIG2 shared
segments (/JBIG2Globals): the decoders attackers aim at (CVE-2009-0658, CVE-2021-30860) get nothing.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

IMAGE_FILTERS = frozenset({"/FlateDecode", "/DCTDecode"})
NEVER = frozenset({"/JBIG2Decode", "/JPXDecode", "/CCITTFaxDecode"})
MAX_PIXELS = 100_000_000  # a JPEG of more is not decoded here (none the rebuild writes is larger)


def _written(value: Any) -> str:
    import pikepdf

    return value.unparse().decode("latin-1") if isinstance(value, pikepdf.Name) else "not a name"


def image_problems(obj: Any, filters: list[Any]) -> list[str]:
    """What is wrong with the stream ``obj`` (its /Filter given as ``filters``) as a picture of an output."""
    import pikepdf

    names = [_written(item) for item in filters]
    problems = [f"pdf_image_codec {name}" for name in names if name in NEVER]
    parms = obj.get("/DecodeParms")
    for item in list(parms) if isinstance(parms, pikepdf.Array) else [parms]:
        if isinstance(item, pikepdf.Dictionary) and "/JBIG2Globals" in item:
            problems.append("pdf_image_codec /JBIG2Globals")
    if not (_written(obj.get("/Subtype")) == "/Image" or ("/Width" in obj and "/Height" in obj)):
        if "/DCTDecode" in names:  # a JPEG that is no picture (a function, a profile ...): pdf.js and poppler
            problems.append("pdf_image_codec /DCTDecode outside a picture")  # decode it all the same
        return problems
    if any(name not in IMAGE_FILTERS for name in names):
        problems.append(f"pdf_image_filter {' '.join(names)}")
    elif "/DCTDecode" in names:
        problems.extend(_jpeg(obj, names))
    return problems


def inline_image_problems(content: Any) -> list[str]:
    """What is wrong with the inline images (BI ... ID ... EI) of ``content`` (a content stream, or a page
    for its contents): the rebuild writes each one's data anew in ASCII hex (no byte a reader could take
    for EI), a JPEG made by Pillow the only codec inside it."""
    import pikepdf

    try:
        instructions = pikepdf.parse_content_stream(content)
    except (pikepdf.PdfError, ValueError, TypeError, RuntimeError):
        return ["pdf_image_inline a content stream that does not parse"]
    problems: list[str] = []
    for instruction in instructions:
        if not isinstance(instruction, pikepdf.ContentStreamInlineImage):
            continue
        details = instruction.iimage.obj
        filters = details.get("/Filter")
        names = [_written(item) for item in (filters if isinstance(filters, pikepdf.Array) else
                                             [] if filters is None else [filters])]
        raw = instruction.iimage.read_raw_bytes()
        if names not in (["/ASCIIHexDecode"], ["/ASCIIHexDecode", "/DCTDecode"]) \
                or re.fullmatch(rb"[0-9A-Fa-f\s]*>\s*", raw) is None:
            problems.append(f"pdf_image_inline data not written anew ({' '.join(names) or 'no filter'})")
        elif names[-1] == "/DCTDecode":
            digits = re.sub(rb"[\s>]", b"", raw)
            problems.extend(_jpeg_data(bytes.fromhex(digits.decode("ascii") + "0" * (len(digits) % 2)),
                                       details.get("/Width"), details.get("/Height")))
    return problems


def _jpeg(obj: Any, names: list[str]) -> list[str]:
    if names != ["/DCTDecode"]:
        return ["pdf_image_filter a JPEG inside another filter"]
    return _jpeg_data(obj.read_raw_bytes(), obj.get("/Width"), obj.get("/Height"))


def _jpeg_data(data: bytes, width: Any, height: Any) -> list[str]:
    from PIL import Image

    if not (isinstance(width, int) and isinstance(height, int) and 0 < width * height <= MAX_PIXELS):
        return ["pdf_image_jpeg without a size within limits"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.format not in ("JPEG", "MPO") or picture.size != (width, height):
                return [f"pdf_image_jpeg not a JPEG of {width}x{height}"]
            picture.load()
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, Image.DecompressionBombError):
        return ["pdf_image_jpeg does not decode"]
    return []
