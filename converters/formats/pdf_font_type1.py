"""Type 1 font programs (a descriptor's /FontFile) read without running them and written as a CFF
font (Type1C) holding the same glyphs.

A Type 1 font is a PostScript program: a reader that loads it runs it (a PostScript interpreter,
or a parser that imitates one). It is not kept as such. Its parts are found by their tokens, as
font parsers in PDF readers find them - the clear text for /FontName, /FontMatrix, /FontBBox and a
built-in /Encoding (StandardEncoding, or ``dup code /name put`` entries: simple fonts without an
/Encoding of their own, TeX's among them, rely on it), then the eexec-encrypted part for /lenIV,
/Subrs and /CharStrings (each entry ``/name length RD <bytes> ND``) - and nothing of it is run but
the glyph programs, by fontTools' Type 1 charstring reader drawing into a pen, with the
subroutine nesting of the Type 1 specification (10 levels), subroutine numbers checked and a
budget of work; an accented glyph made with ``seac`` is drawn from its two glyphs. The outlines
are written as Type 2 charstrings into a new CFF font with the same glyph names, matrix and
encoding (``pdf_font_cff`` then checks it as any CFF). Hints are not carried over. Multiple
Master and stroked (PaintType 2) fonts are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fontTools.encodings.StandardEncoding import StandardEncoding
from fontTools.fontBuilder import FontBuilder
from fontTools.misc.psCharStrings import T1CharString, T1OutlineExtractor
from fontTools.pens.recordingPen import RecordingPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.transformPen import TransformPen

from converters.formats.pdf_font_cff import Budget, compile_cff

MAX_NESTING = 10  # Type 1: subroutines called ten deep at most
MAX_GLYPHS = 65_535
MAX_SUBRS = 65_536
MAX_WORK = 16_000_000  # bytes of glyph program run for the whole font (a real one: well under a megabyte)
NAME = rb"[^\s/\[\]{}()<>%]{1,127}"
EEXEC = re.compile(rb"currentfile\s+eexec")
SUBRS = re.compile(rb"/Subrs\s+(\d{1,6})\s+array")
SUBR = re.compile(rb"\s*dup\s+(\d{1,6})\s+(\d{1,6})\s+\S{1,8} ")
CHARSTRINGS = re.compile(rb"/CharStrings\s+\d{1,6}\s+dict\s+dup\s+begin")
CHARSTRING = re.compile(rb"\s*/(" + NAME + rb")\s+(\d{1,6})\s+\S{1,8} ")
ENTRY_END = re.compile(rb"\s*(?:noaccess\s+(?:def|put)|ND|NP|\|-|\||def|put)")
LEN_IV = re.compile(rb"/lenIV\s+(-?\d{1,3})")
ENCODING_ARRAY = re.compile(rb"/Encoding\s+\d{1,3}\s+array")
ENCODING_ENTRY = re.compile(rb"dup\s+(\d{1,3})\s*/(" + NAME + rb")\s+put")
DEF = re.compile(rb"(?<![\w.])def\b")
HEX_DIGITS = re.compile(rb"[0-9A-Fa-f][0-9A-Fa-f\s]*")
NUMBERS = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class Type1Refused(Exception):
    """Not a Type 1 font this module reads (the message says why, without its content)."""


@dataclass
class _Font:
    name: str
    matrix: list[float]
    bbox: list[float] | None
    encoding: list[str] | None  # None: StandardEncoding
    subrs: list[T1CharString]
    glyphs: dict[str, T1CharString]


class _Work:
    def __init__(self, within: Budget | None) -> None:
        self.spent = 0
        self.within = within  # the document's budget (pdf_fonts)

    def spend(self, size: int) -> None:
        self.spent += size
        if self.spent > MAX_WORK:
            raise Type1Refused("the glyph programs are larger than any real font's")
        if self.within is not None:
            self.within.spend(size)


def _unwrap_pfb(data: bytes) -> bytes:
    """The font of a PFB file (segments after 0x80 markers), or ``data`` itself."""
    if not data.startswith(b"\x80"):
        return data
    parts, at = [], 0
    while at + 2 <= len(data) and data[at] == 0x80 and data[at + 1] in (1, 2):
        size = int.from_bytes(data[at + 2:at + 6], "little")
        parts.append(data[at + 6:at + 6 + size])
        at += 6 + size
    return b"".join(parts)


def _numbers(found: re.Match[bytes] | None, count: int) -> list[float] | None:
    if found is None:
        return None
    values = [float(item) for item in NUMBERS.findall(found.group(1))]
    return values if len(values) == count else None


def _encoding(clear: bytes) -> list[str] | None:
    if re.search(rb"/Encoding\s+StandardEncoding\s+def", clear):
        return None
    found = ENCODING_ARRAY.search(clear)
    if found is None:
        raise Type1Refused("a built-in encoding that is not read")
    end = DEF.search(clear, found.end())
    codes = [".notdef"] * 256
    for code, name in ENCODING_ENTRY.findall(clear[found.end():end.start() if end else len(clear)]):
        if int(code) < 256:
            codes[int(code)] = name.decode("latin-1")
    return codes


def _private(data: bytes, length1: int | None) -> tuple[bytes, bytes]:
    """The clear text and the decrypted private part."""
    found = EEXEC.search(data)
    if found is None:
        raise Type1Refused("no encrypted part")
    start = found.end()
    if length1 is not None and start <= length1 < len(data) and not data[start:length1].strip():
        start = length1  # /Length1: where the encrypted part begins (it may start with a whitespace byte)
    else:
        while start < len(data) and data[start] in b" \t\r\n":
            start += 1
    encrypted = data[start:]
    hexadecimal = HEX_DIGITS.match(encrypted)
    if hexadecimal is not None and re.fullmatch(rb"[0-9A-Fa-f]{4}", encrypted[:4]):
        digits = re.sub(rb"\s", b"", hexadecimal.group(0))  # written in hexadecimal (as a .pfa is)
        encrypted = bytes.fromhex(digits[:len(digits) // 2 * 2].decode("ascii"))
    return data[:found.start()], _decrypt(encrypted, 55665)[4:]


def _decrypt(data: bytes, key: int) -> bytes:
    """Type 1 decryption (Adobe Type 1 Font Format 7.1): eexec with key 55665, charstrings with 4330."""
    plain = bytearray(len(data))
    for at, byte in enumerate(data):
        plain[at] = byte ^ (key >> 8)
        key = ((byte + key) * 52845 + 22719) & 0xFFFF
    return bytes(plain)


def _charstring(data: bytes, len_iv: int, subrs: list[T1CharString] | None = None) -> T1CharString:
    if len_iv >= 0:
        data = _decrypt(data, 4330)[len_iv:]
    return T1CharString(bytecode=data, subrs=subrs)


def _entries(private: bytes, start: int, entry: re.Pattern[bytes], limit: int) -> list[tuple[bytes, bytes]]:
    """(key, bytes) of the entries ``key length RD <bytes> ND`` from ``start`` on."""
    found: list[tuple[bytes, bytes]] = []
    at = start
    while (match := entry.match(private, at)) is not None:
        size = int(match.group(2))
        data = private[match.end():match.end() + size]
        if len(data) != size or len(found) >= limit:
            raise Type1Refused("a glyph program cut short")
        found.append((match.group(1), data))
        at = match.end() + size
        tail = ENTRY_END.match(private, at)
        at = tail.end() if tail else at
    return found


def read_type1(data: bytes, length1: int | None = None) -> _Font:
    data = _unwrap_pfb(data)
    clear, private = _private(data, length1)
    if re.search(rb"/(?:BlendAxisTypes|WeightVector)\b", clear) or re.search(rb"/PaintType\s+2\b", clear):
        raise Type1Refused("a Multiple Master or stroked font")
    name = re.search(rb"/FontName\s*/(" + NAME + rb")", clear)
    matrix = _numbers(re.search(rb"/FontMatrix\s*[\[{]([^\]}]{0,200})[\]}]", clear), 6)
    bbox = _numbers(re.search(rb"/FontBBox\s*[\[{]([^\]}]{0,200})[\]}]", clear), 4)
    found_iv = LEN_IV.search(private)
    len_iv = int(found_iv.group(1)) if found_iv else 4
    subrs: list[T1CharString] = []
    found = SUBRS.search(private)
    if found is not None:
        entries = _entries(private, found.end(), SUBR, min(int(found.group(1)), MAX_SUBRS))
        subrs = [T1CharString()] * min(int(found.group(1)), MAX_SUBRS)
        for number, program in entries:
            if int(number) >= len(subrs):
                raise Type1Refused("a subroutine numbered past the end")
            subrs[int(number)] = _charstring(program, len_iv, subrs)
    found = CHARSTRINGS.search(private)
    if found is None:
        raise Type1Refused("no glyph programs")
    glyphs = {key.decode("latin-1"): _charstring(program, len_iv, subrs)
              for key, program in _entries(private, found.end(), CHARSTRING, MAX_GLYPHS)}
    if not glyphs:
        raise Type1Refused("no glyph programs")
    return _Font(name.group(1).decode("latin-1") if name else "Font", matrix or [0.001, 0, 0, 0.001, 0, 0], bbox,
                 _encoding(clear), subrs, glyphs)


class _Outline(T1OutlineExtractor):  # type: ignore[misc]  # fontTools has no type hints
    """fontTools' Type 1 outline reader, bounded, with ``sbw`` and ``seac``."""

    def __init__(self, pen: Any, font: _Font, work: _Work, seac: bool = True) -> None:
        super().__init__(pen, font.subrs)
        self.font = font
        self.work = work
        self.seac_allowed = seac

    def execute(self, charString: Any, **kwargs: Any) -> None:
        if len(self.callingStack) > MAX_NESTING:
            raise Type1Refused("subroutines nested deeper than Type 1 allows")
        self.work.spend(len(charString.bytecode or charString.program or ()))
        super().execute(charString, **kwargs)

    def op_callsubr(self, index: int) -> None:
        number = self.operandStack[-1] if self.operandStack else None
        if not isinstance(number, int) or not 0 <= number < len(self.subrs) \
                or (self.subrs[number].bytecode is None and self.subrs[number].program is None):
            raise Type1Refused("a subroutine call that names no subroutine")
        super().op_callsubr(index)

    def op_sbw(self, index: int) -> None:
        arguments = self.popall()
        if len(arguments) < 4:
            raise Type1Refused("sbw without its arguments")
        self.sbx, sby, self.width, _ = arguments[-4:]
        self.currentPoint = self.sbx, sby

    def op_seac(self, index: int) -> None:
        arguments = self.popall()
        if not self.seac_allowed or len(arguments) < 5:
            raise Type1Refused("an accented glyph that cannot be drawn")
        asb, adx, ady, base, accent = arguments[-5:]
        names = [StandardEncoding[int(code)] if 0 <= int(code) < 256 else "" for code in (base, accent)]
        if any(name not in self.font.glyphs for name in names):
            raise Type1Refused("an accented glyph made of glyphs the font does not have")
        self.endPath()
        _Outline(self.pen, self.font, self.work, seac=False).execute(self.font.glyphs[names[0]])
        shifted = TransformPen(self.pen, (1, 0, 0, 1, adx - asb + self.sbx, ady))
        _Outline(shifted, self.font, self.work, seac=False).execute(self.font.glyphs[names[1]])


def type1_to_cff(data: bytes, length1: int | None = None, within: Budget | None = None) -> bytes:
    """The Type 1 font program ``data`` as a bare CFF (Type1C) font program (``within``: the document's
    budget of work, spent from as well)."""
    font = read_type1(data, length1)
    work = _Work(within)
    order = [".notdef", *(name for name in font.glyphs if name != ".notdef")]
    charstrings = {}
    for name in order:
        recording = RecordingPen()
        width = 0.0
        if name in font.glyphs:
            outline = _Outline(recording, font, work)
            outline.execute(font.glyphs[name])
            width = outline.width
        pen = T2CharStringPen(width, None)
        recording.replay(pen)
        charstrings[name] = pen.getCharString()
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder(order)
    info: dict[str, Any] = {"FontMatrix": font.matrix}
    if font.bbox is not None:
        info["FontBBox"] = font.bbox
    builder.setupCFF(font.name, info, charstrings, {})
    cff = builder.font["CFF "].cff
    cff[0].Encoding = "StandardEncoding" if font.encoding is None else font.encoding
    return compile_cff(cff)
