"""The red team's attacks on the PDF rebuild (generators in tests/converters/adversarial/pdf_attacks.py):
each attack document goes through the rebuild and comes out without its active content or outside
reference - not blocked - and the output is read independently (every object walked with pikepdf,
the inspector, PDFium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from pikepdf import Array, Dictionary

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


def _rebuilt(samples: Path, tmp_path: Path, attack: object) -> tuple[Path, set[tuple[str, str]]]:
    source = tmp_path / "attack.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        attack(pdf)  # type: ignore[operator]
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
