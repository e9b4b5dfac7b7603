"""Plain text of disarmed documents, for the mail ``text`` attachment policy (each document's
text is appended to the mail body instead of attaching it). Runs in the sandbox: documents are
parsed here, only text crosses back."""

from __future__ import annotations

import zipfile
from pathlib import Path

import magic
from lxml import etree

from converters.formats.encoded_blocks import find_blocks, removal_note, remove_blocks
from converters.formats.html_text import defang_text, neutralise_paths
from converters.formats.ooxml import parse_xml

MAX_CHARS = 200_000
XML_TEXT = {
    "word/document.xml": ("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p",
                          "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"),
    "xl/sharedStrings.xml": ("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}si",
                             "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}t"),
    "content.xml": ("{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p", None),
}
SLIDE_PARAGRAPH = "{http://schemas.openxmlformats.org/drawingml/2006/main}p"
SLIDE_TEXT = "{http://schemas.openxmlformats.org/drawingml/2006/main}t"


def _paragraphs(root: etree._Element, paragraph: str, text: str | None) -> list[str]:
    lines = []
    for element in root.iter(paragraph):
        pieces = [t.text or "" for t in element.iter(text)] if text else ["".join(element.itertext())]
        if "".join(pieces).strip():
            lines.append("".join(pieces))
    return lines


def _package_text(path: Path) -> str:
    lines: list[str] = []
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
        for part, (paragraph, text) in XML_TEXT.items():
            if part in names:
                lines += _paragraphs(parse_xml(package.read(part), part), paragraph, text)
        slides = sorted((n for n in names if n.startswith("ppt/slides/slide") and n.endswith(".xml")),
                        key=lambda n: int("".join(c for c in n if c.isdigit()) or 0))
        for slide in slides:
            lines += _paragraphs(parse_xml(package.read(slide), slide), SLIDE_PARAGRAPH, SLIDE_TEXT)
    return "\n".join(lines)


def _pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for index in range(len(document)):
            textpage = document[index].get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
        return "\n".join(pages)
    finally:
        document.close()


def extract_text(path: Path, *, defang: bool = True) -> str:
    """The document's text ("" for pictures and anything without text), made as safe as a mail body:
    it is appended to one. Encoded files (uuencode, yEnc, BinHex) are cut out, ``file:`` URLs and UNC
    paths written so no mail client links them, and web addresses defanged when asked."""
    text = _document_text(path)
    text = remove_blocks(text, find_blocks(text), removal_note)
    text = neutralise_paths(text)
    return defang_text(text) if defang else text


def _document_text(path: Path) -> str:
    mime = magic.from_file(str(path), mime=True)
    if mime.startswith("text/"):
        text = path.read_bytes().decode("utf-8-sig", "replace")
    elif mime == "application/pdf":
        text = _pdf_text(path)
    elif zipfile.is_zipfile(path):
        text = _package_text(path)
    else:
        text = ""
    return text.replace("\r\n", "\n")[:MAX_CHARS]
