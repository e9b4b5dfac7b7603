"""CFF font programs (the /FontFile3 of a Type1C or CIDFontType0C font, and the 'CFF ' table of an
OpenType font) written anew by fontTools from what it parsed, with glyph drawings that only draw.

A Type 2 charstring is a small stack program a reader's rasteriser runs for each glyph. Besides
drawing it may call subroutines (shared pieces of program), compute (``add``, ``div``, ``random``,
``ifelse`` ...) and keep values (``put``, ``get``) - the surface of the classic font parser bugs
(BLEND, CVE-2015-0093). Each glyph here is read by fontTools with the subroutine nesting of the
Type 2 specification (10 levels) and a budget of work, its subroutines are written into it
(desubroutinised: no ``callsubr``, ``callgsubr`` or ``return`` is left, nor any subroutine), and it is
kept only when what remains is numbers and the path, hint, width and ``endchar`` operators, at most
48 numbers before each (the Type 2 argument stack). ``dotsection``, a deprecated hint that does
nothing, is left out. The font's dictionaries are written by fontTools from the keys it knows,
without ``PostScript`` (PostScript code for a printer), ``SyntheticBase`` and the Multiple Master
keys. One font per program (a PDF font names one); CFF2 (variable fonts) is not read.
"""

from __future__ import annotations

import io
from typing import Any

from fontTools.cffLib import CFFFontSet
from fontTools.misc.psCharStrings import SimpleT2Decompiler, T2CharString
from fontTools.ttLib import TTFont

# Type 2 charstring operators that draw, hint, or end a glyph (Adobe TN 5177, 4.1-4.4)
DRAWING = frozenset({
    "rmoveto", "hmoveto", "vmoveto", "rlineto", "hlineto", "vlineto", "rrcurveto", "hhcurveto", "hvcurveto",
    "rcurveline", "rlinecurve", "vhcurveto", "vvcurveto", "flex", "hflex", "hflex1", "flex1", "endchar",
    "hstem", "vstem", "hstemhm", "vstemhm", "hintmask", "cntrmask"})
LEFT_OUT = frozenset({"dotsection"})
STEMS = frozenset({"hstem", "vstem", "hstemhm", "vstemhm"})
MASKS = frozenset({"hintmask", "cntrmask"})
CALLS, RETURN, ENDCHAR = ("callsubr", "callgsubr"), "return", "endchar"
MAX_NESTING = 10  # subroutine calls inside subroutine calls (Type 2: 10)
MAX_ARGUMENTS = 48  # the Type 2 argument stack
MAX_GLYPH_TOKENS = 65_536  # a glyph with its subroutines written in; real ones are a few hundred
MAX_FONT_TOKENS = 16_000_000  # a whole font's work: subsets are far below, a whole 65,535-glyph CJK font above
DROPPED_TOP_KEYS = ("PostScript", "SyntheticBase", "BaseFontName", "BaseFontBlend")


class CffRefused(Exception):
    """The program is not a CFF font this module writes (the message says why, without its content)."""


class Budget:
    """Work done reading glyph programs (tokens, or bytes of a Type 1 program), up to ``limit``; ``within``:
    a larger budget spent from as well (the document's: pdf_fonts)."""

    def __init__(self, limit: int, within: Budget | None = None) -> None:
        self.limit = limit
        self.within = within
        self.spent = 0

    def spend(self, tokens: int) -> None:
        self.spent += tokens
        if self.spent > self.limit:
            raise CffRefused("the glyph programs are larger than any real font's or document's")
        if self.within is not None:
            self.within.spend(tokens)


class _Decompiler(SimpleT2Decompiler):  # type: ignore[misc]  # fontTools has no type hints
    """fontTools' own reading of a charstring (it alone knows how many bytes a hint mask takes), with
    the subroutine nesting and the work bounded."""

    def __init__(self, local: Any, global_: Any, private: Any, budget: Budget) -> None:
        super().__init__(local, global_, private)
        self.budget = budget

    def execute(self, charString: Any, **kwargs: Any) -> None:
        if len(self.callingStack) > MAX_NESTING:
            raise CffRefused("subroutines nested deeper than Type 2 allows")
        program = charString.program if charString.bytecode is None else charString.bytecode
        self.budget.spend(len(program or ()))
        super().execute(charString, **kwargs)

    def _subroutine(self, subrs: Any, bias: int) -> None:
        if not self.operandStack or not isinstance(self.operandStack[-1], int) \
                or not 0 <= self.operandStack[-1] + bias < len(subrs):
            raise CffRefused("a subroutine call that names no subroutine")

    def op_callsubr(self, index: int) -> None:
        self._subroutine(self.localSubrs, self.localBias)
        super().op_callsubr(index)

    def op_callgsubr(self, index: int) -> None:
        self._subroutine(self.globalSubrs, self.globalBias)
        super().op_callgsubr(index)


