"""Content streams (pages, form XObjects, Type 3 glyphs, tiling patterns) written anew from their
operators: each is parsed as a reader parses it (qpdf's content-stream parser, through pikepdf) and
only the operators of ISO 32000-2 Annex A (table A.1) are written back, with their operands;
``PS`` (PostScript passed to a printer), compatibility sections (``BX``/``EX``: whatever they hold
that is not an operator of the table goes anyway) and anything unknown are left out. An inline
image stays only with the filters an inline image may use (8.9.7: no JBIG2, no JPX), written by its
own dictionary; fax and JPEG data are decoded and written anew (``pdf_images.inline_image``). No
byte of the input's stream goes through as it was: the operators and operands are written by
pikepdf's unparser. A stream that cannot be parsed is not written (the caller says so)."""

from __future__ import annotations

import pikepdf

from converters.formats.pdf_images import inline_image

OPERATORS = frozenset({
    "b", "B", "b*", "B*", "BDC", "BMC", "BT", "c", "cm", "CS", "cs", "d", "d0", "d1", "Do", "DP", "EMC", "ET",
    "f", "F", "f*", "G", "g", "gs", "h", "i", "j", "J", "K", "k", "l", "m", "M", "MP", "n", "q", "Q", "re", "RG",
    "rg", "ri", "s", "S", "SC", "sc", "SCN", "scn", "sh", "T*", "Tc", "Td", "TD", "Tf", "Tj", "TJ", "TL", "Tm",
    "Tr", "Ts", "Tw", "Tz", "v", "w", "W", "W*", "y", "'", '"'})
INLINE_FILTERS = frozenset({
    "/AHx", "/A85", "/LZW", "/Fl", "/RL", "/CCF", "/DCT", "/ASCIIHexDecode", "/ASCII85Decode", "/LZWDecode",
    "/FlateDecode", "/RunLengthDecode", "/CCITTFaxDecode", "/DCTDecode"})
MAX_INSTRUCTIONS = 2_000_000  # a page of dense text is a few tens of thousands


def _inline_image_allowed(image: pikepdf.PdfInlineImage) -> bool:
    details = image.obj
    filters = details.get("/F", details.get("/Filter"))
    listed = list(filters) if isinstance(filters, pikepdf.Array) else [] if filters is None else [filters]
    return all(isinstance(item, pikepdf.Name) and str(item) in INLINE_FILTERS for item in listed)


def content_program(data: bytes) -> bytes | None:
    """The content stream ``data`` (decoded) written anew from its allowed operators, or None when it
    cannot be parsed."""
    with pikepdf.new() as scratch:
        try:
            instructions = pikepdf.parse_content_stream(pikepdf.Stream(scratch, data))
        except (pikepdf.PdfError, ValueError, TypeError, RuntimeError):
            return None
        if len(instructions) > MAX_INSTRUCTIONS:
            return None
        kept: list[pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage] = []
        for instruction in instructions:
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                # fax and JPEG data decoded and written anew (pdf_images); None: it does not decode
                image = inline_image(instruction, scratch) if _inline_image_allowed(instruction.iimage) else None
                if image is not None:
                    kept.append(image)
            elif str(instruction.operator) in OPERATORS:
                kept.append(instruction)
        try:
            return pikepdf.unparse_content_stream(kept)
        except (pikepdf.PdfError, ValueError, TypeError, RuntimeError):
            return None
