"""Embedded font programs leave the PDF rebuild only as fonts parsed and written anew (pdf_fonts):
real fonts (LibreOffice's Japanese export, ReportLab's TrueType and Type 1 embedding) keep their
text (pypdfium2's extraction, identical) and their look (pypdfium2 pixels: under 0.1 % of a page
differs by more than 40 grey levels once both are blurred by one pixel - the hinting programs are
gone, which moves glyph edges by a fraction of a pixel); hand-made hostile ones lose what is not a
glyph drawing, or are removed with a finding while the text stays."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
import reportlab
from fontTools.cffLib import CFFFontSet
from fontTools.pens.recordingPen import RecordingPen
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.tables.DefaultTable import DefaultTable
from fontTools.ttLib.tables.ttProgram import Program as Bytecode
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportLabTTFont
from reportlab.pdfgen import canvas

from converters.formats import pdf_fonts
from converters.formats.pdf_fonts import rewrite_font_program
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.formats.test_pdf_usability import assert_same_document, libreoffice_pdf, looks, needs_libreoffice

IPA_GOTHIC = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
REPORTLAB_FONTS = Path(reportlab.__file__).parent / "fonts"
TEXT = "令和8年度 情報セキュリティ対策基準 ①㈱ 髙橋 ～ 市役所"
UNREADABLE = ("pdf_unknown_structure_removed", "font program that cannot be read")
needs_fonts = pytest.mark.skipif(not IPA_GOTHIC.exists() or not DEJAVU.exists(),
                                 reason="IPA and DejaVu fonts come from scripts/setup.sh")


@dataclass
class Program:
    key: str
    data: bytes
    subtype: str | None
    length1: object


def programs(path: Path) -> list[Program]:
    with pikepdf.open(path) as pdf:
        return [Program(key, obj[key].read_bytes(), str(obj[key].get("/Subtype")) if "/Subtype" in obj[key] else None,
                        obj[key].get("/Length1"))
                for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                for key in ("/FontFile", "/FontFile2", "/FontFile3") if key in obj]


def sanitized(source: Path, tmp_path: Path) -> tuple[Path, set[tuple[str, str]], str]:
    report = run_engine(source, tmp_path / "out")
    assert report.outputs, report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    return output, {(f.code, f.detail) for f in report.findings}, report.outcome


def assert_only_drawing_tables(data: bytes) -> None:
    font = TTFont(io.BytesIO(data))
    assert set(font.keys()) - {"GlyphOrder"} <= pdf_fonts.SFNT_TABLES
    assert not {"fpgm", "prep", "cvt ", "SING", "GSUB", "GPOS"} & set(font.keys())
    if "glyf" in font:
        assert all(not getattr(font["glyf"][name], "program", None) or not font["glyf"][name].program.getBytecode()
                   for name in font.getGlyphOrder())


def reportlab_truetype(path: Path) -> Path:
    pdfmetrics.registerFont(ReportLabTTFont("IPAGothicTest", str(IPA_GOTHIC)))
    pdfmetrics.registerFont(ReportLabTTFont("DejaVuTest", str(DEJAVU)))
    page = canvas.Canvas(str(path))
    page.setFont("IPAGothicTest", 18)
    page.drawString(40, 760, TEXT)
    page.setFont("DejaVuTest", 16)
    page.drawString(40, 720, "DejaVu Sans (hinted): Quick brown fox 0123 éàü")
    page.save()
    return path


def reportlab_type1(path: Path) -> Path:
    face = pdfmetrics.EmbeddedType1Face(str(REPORTLAB_FONTS / "_a______.afm"), str(REPORTLAB_FONTS / "_a______.pfb"))
    pdfmetrics.registerTypeFace(face)
    pdfmetrics.registerFont(pdfmetrics.Font("URWType1Test", face.name, "WinAnsiEncoding"))
    page = canvas.Canvas(str(path))
    page.setFont("URWType1Test", 22)
    page.drawString(40, 760, "Type 1: Résumé naïve façade 0123")
    page.save()
    return path


def with_program(source: Path, target: Path, data: bytes, key: str = "/FontFile2", subtype: str | None = None) -> Path:
    """``source`` with the first font program replaced by ``data``."""
    with pikepdf.open(source) as pdf:
        descriptor = next(obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                          and any(k in obj for k in ("/FontFile", "/FontFile2", "/FontFile3")))
        for old in ("/FontFile", "/FontFile2", "/FontFile3"):
            if old in descriptor:
                del descriptor[old]
        stream = pikepdf.Stream(pdf, data)
        if subtype:
            stream["/Subtype"] = pikepdf.Name(subtype)
        descriptor[key] = stream
        pdf.save(target)
    return target


@needs_libreoffice
def test_a_japanese_libreoffice_export_keeps_its_text_and_look(tmp_path: Path) -> None:
    (tmp_path / "案内.html").write_text(
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"></head><body>'
        f'<p style="font-family: \'IPAMincho\'">{TEXT}です。</p>'
        '<p style="font-family: \'Noto Sans CJK JP\'">ノート角ゴシック：申請書の記入例、住民票の写し。ABC 123</p>'
        '<p style="font-family: \'IPAGothic\'">IPAゴシック 半角ｶﾅ 全角ＡＢＣ</p></body></html>', encoding="utf-8")
    source = libreoffice_pdf(tmp_path / "案内.html", tmp_path, "HTML (StarWriter)")
    kinds = {program.key for program in programs(source)}
    assert {"/FontFile2", "/FontFile"} <= kinds  # LibreOffice 7: TrueType as is, CFF (Noto CJK) as Type 1
    output, findings, outcome = sanitized(source, tmp_path)
    assert outcome == "passed" and findings == set()
    written = programs(output)
    assert {program.key for program in written} == {"/FontFile2", "/FontFile3"}
    for program in written:
        if program.key == "/FontFile2":
            assert_only_drawing_tables(program.data)
            assert program.length1 == len(program.data)
        else:
            assert program.subtype == "/Type1C"
    assert_same_document(source, output)


@needs_fonts
def test_reportlab_truetype_fonts_lose_their_hinting_and_keep_their_look(tmp_path: Path) -> None:
    source = reportlab_truetype(tmp_path / "truetype.pdf")
    assert any("fpgm" in TTFont(io.BytesIO(program.data)) for program in programs(source))  # hinted as they came
    output, findings, outcome = sanitized(source, tmp_path)
    assert outcome == "passed" and findings == set()
    written = programs(output)
    assert len(written) == 2 and all(program.key == "/FontFile2" for program in written)
    for program in written:
        assert_only_drawing_tables(program.data)
    assert_same_document(source, output)


def test_a_type1_font_becomes_a_cff_font_that_draws_the_same(tmp_path: Path) -> None:
    source = reportlab_type1(tmp_path / "type1.pdf")
    assert [program.key for program in programs(source)] == ["/FontFile"]
    output, findings, outcome = sanitized(source, tmp_path)
    assert outcome == "passed" and findings == set()
    [program] = programs(output)
    assert program.key == "/FontFile3" and program.subtype == "/Type1C" and program.data[:1] == b"\x01"
    assert_same_document(source, output)


def test_a_type1_font_without_an_encoding_in_the_pdf_draws_with_its_own(tmp_path: Path) -> None:
    """Simple fonts without /Encoding (TeX's) rely on the font's built-in encoding: the CFF keeps it."""
    source = reportlab_type1(tmp_path / "type1.pdf")
    with pikepdf.open(source) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type1" and "/Encoding" in obj:
                del obj["/Encoding"]
        pdf.save(tmp_path / "builtin.pdf")
    output, _, outcome = sanitized(tmp_path / "builtin.pdf", tmp_path)
    assert outcome == "passed"
    assert_same_document(tmp_path / "builtin.pdf", output)


@needs_fonts
def test_a_font_with_sing_hinting_and_unknown_tables_is_written_without_them(tmp_path: Path) -> None:
    source = reportlab_truetype(tmp_path / "truetype.pdf")
    font = TTFont(io.BytesIO(programs(source)[0].data))
    for tag in ("SING", "ZZZZ", "GSUB"):
        table = DefaultTable(tag)
        table.data = b"\x00\x01" + b"A" * 600  # CVE-2010-2883 overflowed a copy of SING's uniqueName
        font[tag] = table
    font["fpgm"] = newTable("fpgm")
    font["fpgm"].program = Bytecode()
    font["fpgm"].program.fromBytecode(b"\xb0\x01\x2c")  # PUSHB 1, FDEF
    hostile = io.BytesIO()
    font.save(hostile)
    assert {"SING", "ZZZZ", "GSUB", "fpgm"} <= set(TTFont(io.BytesIO(hostile.getvalue())).keys())
    changed = with_program(source, tmp_path / "hostile.pdf", hostile.getvalue())
    output, findings, outcome = sanitized(changed, tmp_path)
    assert outcome == "passed" and findings == set()  # nothing a reader draws was removed
    data = [program.data for program in programs(output) if program.key == "/FontFile2"]
    assert len(data) == 2
    for program in data:
        assert_only_drawing_tables(program)
        assert b"A" * 600 not in program
    assert_same_document(changed, output)


def cff_of(path: Path) -> bytes:
    """The Type1C program the rebuild wrote for ``path``'s Type 1 font."""
    report = run_engine(path, path.parent / "cff")
    return programs(path.parent / "cff" / report.outputs[0].path)[0].data


@pytest.mark.parametrize("operators", [[1, 2, "add", "drop"], [7, 0, "put"], ["random", "drop"],
                                       [1, "callsubr"], [1, "callgsubr"], [0, 0, 1, 1, "ifelse", "drop"]])
def test_a_cff_glyph_that_does_more_than_draw_removes_the_font_program(tmp_path: Path, operators: list[object]) -> None:
    source = reportlab_type1(tmp_path / "type1.pdf")
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(cff_of(source)), TTFont())
    glyph = cff[0].CharStrings["R"]
    glyph.decompile()
    glyph.setProgram([*glyph.program[:-1], *operators, "endchar"])
    written = io.BytesIO()
    cff.compile(written, TTFont(recalcBBoxes=False))
    changed = with_program(source, tmp_path / "hostile.pdf", written.getvalue(), "/FontFile3", "/Type1C")
    output, findings, outcome = sanitized(changed, tmp_path)
    assert outcome == "sanitized" and UNREADABLE in findings
    assert programs(output) == []  # the font dictionary stays: drawn in a substitute font
    assert looks(output)[0][0] == looks(changed)[0][0] == "Type 1: Résumé naïve façade 0123"


