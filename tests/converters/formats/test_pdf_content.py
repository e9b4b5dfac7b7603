"""Content streams written anew from their operators (converters/formats/pdf_content.py): what a page
draws stays, what is no drawing operator of ISO 32000-2 Annex A, and the bytes around them, go."""

from __future__ import annotations

from pathlib import Path

import pikepdf

from converters.formats.pdf_content import content_program
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.formats.test_pdf_forms import page_text

HIDDEN = b"% MZ\x90 This program cannot be run in DOS mode calc.exe\n"


def test_only_drawing_operators_are_written_back() -> None:
    program = content_program(b"q 1 0 0 1 0 0 cm " + HIDDEN + b"BT /F1 12 Tf (Hi) Tj ET Q (%!PS calc) PS "
                              b"BX /X 1 foo EX BI /W 1 /H 1 /BPC 8 /CS /G /F /JBIG2 ID \x00 EI "
                              b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x80 EI")
    assert program is not None
    assert b"(Hi) Tj" in program and b"cm" in program and b"ID\n80> EI" in program  # in hex (pdf_images)
    for gone in (b"PS", b"calc", b"DOS", b"BX", b"EX", b"foo", b"JBIG2"):
        assert gone not in program, gone


def test_a_page_split_between_operands_and_operator_keeps_its_text(tmp_path: Path) -> None:
    """A page's content may be several streams that divide anywhere between tokens: they are joined
    before they are read, so an operator whose operands ended the first stream still draws."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 200))
    page = pdf.pages[0].obj
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pikepdf.Array([pdf.make_stream(b"BT /F1 18 Tf 20 100 Td (Kept across) " + HIDDEN),
                                   pdf.make_stream(b"Tj ET (ignored) PS")])
    source = tmp_path / "split.pdf"
    pdf.save(source)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome in ("passed", "sanitized"), report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert "Kept across" in page_text(output)
    with pikepdf.open(output) as written:
        data = b"".join(s.read_bytes() for s in written.pages[0].obj.Contents) \
            if isinstance(written.pages[0].obj.Contents, pikepdf.Array) else written.pages[0].obj.Contents.read_bytes()
    assert b"calc.exe" not in data and b"PS" not in data
    assert inspect_file(output, tmp_path).clean
