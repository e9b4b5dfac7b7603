"""A streaming writer for image-only PDFs: each page (one image XObject and a content stream that
draws it) is written as soon as it is encoded, so memory holds one page at a time however long
the document. Only what this module writes ever goes into the file; the result is re-read by the
independent inspector (pikepdf/qpdf) before it leaves."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from converters.errors import FileTooLarge

CATALOG, PAGES = 1, 2


class ImagePdfWriter:
    def __init__(self, target: Path, max_bytes: int) -> None:
        self.handle: BinaryIO = target.open("wb")
        self.max_bytes = max_bytes
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_id = 3
        self.handle.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.handle.tell()
        self.handle.write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self.handle.write(b"\nstream\n" + stream + b"\nendstream")
        self.handle.write(b"\nendobj\n")
        if self.handle.tell() > self.max_bytes:
            raise FileTooLarge("the rasterised document is larger than the output limit")

    def add_image_page(self, *, width: int, height: int, page_width_pt: float, page_height_pt: float,
                       data: bytes, filter_name: str, colorspace: str, bits: int,
                       predictor_columns: int | None = None) -> None:
        image, content, page = self.next_id, self.next_id + 1, self.next_id + 2
        self.next_id += 3
        parms = b""
        if predictor_columns is not None:
            parms = b" /DecodeParms << /Predictor 15 /Colors 1 /BitsPerComponent %d /Columns %d >>" % (
                bits, predictor_columns)
        self._object(image, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                     b"/BitsPerComponent %d /Filter %s%s /Length %d >>" % (
                         width, height, colorspace.encode("ascii"), bits, filter_name.encode("ascii"), parms,
                         len(data)), data)
        drawing = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (page_width_pt, page_height_pt)
        self._object(content, b"<< /Length %d >>" % len(drawing), drawing)
        self._object(page, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject "
                     b"<< /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (
                         PAGES, page_width_pt, page_height_pt, image, content))
        self.pages.append(page)

    def close(self) -> int:
        kids = b" ".join(b"%d 0 R" % page for page in self.pages)
        self._object(PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages)))
        self._object(CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % PAGES)
        xref = self.handle.tell()
        count = self.next_id
        lines = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[number] for number in range(1, count)]
        self.handle.write(b"".join(lines))
        self.handle.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, CATALOG, xref))
        self.handle.close()
        return len(self.pages)

    def abort(self) -> None:
        self.handle.close()
