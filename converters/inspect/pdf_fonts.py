"""The inspector's own reading of the font programs in a PDF output (ISO 32000-2 9.9).

Written apart from the rebuild (converters/formats/pdf_font*.py) and sharing nothing with it. Every
font descriptor's program must be one fontTools reads: no Type 1 program (/FontFile: PostScript a
reader runs); a TrueType or OpenType program (/FontFile2, /FontFile3 /OpenType) holds only the
tables a glyph is drawn from, no hinting program (fpgm, prep, cvt) and no glyph with instructions;
a CFF program (/FontFile3 /Type1C or /CIDFontType0C, or an OpenType font's 'CFF ' table) has no
subroutines and each glyph's Type 2 program is numbers, hint masks and the path, hint and endchar
operators, never more than 48 numbers before one.
"""

from __future__ import annotations

import io
from typing import Any

TABLES = frozenset({"head", "hhea", "hmtx", "maxp", "loca", "glyf", "CFF ", "cmap", "post", "OS/2", "vhea", "vmtx",
                    "name"})
GLYPH_OPERATORS = frozenset({
    "rmoveto", "hmoveto", "vmoveto", "rlineto", "hlineto", "vlineto", "rrcurveto", "hhcurveto", "hvcurveto",
    "rcurveline", "rlinecurve", "vhcurveto", "vvcurveto", "flex", "hflex", "hflex1", "flex1", "endchar", "hstem",
    "vstem", "hstemhm", "vstemhm", "hintmask", "cntrmask"})
MASKS = frozenset({"hintmask", "cntrmask"})
STEMS = frozenset({"hstem", "vstem", "hstemhm", "vstemhm"})
PROGRAMS = {"/FontFile2": ("",), "/FontFile3": ("/Type1C", "/CIDFontType0C", "/OpenType")}
STACK = 48


def font_problems(descriptor: Any) -> list[str]:
    """What is wrong with the font programs ``descriptor`` (any dictionary) names; [] when none."""
    import logging

    import pikepdf

    logging.getLogger("fontTools").setLevel(logging.CRITICAL)  # its warnings may quote the font
    if "/FontFile" in descriptor:
        return ["pdf_font a Type 1 program (PostScript)"]
    problems: list[str] = []
    for key, subtypes in PROGRAMS.items():
        program = descriptor.get(key)
        if program is None:
            continue
        subtype = program.get("/Subtype") if isinstance(program, pikepdf.Stream) else None
        written = subtype.unparse().decode("latin-1") if isinstance(subtype, pikepdf.Name) else ""
        if not isinstance(program, pikepdf.Stream) or written not in subtypes:
            problems.append(f"pdf_font {key[1:]} of an unexpected kind")
            continue
        try:
            data = program.read_bytes()
            found = _cff(data) if written in ("/Type1C", "/CIDFontType0C") else _sfnt(data)
        except Exception as exc:  # fontTools raises anything on a font it cannot read
            found = [f"pdf_font a program that does not read ({type(exc).__name__})"]
        problems.extend(found)
    return problems


def _sfnt(data: bytes) -> list[str]:
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data))
    tags = set(font.keys()) - {"GlyphOrder"}
    problems = [f"pdf_font table {tag!r} not on the list" for tag in sorted(tags - TABLES)]
    for tag in sorted(tags & TABLES):
        font[tag]  # every table reads
    if "glyf" in tags:
        glyf = font["glyf"]
        for name in font.getGlyphOrder():
            glyph = glyf[name]
            if hasattr(glyph, "program") and glyph.program.getBytecode():
                problems.append("pdf_font a glyph with hinting instructions")
                break
    if "CFF " in tags:
        problems.extend(_charstrings(font["CFF "].cff))
    return problems


def _cff(data: bytes) -> list[str]:
    from fontTools.cffLib import CFFFontSet
    from fontTools.ttLib import TTFont

    cff = CFFFontSet()
    cff.decompile(io.BytesIO(data), TTFont(), isCFF2=False)
    return _charstrings(cff)


def _charstrings(cff: Any) -> list[str]:
    if len(cff.fontNames) != 1:
        return ["pdf_font not one CFF font"]
    top = cff[0]
    privates = [fd.Private for fd in top.FDArray] if hasattr(top, "FDArray") else [top.Private]
    if len(cff.GlobalSubrs) or any(len(getattr(private, "Subrs", ())) for private in privates):
        return ["pdf_font CFF subroutines"]
    if getattr(top, "CharstringType", 2) != 2 or hasattr(top, "PostScript"):
        return ["pdf_font CFF glyphs of another kind, or PostScript"]
    for name in top.CharStrings.keys():
        found = _glyph(top.CharStrings[name])
        if found is not None:
            return [found]
    return []


def _glyph(glyph: Any) -> str | None:
    """Read token by token (nothing run): the first problem of one Type 2 glyph program, or None."""
    index = numbers = hints = 0
    while True:
        token, is_operator, index = glyph.getToken(index)
        if token is None:
            return None
        if not is_operator:
            numbers += 1
            if numbers > STACK:
                return "pdf_font CFF glyph with more numbers than the stack holds"
            continue
        if token not in GLYPH_OPERATORS:
            return f"pdf_font CFF glyph operator {str(token)[:20]}"
        if token in STEMS or token in MASKS:
            hints += numbers // 2  # the stems' pairs (an odd number first is the width)
        if token in MASKS:
            index += (hints + 7) // 8  # the mask's bytes, one bit a stem
        numbers = 0
