"""The red team's attacks on the PDF rebuild (generators in tests/converters/adversarial/pdf_attacks.py):
each attack document goes through the rebuild and comes out without its active content or outside
reference - not blocked - and the output is read independently (every object walked with pikepdf,
the inspector, PDFium)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from pikepdf import Array, Dictionary
from PIL import Image

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.adversarial import pdf_attacks


def _objects(path: Path) -> Iterator[Dictionary | pikepdf.Stream]:
    """Every dictionary and stream of the file: each indirect object and every direct one inside."""
    with pikepdf.open(path) as pdf:
        stack: list[object] = [*pdf.objects, pdf.trailer]
        while stack:
            obj = stack.pop()
            if isinstance(obj, Dictionary | pikepdf.Stream):
                yield obj
                stack.extend(v for v in obj.values() if isinstance(v, Dictionary | Array) and not v.is_indirect)
            elif isinstance(obj, Array):
                stack.extend(v for v in obj if isinstance(v, Dictionary | Array) and not v.is_indirect)


def _rebuilt(samples: Path, tmp_path: Path,
             attack: Callable[[pikepdf.Pdf], None]) -> tuple[Path, set[tuple[str, str]]]:
    source = tmp_path / "attack.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        attack(pdf)
        pdf.save(source)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome in ("sanitized", "passed"), report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    document = pdfium.PdfDocument(str(output))
    try:
        assert len(document) == 1
        document[0].render()
    finally:
        document.close()
    return output, {(f.code, f.detail) for f in report.findings}


def test_a_mask_typed_as_postscript_comes_out_as_what_its_place_holds(samples: Path, tmp_path: Path) -> None:
    """A soft mask group and a mask image saying /Subtype /PS were copied with that subtype and
    the inspector blocked the whole document: now the subtype is written only as /Form or /Image."""
    output, _ = _rebuilt(samples, tmp_path, pdf_attacks.postscript_typed_masks)
    subtypes = {str(obj.get("/Subtype")) for obj in _objects(output) if isinstance(obj, pikepdf.Stream)}
    assert "/PS" not in subtypes and "/Image" in subtypes


def _uris(path: Path) -> list[bytes]:
    return [bytes(obj["/URI"]) for obj in _objects(path) if "/URI" in obj]


def test_mailto_links_keep_only_the_fields_of_a_message(samples: Path, tmp_path: Path) -> None:
    """mailto:?attach= names a file of the reader's computer that several mail programs attach to
    the message one click opens; an encoded line break adds headers. Such links and bookmarks
    are not written (the addressees, subject and body of plain ones stay)."""
    output, findings = _rebuilt(samples, tmp_path, pdf_attacks.mailto_links)
    assert sorted(_uris(output)) == sorted(uri.encode() for uri in pdf_attacks.MAILTO_KEPT * 2)
    assert ("pdf_external_link_removed", "URI") in findings
    with pikepdf.open(output) as pdf:
        assert len(pdf.pages[0].obj.Annots) == len(pdf_attacks.MAILTO_KEPT)
        assert len(pdf.open_outline().root) == len(pdf_attacks.MAILTO_ATTACKS) + len(pdf_attacks.MAILTO_KEPT)


def test_the_inspector_refuses_a_mailto_link_that_attaches_a_file(tmp_path: Path) -> None:
    for number, uri in enumerate(pdf_attacks.MAILTO_ATTACKS):
        path = tmp_path / f"link{number}.pdf"
        with pikepdf.new() as pdf:
            pdf.add_blank_page()
            pdf.pages[0].obj.Annots = Array([pdf_attacks.link(pdf, uri, 10)])
            pdf.save(path)
        assert inspect_file(path, tmp_path).problems, uri
    kept = tmp_path / "kept.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.pages[0].obj.Annots = Array([pdf_attacks.link(pdf, uri, 10) for uri in pdf_attacks.MAILTO_KEPT])
        pdf.save(kept)
    assert inspect_file(kept, tmp_path).problems == []


def test_calculator_functions_keep_only_the_calculator_language(samples: Path, tmp_path: Path) -> None:
    """A calculator function is a PostScript program the reader's interpreter runs: one of numbers,
    braces and the operators of ISO 32000-2 table 42 is written anew from its tokens (and draws
    as before); any other (strings, names, run, def, quit, radix numbers, an if without its
    procedure) is not written, and the colour space that needs it goes."""
    output, findings = _rebuilt(samples, tmp_path, pdf_attacks.calculator_functions)
    programs = [obj.read_bytes() for obj in _objects(output) if obj.get("/FunctionType") == 4]
    assert programs == [pdf_attacks.CALCULATOR_WRITTEN]
    assert ("pdf_unknown_structure_removed", "calculator function") in findings
    source = tmp_path / "attack.pdf"
    before, after = (_square(path) for path in (source, output))  # where the kept colour space paints
    assert before.tobytes() == after.tobytes()
    assert all(isinstance(band, tuple) and band[0] == band[1] for band in before.getextrema())  # one colour
    assert before.getpixel((0, 0)) != (255, 255, 255)


def _square(path: Path) -> Image.Image:
    """The page's bottom-left corner as PDFium draws it (the square painted at 0 0 20 20)."""
    document = pdfium.PdfDocument(str(path))
    try:
        page: Image.Image = document[0].render().to_pil().convert("RGB")
    finally:
        document.close()
    return page.crop((2, page.height - 18, 18, page.height - 2))


def test_the_inspector_refuses_a_calculator_program_of_more_than_its_language(tmp_path: Path) -> None:
    for number, program in enumerate((*pdf_attacks.CALCULATOR_ATTACKS, pdf_attacks.CALCULATOR_WRITTEN)):
        path = tmp_path / f"function{number}.pdf"
        with pikepdf.new() as pdf:
            pdf.add_blank_page()
            function = pdf.make_stream(program, FunctionType=4, Domain=[0, 1], Range=[0, 1, 0, 1, 0, 1, 0, 1])
            pdf.pages[0].obj.Resources = Dictionary(ColorSpace=Dictionary(CS0=Array([
                pikepdf.Name.Separation, pikepdf.Name("/Spot"), pikepdf.Name.DeviceCMYK, function])))
            pdf.save(path)
        assert bool(inspect_file(path, tmp_path).problems) == (program != pdf_attacks.CALCULATOR_WRITTEN), program


def test_old_style_destinations_named_like_keys_readers_act_on(samples: Path, tmp_path: Path) -> None:
    """A /Dests entry named /Type was written as a /Type that is an array and the inspector blocked
    the document; such entries are now left out and reported, the plain one stays."""
    output, findings = _rebuilt(samples, tmp_path, pdf_attacks.destinations_named_like_keys)
    with pikepdf.open(output) as pdf:
        assert list(pdf.Root.Dests.keys()) == ["/mokuji"]
    assert ("pdf_unknown_structure_removed", "a destination named /Type") in findings
