"""The inspector reads every embedded font program itself (converters/inspect/pdf_fonts.py): Type 1
programs, tables off the list, hinting programs and instructions, CFF subroutines and glyph
operators that do more than draw are problems; a font holding only drawing tables is not."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from fontTools.cffLib import CFFFontSet
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables.DefaultTable import DefaultTable
from fontTools.ttLib.tables.ttProgram import Program

from converters.inspect.pdf import pdf_problems
from converters.inspect.pdf_fonts import TABLES

NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def square_truetype(hinting: bool = False, extra: str | None = None) -> bytes:
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({0x41: "A"})
    pen = TTGlyphPen(None)
    for x, y in ((100, 0), (100, 700), (600, 700), (600, 0)):
        (pen.lineTo if x != 100 or y != 0 else pen.moveTo)((x, y))
    pen.closePath()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (700, 100)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupMaxp()
    builder.setupPost()
    font = builder.font
    if hinting:
        font["glyf"]["A"].program = Program()
        font["glyf"]["A"].program.fromBytecode(b"\xb0\x00\x1c")  # PUSHB 0, JMPR: a loop forever
    if extra is not None:
        table = DefaultTable(extra)
        table.data = b"\x00\x01" + b"A" * 300
        font[extra] = table
    written = io.BytesIO()
    font.save(written)
    return written.getvalue()


def square_cff(program_tail: list[object] | None = None, subroutines: bool = False) -> bytes:
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    pen = T2CharStringPen(700, None)
    pen.moveTo((100, 0))
    pen.lineTo((100, 700))
    pen.lineTo((600, 700))
    pen.closePath()
    glyph = pen.getCharString()
    if program_tail is not None:
        glyph.program = [*glyph.program[:-1], *program_tail, "endchar"]
    builder.setupCFF("Square", {}, {".notdef": T2CharStringPen(500, None).getCharString(), "A": glyph}, {})
    cff: CFFFontSet = builder.font["CFF "].cff
    if subroutines:
        from fontTools.misc.psCharStrings import T2CharString

        cff.GlobalSubrs.append(T2CharString(program=["return"]))
        glyph.program = [*glyph.program[:-1], -107, "callgsubr", "endchar"]
    written = io.BytesIO()
    builder.font.recalcBBoxes = False  # fontTools would run the glyphs to measure them
    cff.compile(written, builder.font)
    return written.getvalue()


def pdf_with(path: Path, key: str, data: bytes, subtype: str | None = None) -> Path:
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    stream = pikepdf.Stream(pdf, data)
    if subtype:
        stream["/Subtype"] = pikepdf.Name(subtype)
    descriptor = pikepdf.Dictionary(Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name("/Square"), Flags=4,
                                    FontBBox=[0, 0, 1000, 1000], ItalicAngle=0, Ascent=800, Descent=-200,
                                    CapHeight=700, StemV=80)
    descriptor[key] = stream
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.TrueType, BaseFont=pikepdf.Name("/Square"),
                              FirstChar=65, LastChar=65, Widths=[700], FontDescriptor=pdf.make_indirect(descriptor))
    page.obj["/Resources"] = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pdf.make_indirect(font)))
    page.obj["/Contents"] = pikepdf.Stream(pdf, b"BT /F1 24 Tf 72 720 Td (A) Tj ET")
    pdf.save(path)
    return path


def font_problems_of(path: Path) -> list[str]:
    return [problem for problem in pdf_problems(path) if problem.startswith("pdf_font")]


def test_fonts_that_only_draw_are_no_problem(tmp_path: Path) -> None:
    assert pdf_problems(pdf_with(tmp_path / "tt.pdf", "/FontFile2", square_truetype())) == []
    assert pdf_problems(pdf_with(tmp_path / "cff.pdf", "/FontFile3", square_cff(), "/Type1C")) == []


@pytest.mark.parametrize(("key", "data", "subtype", "problem"), [
    ("/FontFile", b"%!PS-AdobeFont-1.0: Square\n/FontName /Square def currentfile eexec\n", None,
     "pdf_font a Type 1 program (PostScript)"),
    ("/FontFile2", square_truetype(extra="SING"), None, "pdf_font table 'SING' not on the list"),
    ("/FontFile2", square_truetype(extra="fpgm"), None, "pdf_font table 'fpgm' not on the list"),
    ("/FontFile2", square_truetype(extra="ZZZZ"), None, "pdf_font table 'ZZZZ' not on the list"),
    ("/FontFile2", square_truetype(hinting=True), None, "pdf_font a glyph with hinting instructions"),
    ("/FontFile2", square_cff(), None, "pdf_font a program that does not read (TTLibError)"),
    ("/FontFile3", square_cff([1, 2, "add", "drop"]), "/Type1C", "pdf_font CFF glyph operator add"),
    ("/FontFile3", square_cff(["random", "drop"]), "/Type1C", "pdf_font CFF glyph operator random"),
    ("/FontFile3", square_cff(subroutines=True), "/Type1C", "pdf_font CFF subroutines"),
    ("/FontFile3", square_cff([*range(50), "rlineto"]), "/Type1C",
     "pdf_font CFF glyph with more numbers than the stack holds"),
    ("/FontFile3", square_cff(), "/PostScript", "pdf_font FontFile3 of an unexpected kind"),
])
def test_font_programs_off_the_lists_are_problems(tmp_path: Path, key: str, data: bytes, subtype: str | None,
                                                  problem: str) -> None:
    assert problem in font_problems_of(pdf_with(tmp_path / "font.pdf", key, data, subtype))


@pytest.mark.skipif(not NOTO_CJK.exists(), reason="Noto CJK comes from scripts/setup.sh")
def test_a_real_cid_cff_with_hint_masks_reads_as_drawing_only(tmp_path: Path) -> None:
    """Noto Sans CJK's glyphs are full of hintmask operators, whose bytes the reading must step over."""
    font = TTFont(str(NOTO_CJK), fontNumber=0)
    options = Options()
    options.desubroutinize = True
    subsetter = Subsetter(options)
    subsetter.populate(text="令和申請書の記入例、住民票の写し")
    subsetter.subset(font)
    cff = font["CFF "].cff
    written = io.BytesIO()
    cff.compile(written, font)
    glyphs = cff[0].CharStrings
    for name in glyphs.keys():
        glyphs[name].decompile()
    assert sum("hintmask" in glyphs[name].program for name in glyphs.keys()) > 5
    path = pdf_with(tmp_path / "cid.pdf", "/FontFile3", written.getvalue(), "/CIDFontType0C")
    assert font_problems_of(path) == []
    opentype = io.BytesIO()
    font.save(opentype)
    path = pdf_with(tmp_path / "otf.pdf", "/FontFile3", opentype.getvalue(), "/OpenType")
    assert font_problems_of(path) == [f"pdf_font table {tag!r} not on the list"
                                      for tag in sorted(set(font.keys()) - TABLES - {"GlyphOrder"})]