def _flatten(program: list[Any], local: Any, global_: Any, out: list[Any], depth: int) -> bool:
    """``program`` with its subroutines written in, appended to ``out``; True once ``endchar`` ends the glyph."""
    if depth > MAX_NESTING:
        raise CffRefused("subroutines nested deeper than Type 2 allows")
    for token in program:
        if token in CALLS:
            subrs, bias = (local, _bias(local)) if token == CALLS[0] else (global_, _bias(global_))
            number = out.pop() if out else None
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number + bias < len(subrs):
                raise CffRefused("a subroutine call that names no subroutine")
            called = subrs[number + bias].program
            if called is None:
                raise CffRefused("a subroutine that was not read")
            if _flatten(called, local, global_, out, depth + 1):
                return True
        elif token == RETURN:
            return False
        else:
            out.append(token)
            if token == ENDCHAR:
                return True
        if len(out) > MAX_GLYPH_TOKENS:
            raise CffRefused("a glyph program larger than any real glyph's")
    return False


def _bias(subrs: Any) -> int:
    count = len(subrs)
    return 107 if count < 1240 else 1131 if count < 33900 else 32768


def _only_drawing(program: list[Any]) -> list[Any]:
    """The program without ``dotsection``; refused when it holds any operator but drawing ones, more
    arguments before one than the stack holds, or a hint mask whose length is not the one a reader
    gives it. Readers (FreeType, pdf.js, Adobe's) take a mask's length from the stems declared so far
    at each mask; fontTools from those before the first one only: a stem declared after a mask made
    the two disagree, and the bytes fontTools read as numbers a reader read as operators (``random``)."""
    kept: list[Any] = []
    arguments = hints = 0
    mask_length: int | None = None  # after hintmask or cntrmask: how many bytes its mask has
    for token in program:
        if mask_length is not None and len(token if isinstance(token, bytes) else b"") != mask_length:
            raise CffRefused("a hint mask whose length is not the one a reader reads")
        mask_length = None
        if isinstance(token, bytes):  # a hint mask's bytes, after hintmask or cntrmask
            if not kept or kept[-1] not in MASKS:
                raise CffRefused("bytes that are not a hint mask in a glyph program")
        elif isinstance(token, str):
            if token in LEFT_OUT:
                arguments = 0
                continue
            if token not in DRAWING:
                raise CffRefused("an operator that does not draw in a glyph program")
            if token in STEMS or token in MASKS:
                hints += arguments // 2  # the stems' pairs (an odd number first is the width)
            if token in MASKS:
                mask_length = (hints + 7) // 8
            arguments = 0
        elif isinstance(token, int | float) and not isinstance(token, bool):
            arguments += 1
            if arguments > MAX_ARGUMENTS:
                raise CffRefused("more arguments than the Type 2 stack holds")
        else:
            raise CffRefused("a token that is neither a number nor an operator")
        kept.append(token)
    if mask_length:
        raise CffRefused("a hint mask whose length is not the one a reader reads")
    if "endchar" not in kept:
        kept.append("endchar")  # a glyph may end without it (it ends with its program); say it
    return kept


def _privates(top: Any) -> list[Any]:
    if hasattr(top, "FDArray"):
        return [fd.Private for fd in top.FDArray]
    return [top.Private]


def clean_font_set(cff: CFFFontSet, within: Budget | None = None) -> None:
    """Every glyph of the one font in ``cff`` desubroutinised and checked (``CffRefused`` otherwise);
    subroutines and the keys of DROPPED_TOP_KEYS removed."""
    if cff.major != 1 or len(cff.fontNames) != 1:
        raise CffRefused("not one CFF (version 1) font")
    top = cff[0]
    if getattr(top, "CharstringType", 2) != 2 or hasattr(top, "VarStore"):
        raise CffRefused("glyph programs of a kind other than Type 2")
    budget = Budget(MAX_FONT_TOKENS, within)
    charstrings = top.CharStrings
    for name in charstrings.keys():
        glyph: T2CharString = charstrings[name]
        private = glyph.private
        local = getattr(private, "Subrs", [])
        _Decompiler(local, glyph.globalSubrs, private, budget).execute(glyph)
        flat: list[Any] = []
        _flatten(glyph.program, local, glyph.globalSubrs, flat, 0)
        budget.spend(len(flat))
        glyph.setProgram(_only_drawing(flat))
    for private in _privates(top):
        if hasattr(private, "Subrs"):
            del private.Subrs
        private.rawDict.pop("Subrs", None)
    cff.GlobalSubrs.clear()
    for key in DROPPED_TOP_KEYS:
        if hasattr(top, key):
            delattr(top, key)
        top.rawDict.pop(key, None)


def read_cff(data: bytes) -> CFFFontSet:
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(data), TTFont(), isCFF2=False)
    return cff


def rewrite_cff(data: bytes, within: Budget | None = None) -> tuple[bytes, bool]:
    """A bare CFF font program written anew, and whether it is CID-keyed (CIDFontType0C, else Type1C)."""
    cff = read_cff(data)
    clean_font_set(cff, within)
    return compile_cff(cff), hasattr(cff[0], "ROS")


def compile_cff(cff: CFFFontSet) -> bytes:
    """The font set written; it must read back as one font with the same glyphs and no subroutines
    (each glyph's operators are read again by the inspector, converters/inspect/pdf_fonts.py)."""
    written = io.BytesIO()
    cff.compile(written, TTFont(recalcBBoxes=False), isCFF2=False)
    again = read_cff(written.getvalue())
    top = again[0] if len(again.fontNames) == 1 else None
    if top is None or len(top.CharStrings) != len(cff[0].CharStrings) or len(again.GlobalSubrs) \
            or any(len(getattr(private, "Subrs", ())) for private in _privates(top)):
        raise CffRefused("the font written does not read back as written")
    return written.getvalue()
