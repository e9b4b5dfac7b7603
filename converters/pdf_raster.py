"""PDF rasterisation, the sandboxed half: render every page with PDFium into a frames file.

No form environment is initialised, so no PDF JavaScript can run while rendering. The trusted
side (``converters.raster_pdf``) validates the pixels and builds the output PDF from them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pypdfium2 as pdfium

from converters.base import (
    RASTER_FRAMES_TYPE,
    Conversion,
    Converter,
    ConvertRequest,
    Finding,
    Output,
)
from converters.errors import CorruptFile, PasswordProtected, TooManyPages
from converters.frames import frame_from_image, write_frame, write_header


def open_document(src: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(src))
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium.raw.FPDF_ERR_PASSWORD, pdfium.raw.FPDF_ERR_SECURITY):
            raise PasswordProtected("the PDF is password-protected and cannot be inspected") from exc
        raise CorruptFile("the PDF is damaged and cannot be rendered") from exc


def render_to_frames(document: pdfium.PdfDocument, target: Path, request: ConvertRequest) -> list[Finding]:
    """Render all pages of ``document`` into the frames file ``target``."""
    limits = request.limits
    page_count = len(document)
    if page_count > limits.max_pages:
        raise TooManyPages(f"the document has more than {limits.max_pages} pages")
    if page_count == 0:
        raise CorruptFile("the document has no pages")
    findings: list[Finding] = []
    with target.open("wb") as stream:
        write_header(stream)
        for index in range(page_count):
            page = document[index]
            try:
                width_pt, height_pt = page.get_size()
                scale = limits.raster_dpi / 72
                pixels = (width_pt * scale) * (height_pt * scale)
                if pixels > limits.max_image_pixels:
                    scale *= math.sqrt(limits.max_image_pixels / pixels) * 0.999
                    findings.append(Finding("raster_page_downscaled", f"page {index + 1}"))
                bitmap = page.render(scale=scale, rev_byteorder=True)
                write_frame(stream, frame_from_image(bitmap.to_pil(), width_pt, height_pt))
                bitmap.close()
            except pdfium.PdfiumError as exc:
                raise CorruptFile(f"page {index + 1} cannot be rendered") from exc
            finally:
                page.close()
    return findings


class PdfRasterConverter(Converter):
    name = "pdf-rasterize"
    input_types = frozenset({"application/pdf"})

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        document = open_document(src)
        try:
            name = f"{request.stem}.frames"
            findings = render_to_frames(document, out_dir / name, request)
        finally:
            document.close()
        findings.insert(0, Finding("rasterized", "every page re-drawn as pixels"))
        return Conversion("sanitized", [Output(name, RASTER_FRAMES_TYPE)], findings)
