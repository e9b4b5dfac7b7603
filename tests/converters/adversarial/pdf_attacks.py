"""Attack generators for the PDF rebuild, made as an outside attacker would make them (harmless
stand-ins: ``app.alert(1)`` for a script, a file of the reader's own computer that is only named).

Each generator changes an open ``pikepdf.Pdf`` (a clean sample with one page and a font) in place;
``tests/converters/formats/test_pdf_redteam.py`` runs them through the rebuild and reads the output
independently.
"""

from __future__ import annotations

import pikepdf
from pikepdf import Array, Dictionary, Name, String


def script() -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String("app.alert(1)"))


def postscript_typed_masks(pdf: pikepdf.Pdf) -> None:
    """A soft mask whose group, and an image whose soft mask, say /Subtype /PS: places the
    rebuild reaches without reading the /Subtype tag (a resource dictionary's XObject is tagged)."""
    resources = pdf.pages[0].obj.Resources
    group = pdf.make_stream(b"0 g 0 0 10 10 re f", Type=Name.XObject, Subtype=Name.PS, BBox=[0, 0, 10, 10],
                            Group=Dictionary(S=Name.Transparency))
    resources.ExtGState = Dictionary(GS1=Dictionary(Type=Name.ExtGState, SMask=Dictionary(
        Type=Name.Mask, S=Name.Luminosity, G=group)))
    mask = pdf.make_stream(b"\xff", Type=Name.XObject, Subtype=Name.PS, Width=1, Height=1, BitsPerComponent=8,
                           ColorSpace=Name.DeviceGray)
    resources.XObject = Dictionary(Im1=pdf.make_stream(
        b"\x80", Type=Name.XObject, Subtype=Name.Image, Width=1, Height=1, BitsPerComponent=8,
        ColorSpace=Name.DeviceGray, SMask=mask))
    page = pdf.pages[0].obj
    page.Contents = Array([page.Contents, pdf.make_stream(b"q /GS1 gs 10 0 0 10 0 0 cm /Im1 Do Q")])
