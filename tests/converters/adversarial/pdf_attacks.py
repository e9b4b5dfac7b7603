"""Attack generators for the PDF rebuild, made as an outside attacker would make them (harmless
stand-ins: ``app.alert(1)`` for a script, a file of the reader's own computer that is only named).

Each generator changes an open ``pikepdf.Pdf`` (a clean sample with one page and a font) in place;
``tests/converters/formats/test_pdf_redteam.py`` runs them through the rebuild and reads the output
independently.
"""

from __future__ import annotations

import itertools
import zlib

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


# mailto links that fill in more than a message: a file of the reader's computer to attach, headers
# added through an encoded line break
MAILTO_ATTACKS = (
    "mailto:kikaku@city.example.lg.jp?attach=file:///C:/Users/Public/Documents/juminhyo.xlsx",
    "MAILTO:a@example.jp?ATTACH=/etc/passwd", "mailto:a@example.jp?attachment=C:%5CWindows%5Cwin.ini",
    "mailto:a@example.jp?subject=x&%61ttach=/etc/passwd", "mailto:a@example.jp?subject=x&amp;attach=/etc/passwd",
    "mailto:a@example.jp%0D%0ABcc:%20b@example.jp", "mailto:a@example.jp?subject=x%0ABcc:%20b@example.jp")
MAILTO_KEPT = ("mailto:shimin@city.example.lg.jp?subject=%E5%95%8F%E3%81%84%E5%90%88%E3%82%8F%E3%81%9B",
               "mailto:a@example.jp?cc=b@example.jp&bcc=c@example.jp&body=1%E8%A1%8C%0D%0A2%E8%A1%8C&")


def link(pdf: pikepdf.Pdf, uri: str, top: int) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[50, top, 200, top + 12],
                                        A=Dictionary(S=Name.URI, URI=String(uri))))


def mailto_links(pdf: pikepdf.Pdf) -> None:
    """Links on the page and bookmarks, each to one of MAILTO_ATTACKS and MAILTO_KEPT."""
    uris = (*MAILTO_ATTACKS, *MAILTO_KEPT)
    pdf.pages[0].obj.Annots = Array([link(pdf, uri, 20 * number) for number, uri in enumerate(uris)])
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines))
    items = [pdf.make_indirect(Dictionary(Title=String(f"連絡先 {number}"), Parent=outlines,
                                          A=Dictionary(S=Name.URI, URI=String(uri))))
             for number, uri in enumerate(uris)]
    for before, after in itertools.pairwise(items):
        before.Next, after.Prev = after, before
    outlines.First, outlines.Last, outlines.Count = items[0], items[-1], len(items)
    pdf.Root.Outlines = outlines


# PostScript calculator functions (FunctionType 4): a reader's PostScript interpreter runs them
CALCULATOR_KEPT = b"{ dup 0.5 mul % a comment\n exch 0 gt { 1 } { 0 } ifelse 0 0 }"
CALCULATOR_WRITTEN = b"{ dup 0.5 mul exch 0 gt { 1 } { 0 } ifelse 0 0 }"
CALCULATOR_ATTACKS = (b"{ (app.alert\\(1\\)) run 0 0 0 }", b"{ /x 1 def x 0 0 0 }", b"{ 0 0 0 0 } { quit }",
                      b"{ currentfile 0 0 0 }", b"{ 16#FF 0 0 0 }", b"{ 0 0 0 if 0 }")


def calculator_functions(pdf: pikepdf.Pdf) -> None:
    """Separation colour spaces with calculator tint transforms (one well-formed, with a comment and
    Flate-compressed; the others programs of more than the calculator's language), each painting a
    square of the page."""
    def tint(program: bytes) -> pikepdf.Object:
        return pdf.make_stream(program, FunctionType=4, Domain=[0, 1], Range=[0, 1, 0, 1, 0, 1, 0, 1])

    good = tint(b"")
    good.write(zlib.compress(CALCULATOR_KEPT), filter=Name.FlateDecode)
    spaces = Dictionary(CS0=Array([Name.Separation, Name("/Spot0"), Name.DeviceCMYK, good]))
    for number, program in enumerate(CALCULATOR_ATTACKS, start=1):
        spaces[f"/CS{number}"] = Array([Name.Separation, Name(f"/Spot{number}"), Name.DeviceCMYK, tint(program)])
    pdf.pages[0].obj.Resources.ColorSpace = spaces
    drawing = b"".join(b"/CS%d cs 1 scn %d 0 20 20 re f " % (number, 20 * number) for number in range(len(spaces)))
    page = pdf.pages[0].obj
    page.Contents = Array([pdf.make_stream(b"q\n"), page.Contents, pdf.make_stream(b"\nQ " + drawing)])


def destinations_named_like_keys(pdf: pikepdf.Pdf) -> None:
    """The catalog's old-style /Dests dictionary (name -> destination) with destinations named
    /Type, /JS, /URI and /AA, beside a plain one."""
    page = pdf.pages[0].obj
    pdf.Root.Dests = Dictionary({name: Array([page, Name.Fit]) for name in ("/Type", "/JS", "/URI", "/AA", "/mokuji")})
