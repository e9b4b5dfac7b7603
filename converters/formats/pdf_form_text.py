"""A form field's value drawn as the content of a new appearance: text laid out in the field's box,
or a check mark.

The text is shown in two standard Adobe-Japan1 CID fonts that are not embedded (Type0, CIDFontType0
"HeiseiKakuGo-W5"): readers draw them with an installed Japanese font, as they do for every
Japanese PDF made without embedded fonts, and read the text back from the character codes, which
are the value's own UTF-16 code units: ``UniJIS-UCS2-HW-H`` for the Basic Multilingual Plane
(ASCII and half-width katakana half an em wide, everything else a full em, the widths the font
dictionary declares) and ``UniJIS-UTF16-H`` for characters beyond it (𠮷, 𩸽: full width). Nothing
of the input's own fonts is used: a field's /DA names a font of the form's resources, which the
rebuilt document does not hold, and whose glyphs may not cover the value anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

FONT = "HeiseiKakuGo-W5"
BMP_FONT, WIDE_FONT = "/GwJ", "/GwJx"  # the names the appearance's resources give the two fonts
BMP_ENCODING, WIDE_ENCODING = "UniJIS-UCS2-HW-H", "UniJIS-UTF16-H"
HALF_WIDTH_CIDS = (231, 632)  # Adobe-Japan1's half-width glyphs, where the HW CMap puts ASCII
ASCENT, DESCENT = 0.88, -0.12  # of the ideographic em box, in em
LEADING = 1.2
PADDING = 2.0  # between the field's border and its text, in points (as Acrobat draws a field)
MIN_SIZE, AUTO_MULTILINE = 4.0, 12.0
MAX_CHARS = 10_000  # what a field can show at all: a longer value is drawn up to here
GETA = "〓"  # the mark Japanese printing uses for a character that cannot be set (here: a lone surrogate)


@dataclass(frozen=True)
class Style:
    """How a field asks its value to be drawn (from its /DA, /Q, /Ff, /MaxLen and /MK)."""
    size: float = 0.0  # 0: automatic
    color: str = "0 g"  # fill colour operators for the text
    align: int = 0  # 0 left, 1 centred, 2 right
    multiline: bool = False
    comb: int = 0  # the number of cells of a comb field, 0 when it is not one
    background: str = ""  # fill colour operators, "" for none
    border: str = ""  # stroke colour operators, "" for none
    border_width: float = 1.0


def _half(char: str) -> bool:
    return " " <= char <= "~" or "\uff61" <= char <= "\uff9f"


def em_width(text: str) -> float:
    return sum(0.5 if _half(char) else 1.0 for char in text)


def clean(value: str) -> str:
    """The value as it can be drawn: controls other than line breaks become spaces, a lone
    surrogate (a broken UTF-16 string) the geta mark, and nothing past ``MAX_CHARS``."""
    value = value[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    return "".join(GETA if "\ud800" <= c <= "\udfff" else " " if (c < " " and c != "\n") or c == "\x7f" else c
                   for c in value)


def wrap(line: str, limit: float) -> list[str]:
    """``line`` broken into pieces no wider than ``limit`` em (at least one character each),
    at the last space when a Latin word would be cut, anywhere in Japanese text."""
    pieces: list[str] = []
    start, used = 0, 0.0
    for index, char in enumerate(line):
        step = em_width(char)
        if used + step > limit and index > start:
            cut = index
            space = line.rfind(" ", start, index)
            if _half(char) and char != " " and space > start:
                cut = space + 1
            pieces.append(line[start:cut].rstrip(" "))
            start, used = cut, em_width(line[cut:index])
        used += step
    pieces.append(line[start:])
    return pieces


def _show(text: str, size: float) -> str:
    """Operators showing ``text`` at the current position, switching font for characters beyond
    the Basic Multilingual Plane."""
    runs: list[tuple[str, str]] = []
    for char in text:
        font = WIDE_FONT if ord(char) > 0xFFFF else BMP_FONT
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return "".join(f"{font} {size:.2f} Tf <{run.encode('utf-16-be').hex()}> Tj " for font, run in runs)


def _frame(width: float, height: float, style: Style) -> list[str]:
    ops: list[str] = []
    if style.background:
        ops.append(f"{style.background} 0 0 {width:.2f} {height:.2f} re f")
    if style.border and style.border_width > 0:
        half = style.border_width / 2
        ops.append(f"{style.border} {style.border_width:.2f} w {half:.2f} {half:.2f} "
                   f"{width - style.border_width:.2f} {height - style.border_width:.2f} re S")
    return ops


def _lines(value: str, room: float, size: float, style: Style) -> list[str]:
    if not style.multiline:
        return [value.replace("\n", " ")]
    return [piece for line in value.split("\n") for piece in wrap(line, room / size)]


def _fit(value: str, width: float, height: float, style: Style) -> tuple[float, list[str]]:
    """The font size (the field's own, or automatic; smaller when the value would not fit
    otherwise, but not below ``MIN_SIZE``) and the lines at that size."""
    room_w, room_h = max(width - 2 * PADDING, 1.0), max(height - 2 * PADDING, 1.0)
    size = style.size or (AUTO_MULTILINE if style.multiline else room_h)
    if not style.multiline:
        size = min(size, room_h)  # a single line is never taller than its box
    while True:
        lines = _lines(value, room_w, size, style)
        widest = max(em_width(line) for line in lines) * size
        tall = (len(lines) - 1) * size * LEADING + size
        if (widest <= room_w and tall <= room_h) or size <= MIN_SIZE:
            return max(size, MIN_SIZE), lines
        size = max(MIN_SIZE, size * 0.9)


def _comb(value: str, width: float, height: float, style: Style) -> list[str]:
    cells = style.comb
    cell = width / cells
    size = style.size or min(height - 2 * PADDING, cell) * 0.8
    size = max(MIN_SIZE, min(size, height))
    base = (height - size) / 2 - DESCENT * size
    ops = [f"BT {style.color}"]
    for index, char in enumerate(value.replace("\n", " ")[:cells]):
        x = index * cell + (cell - em_width(char) * size) / 2
        ops.append(f"1 0 0 1 {x:.2f} {base:.2f} Tm {_show(char, size)}")
    ops.append("ET")
    return ops


def text_appearance(value: str, width: float, height: float, style: Style) -> bytes:
    """The content of an appearance showing ``value`` in a box of ``width`` x ``height``."""
    ops = [*_frame(width, height, style), f"q {PADDING / 2:.2f} {PADDING / 2:.2f} {width - PADDING:.2f} "
                                          f"{height - PADDING:.2f} re W n"]
    if style.comb > 0 and not style.multiline:
        ops += _comb(value, width, height, style)
    else:
        size, lines = _fit(value, width, height, style)
        if style.multiline:
            first = height - PADDING - ASCENT * size
        else:
            first = (height - size) / 2 - DESCENT * size
        ops.append(f"BT {style.color}")
        for number, line in enumerate(lines):
            y = first - number * size * LEADING
            if y + ASCENT * size < 0:
                break  # below the box: it would not show
            spare = width - 2 * PADDING - em_width(line) * size
            x = PADDING + (spare if style.align == 2 else spare / 2 if style.align == 1 else 0)
            ops.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm {_show(line, size)}")
        ops.append("ET")
    ops.append("Q")
    return ("\n".join(ops) + "\n").encode("ascii")


def mark_appearance(width: float, height: float, color: str, shape: str, style: Style) -> bytes:
    """A check box's or radio button's "on" look, drawn: a check, a cross or a dot."""
    side = min(width, height)
    x0, y0 = (width - side) / 2, (height - side) / 2
    ops = _frame(width, height, style)
    stroke = color.replace(" g", " G").replace(" rg", " RG").replace(" k", " K")
    if shape == "dot":
        r, cx, cy, k = side * 0.25, width / 2, height / 2, side * 0.25 * 0.5523
        ops.append(f"{color} {cx + r:.2f} {cy:.2f} m {cx + r:.2f} {cy + k:.2f} {cx + k:.2f} {cy + r:.2f} {cx:.2f} "
                   f"{cy + r:.2f} c {cx - k:.2f} {cy + r:.2f} {cx - r:.2f} {cy + k:.2f} {cx - r:.2f} {cy:.2f} c "
                   f"{cx - r:.2f} {cy - k:.2f} {cx - k:.2f} {cy - r:.2f} {cx:.2f} {cy - r:.2f} c {cx + k:.2f} "
                   f"{cy - r:.2f} {cx + r:.2f} {cy - k:.2f} {cx + r:.2f} {cy:.2f} c f")
    elif shape == "cross":
        a, b = side * 0.2, side * 0.8
        ops.append(f"{stroke} {side * 0.1:.2f} w {x0 + a:.2f} {y0 + a:.2f} m {x0 + b:.2f} {y0 + b:.2f} l "
                   f"{x0 + a:.2f} {y0 + b:.2f} m {x0 + b:.2f} {y0 + a:.2f} l S")
    else:
        ops.append(f"{stroke} {side * 0.12:.2f} w 1 J 1 j {x0 + side * 0.2:.2f} {y0 + side * 0.52:.2f} m "
                   f"{x0 + side * 0.42:.2f} {y0 + side * 0.25:.2f} l {x0 + side * 0.8:.2f} {y0 + side * 0.8:.2f} l S")
    return ("\n".join(ops) + "\n").encode("ascii")
