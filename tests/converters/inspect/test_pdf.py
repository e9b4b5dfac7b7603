"""The inspector judges a PDF by its own allowlists: what the rebuild never writes - an unknown
catalog or page key, an annotation that only a plugin shows, a PostScript XObject, data in another
file, a URI outside a link, a filter no standard defines - is a problem even with no script in sight."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from converters.inspect.pdf import pdf_problems


def _catalog_key(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Perms = Dictionary(DocMDP=Dictionary())


def _page_key(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.PresSteps = Dictionary(Count=1)


def _annotation(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Projection,
                                                                  Rect=[0, 0, 1, 1]))])


def _postscript(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Resources.XObject = Dictionary(P=pdf.make_stream(b"x", Type=Name.XObject, Subtype=Name.PS))


def _outside(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Contents.F = String("other.bin")


def _uri_on_text(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(Dictionary(
        Type=Name.Annot, Subtype=Name.Text, Rect=[0, 0, 1, 1],
        A=Dictionary(S=Name.URI, URI=String("https://example.com/"))))])


def _filter(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Resources.XObject = Dictionary(I=pdf.make_stream(
        b"x", Type=Name.XObject, Subtype=Name.Image, Width=1, Height=1, Filter=Name("/XYZDecode")))


def _file_uri(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(Dictionary(
        Type=Name.Annot, Subtype=Name.Link, Rect=[0, 0, 1, 1], A=Dictionary(S=Name.URI, URI=String("file:///x"))))])


@pytest.mark.parametrize(("change", "problem"), [
    (_catalog_key, "pdf_unexpected_key catalog /Perms"),
    (_page_key, "pdf_unexpected_key page /PresSteps"),
    (_annotation, "pdf_annotation /Projection"),
    (_postscript, "pdf_xobject not an image or a form"),
    (_outside, "pdf_stream_data_outside"),
    (_uri_on_text, "pdf_action /URI outside a link or a bookmark"),
    (_filter, "pdf_stream_filter not a standard one"),
    (_file_uri, "pdf_action /URI"),
])
def test_what_is_not_on_the_lists_is_a_problem(samples: Path, tmp_path: Path,
                                               change: Callable[[pikepdf.Pdf], None], problem: str) -> None:
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        del pdf.trailer["/Info"]  # reportlab's extras, which the rebuild does not write either
        if "/Trans" in pdf.pages[0].obj:
            del pdf.pages[0].obj["/Trans"]
        for descriptor in [o for o in pdf.objects if isinstance(o, Dictionary) and "/FontFile2" in o]:
            del descriptor["/FontFile2"]  # its hinting programs: the rebuild writes fonts anew (test_pdf_fonts)
        pdf.save(tmp_path / "before.pdf")
        change(pdf)
        pdf.save(tmp_path / "after.pdf")
    assert pdf_problems(tmp_path / "before.pdf") == []
    assert problem in pdf_problems(tmp_path / "after.pdf")


def test_names_that_are_not_utf8_are_shown_so_the_verdict_can_leave_the_sandbox(tmp_path: Path) -> None:
    """A key written /Ro#D9ot reads as a str with a lone surrogate; put into a problem as it was, the
    verdict could not be encoded as JSON and the inspector's answer was lost (found by fuzzing)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root["/RoQQot"] = 1
    pdf.pages[0].obj["/Annots"] = Array([pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name("/WidQQget"),
                                                                      Rect=[0, 0, 1, 1]))])
    path = tmp_path / "names.pdf"
    pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    path.write_bytes(path.read_bytes().replace(b"/RoQQot", b"/Ro#D9ot").replace(b"/WidQQget", b"/Wid#FEget"))
    problems = pdf_problems(path)
    assert any(p.startswith("pdf_unexpected_key catalog /Ro") for p in problems)
    assert "pdf_annotation /wid#feget" in [p.lower() for p in problems]
    for problem in problems:
        problem.encode("utf-8")  # raises on a lone surrogate
