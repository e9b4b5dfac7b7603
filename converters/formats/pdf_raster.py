"""PDF rasterisation, the sandboxed half: render every page with PDFium and stream the pixels
to the trusted side (``gateway.pipeline.raster_pdf``), which validates them and builds the PDF.

No form environment is initialised, so no PDF JavaScript can run while rendering. A page whose
quarter-scale preview has no colour is rendered in grey (a third of the pixels to move).
"""

from __future__ import annotations

import math
from pathlib import Path

import pypdfium2 as pdfium

from converters.base import RASTER_FRAMES_TYPE, Conversion, Converter, ConvertRequest, Finding, Output
from converters.errors import CorruptFile, PasswordProtected, TooManyPages
from converters.protocol import Frame, FrameWriter


def open_document(src: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(src))
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium.raw.FPDF_ERR_PASSWORD, pdfium.raw.FPDF_ERR_SECURITY):
            raise PasswordProtected("the PDF is password-protected and cannot be inspected") from exc
        raise CorruptFile("the PDF is damaged and cannot be rendered") from exc


def _is_grey(page: pdfium.PdfPage, scale: float) -> bool:
    preview = page.render(scale=scale / 4, rev_byteorder=True).to_pil().convert("RGB").tobytes()
    return bool(preview[0::3] == preview[1::3] == preview[2::3])


def render_page(page: pdfium.PdfPage, scale: float) -> Frame:
    width_pt, height_pt = page.get_size()
    if _is_grey(page, scale):
        image = page.render(scale=scale, grayscale=True).to_pil().convert("L")
        return Frame(image.width, image.height, 1, width_pt, height_pt, image.tobytes())
    image = page.render(scale=scale, rev_byteorder=True).to_pil().convert("RGB")
    return Frame(image.width, image.height, 3, width_pt, height_pt, image.tobytes())


def render_document(document: pdfium.PdfDocument, writer: FrameWriter, path: str,
                    request: ConvertRequest) -> list[Finding]:
    """Stream every page of ``document`` as the rasterised document ``path``."""
    limits = request.limits
    page_count = len(document)
    if page_count > limits.max_pages:
        raise TooManyPages(f"the document has more than {limits.max_pages} pages")
    if page_count == 0:
        raise CorruptFile("the document has no pages")
    findings: list[Finding] = []
    writer.begin(path)
    for index in range(page_count):
        page = document[index]
        try:
            width_pt, height_pt = page.get_size()
            scale = limits.raster_dpi / 72
            pixels = (width_pt * scale) * (height_pt * scale)
            if pixels > limits.max_image_pixels:
                scale *= math.sqrt(limits.max_image_pixels / pixels) * 0.999
                findings.append(Finding("raster_page_downscaled", f"page {index + 1}"))
            writer.page(render_page(page, scale))
        except pdfium.PdfiumError as exc:
            raise CorruptFile(f"page {index + 1} cannot be rendered") from exc
        finally:
            page.close()
    writer.end()
    return findings


class PdfRasterConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        if request.frames is None:
            raise CorruptFile("rasterising needs a frame channel", code="converter_error")
        document = open_document(src)
        name = f"{request.stem}.pdf"
        try:
            path = f"{request.rel_dir}/{name}".lstrip("/")
            findings = render_document(document, request.frames, path, request)
        finally:
            document.close()
        findings.insert(0, Finding("rasterized", "every page re-drawn as pixels"))
        return Conversion("sanitized", [Output(name, RASTER_FRAMES_TYPE)], findings)