def test_subroutines_nested_past_the_limit_remove_the_font_program(tmp_path: Path) -> None:
    """Each subroutine calls the next twice: written out in full it would be 2^40 operators."""
    from fontTools.cffLib import GlobalSubrsIndex
    from fontTools.misc.psCharStrings import T2CharString

    source = reportlab_type1(tmp_path / "type1.pdf")
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(cff_of(source)), TTFont())
    subrs = GlobalSubrsIndex()
    bias = 107
    for number in range(40):
        program = [0, 10, "rlineto", "return"] if number == 0 else \
            [number - 1 - bias, "callgsubr", number - 1 - bias, "callgsubr", "return"]
        subrs.append(T2CharString(program=program))
    cff.GlobalSubrs = subrs
    glyph = cff[0].CharStrings["R"]
    glyph.decompile()
    glyph.setProgram([*glyph.program[:-1], 0, 0, "rmoveto", 39 - bias, "callgsubr", "endchar"])
    for name in cff[0].CharStrings.keys():
        cff[0].CharStrings[name].globalSubrs = subrs
    written = io.BytesIO()
    cff.compile(written, TTFont(recalcBBoxes=False))
    changed = with_program(source, tmp_path / "deep.pdf", written.getvalue(), "/FontFile3", "/Type1C")
    output, findings, _ = sanitized(changed, tmp_path)
    assert UNREADABLE in findings and programs(output) == []


