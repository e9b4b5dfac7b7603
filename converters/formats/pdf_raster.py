"""PDF rasterisation, the sandboxed half: render every page with PDFium and stream the pixels
to the trusted side (``gateway.pipeline.raster_pdf``), which validates them and builds the PDF.

No form environment is initialised, so no PDF JavaScript can run while rendering. PDFium then
draws a form field only from its stored appearance, which many form fillers (LibreOffice's export
among them) leave empty for the reader to fill in: a document with form fields is first rebuilt
(``converters.formats.pdf``, which flattens the fields and draws their values), and the rebuilt
document is rendered; if the rebuild refuses it, the original is rendered as before. A page whose
quarter-scale preview has no colour is rendered in grey (a third of the pixels to move).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from converters.base import RASTER_FRAMES_TYPE, Conversion, Converter, ConvertRequest, Finding, Output
from converters.errors import ConverterError, CorruptFile, PasswordProtected, TooManyPages
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


def has_form_fields(src: Path) -> bool:
    """Whether the document's catalog lists interactive form fields (read with pikepdf, as the rebuild will)."""
    try:
        with pikepdf.open(src) as pdf:
            form = pdf.Root.get("/AcroForm")
            fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
            return isinstance(fields, pikepdf.Array) and len(fields) > 0
    except (pikepdf.PdfError, pikepdf.PasswordError, RuntimeError, ValueError, TypeError):
        return False  # PDFium may still render what qpdf cannot read: the original is rendered


def flattened_copy(src: Path, scratch: Path, request: ConvertRequest) -> tuple[Path, list[Finding]] | None:
    """The rebuilt document (fields flattened, their values drawn) and what the rebuild found, or None
    when the rebuild refuses the file."""
    from converters.formats.pdf import PdfRebuildConverter  # pikepdf's work, only for forms

    try:
        rebuilt = PdfRebuildConverter().convert(src, scratch, replace(request, stem="flattened", frames=None))
    except ConverterError:
        return None
    return scratch / rebuilt.outputs[0].path, list(rebuilt.findings)


def what_to_render(src: Path, scratch: Path, request: ConvertRequest) -> tuple[Path, list[Finding]]:
    """``src``, or its flattened rebuild when it has form fields (with the rebuild's form finding)."""
    flattened = flattened_copy(src, scratch, request) if has_form_fields(src) else None
    if flattened is None:
        return src, []
    return flattened[0], [f for f in flattened[1] if f.code == "pdf_form_flattened"]


class PdfRasterConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        if request.frames is None:
            raise CorruptFile("rasterising needs a frame channel", code="converter_error")
        with tempfile.TemporaryDirectory(prefix="raster-") as scratch:
            rendered, form_findings = what_to_render(src, Path(scratch), request)
            document = open_document(rendered)
            name = f"{request.stem}.pdf"
            try:
                path = f"{request.rel_dir}/{name}".lstrip("/")
                findings = render_document(document, request.frames, path, request)
            finally:
                document.close()
        findings[:0] = [Finding("rasterized", "every page re-drawn as pixels"), *form_findings]
        return Conversion("sanitized", [Output(name, RASTER_FRAMES_TYPE)], findings)