@pytest.mark.skipif(not NOTO_CJK.exists(), reason="Noto CJK comes from scripts/setup.sh")
def test_a_cff_with_subroutines_is_written_without_them_and_draws_the_same() -> None:
    font = TTFont(str(NOTO_CJK), fontNumber=0)
    options = Options()
    options.desubroutinize = False
    subsetter = Subsetter(options)
    subsetter.populate(text="令和申請書の記入例")
    subsetter.subset(font)
    original = font["CFF "].cff
    assert len(original.GlobalSubrs) > 0  # the subset still calls subroutines
    bare = io.BytesIO()
    original.compile(bare, font)
    key, program, subtype = rewrite_font_program(bare.getvalue())
    assert (key, subtype) == ("/FontFile3", "/CIDFontType0C")
    rewritten = CFFFontSet()
    rewritten.decompile(io.BytesIO(program), TTFont())
    assert len(rewritten.GlobalSubrs) == 0
    before = CFFFontSet()
    before.decompile(io.BytesIO(bare.getvalue()), TTFont())
    for name in before[0].CharStrings.keys():
        drawn = []
        for font_set in (before, rewritten):
            pen = RecordingPen()
            font_set[0].CharStrings[name].draw(pen)
            drawn.append(pen.value)
        assert drawn[0] == drawn[1]
        rewritten[0].CharStrings[name].decompile()
        assert not {"callsubr", "callgsubr", "return"} & set(map(str, rewritten[0].CharStrings[name].program))


@needs_fonts
@pytest.mark.parametrize("data", [b"\x00\x01\x00\x00garbage" * 10, b"ttcf" + bytes(100), b"%!PS-AdobeFont-1.0 no eexec",
                                  b"\x01\x00\x04\x04broken", b"<html>not a font</html>"])
def test_a_font_program_that_does_not_read_is_removed_and_the_text_stays(tmp_path: Path, data: bytes) -> None:
    source = reportlab_truetype(tmp_path / "truetype.pdf")
    changed = with_program(source, tmp_path / "bad.pdf", data)
    output, findings, outcome = sanitized(changed, tmp_path)
    assert outcome == "sanitized" and UNREADABLE in findings
    assert len(programs(output)) == 1  # the other font is written anew
    assert looks(output)[0][0] == looks(source)[0][0]


@needs_fonts
def test_a_font_program_past_the_size_limit_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = reportlab_truetype(tmp_path / "truetype.pdf")
    sizes = sorted(len(program.data) for program in programs(source))
    monkeypatch.setattr(pdf_fonts, "MAX_PROGRAM_BYTES", sizes[0])
    output, findings, _ = sanitized(source, tmp_path)
    assert UNREADABLE in findings and len(programs(output)) == 1

