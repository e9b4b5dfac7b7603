"""What a flattened form field shows: its own appearance, or its value drawn anew.

A field's look is its normal appearance (/AP /N, the state /AS names for buttons). Many files carry
the value without a usable look: the form says /NeedAppearances true (the reader is to draw every
field from its value: LibreOffice, and many web form fillers, write such files), a field has no
appearance, or one that shows no text (LibreOffice writes ``/Tx BMC EMC``). A reader with form
support draws the value itself; the flattened page has no form left, so the value is drawn here,
into a new form XObject at the widget's rectangle (pdf_form_text lays it out): text fields and
choice fields (the selected entries, by their display names) from /V, inherited from the parent
fields, with the field's /DA font size and colour, /Q alignment, multiline and comb layout.
A password field's value is never drawn. A check box or radio button that is on but has no look
for its state (LibreOffice names the state /Yes and its look /on) is drawn with its one "on" look,
or with a drawn mark when it has none. Under /NeedAppearances an appearance that shows text may be
stale: the value is drawn instead of it (with the border and background /MK asks for); one that
shows no text is drawn under the value (it is the box's decoration).

The new XObject is written into a scratch document and copied into the output through the same
allowlist (``pdf_copy``, ``FORM_XOBJECT``) as every appearance of the input, with a copier of its
own (objects of two documents must not share the memo of copies).
"""

from __future__ import annotations

import dataclasses
import decimal
import re
from collections.abc import Callable
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from converters.formats.pdf_active import name_of
from converters.formats.pdf_copy import Copier
from converters.formats.pdf_form_text import (
    BMP_ENCODING,
    BMP_FONT,
    FONT,
    HALF_WIDTH_CIDS,
    WIDE_ENCODING,
    WIDE_FONT,
    Style,
    clean,
    mark_appearance,
    text_appearance,
)
from converters.formats.pdf_schema import FORM_XOBJECT

MAX_PARENTS = 32
MULTILINE, PASSWORD, COMB = 1 << 12, 1 << 13, 1 << 24  # field flags (ISO 32000-2 12.7.5.3-4)
RADIO, PUSHBUTTON, COMBO = 1 << 15, 1 << 16, 1 << 17
SHOWS_TEXT = frozenset({"Tj", "TJ", "'", '"', "Do"})  # an XObject drawn may hold the text
PAINTS = SHOWS_TEXT | {"f", "F", "f*", "S", "s", "B", "B*", "b", "b*", "sh", "INLINE IMAGE"}
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
COLOUR_OPERATORS = {"g": 1, "rg": 3, "k": 4}


@dataclass
class Look:
    """The input's appearance to draw (None: none), and a drawn one to put over it."""
    original: pikepdf.Stream | None
    drawn: tuple[str, str] | None = None  # ("text", the value) or ("mark", check, cross or dot)


def inherited(field: Dictionary, key: str) -> object:
    """The field's own value for ``key``, or the nearest one up its /Parent chain."""
    node: object = field
    for _ in range(MAX_PARENTS):
        if not isinstance(node, Dictionary):
            return None
        for name, value in node.items():  # not get(key): it refuses names that are not UTF-8
            if name == key:
                return value
        node = node.get("/Parent")
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        return float(value)
    return None


def _operators(stream: pikepdf.Stream, wanted: frozenset[str]) -> bool:
    """Whether the stream uses one of ``wanted`` (False when it cannot be read: nothing shows then)."""
    try:
        return any(str(item.operator) in wanted for item in pikepdf.parse_content_stream(stream))
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError):
        return False


def _colour(value: object) -> str:
    """Colour operators from an /MK colour array (1, 3 or 4 numbers from 0 to 1), "" otherwise."""
    items = [_number(item) for item in value] if isinstance(value, Array) else []
    if len(items) not in (1, 3, 4) or any(item is None or not 0 <= item <= 1 for item in items):
        return ""
    operator = {1: "g", 3: "rg", 4: "k"}[len(items)]
    return " ".join(f"{item:.3f}" for item in items if item is not None) + f" {operator}"


def _appearance(annot: Dictionary, state: str, stand_in: bool) -> pikepdf.Stream | None:
    """The widget's normal appearance for ``state``; with ``stand_in``, for an "on" state that has
    none, the one "on" look there is (LibreOffice names the state /Yes and the look /on)."""
    appearance = annot.get("/AP")
    normal = appearance.get("/N") if isinstance(appearance, Dictionary) else None
    if isinstance(normal, pikepdf.Stream) or not isinstance(normal, Dictionary):
        return normal if isinstance(normal, pikepdf.Stream) else None
    looks = {name: look for name, look in normal.items() if isinstance(look, pikepdf.Stream)}
    on = [look for name, look in looks.items() if name != "/Off"]
    if stand_in and state not in looks and state and state != "/Off" and len(on) == 1:
        return on[0]
    return looks.get(state)


class FieldValues:
    def __init__(self, target: pikepdf.Pdf, note: Callable[[str, str], None], acroform: object) -> None:
        self.scratch = pikepdf.new()
        self.copier = Copier(target, note)
        form = acroform if isinstance(acroform, Dictionary) else Dictionary()
        need: object = inherited(form, "/NeedAppearances")
        self.need_appearances = need is True
        self.form_da, self.form_q = form.get("/DA"), form.get("/Q")
        self._fonts: Dictionary | None = None

    def look(self, annot: Dictionary) -> Look:
        kind = name_of(inherited(annot, "/FT"))
        flags = inherited(annot, "/Ff")
        flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
        state: object = annot.get("/AS")
        own = isinstance(state, Name)  # the widget's own state, not its field's value
        if not own:
            state = inherited(annot, "/V") if kind == "/Btn" else None
        normal = _appearance(annot, str(state) if isinstance(state, Name) else "", stand_in=own)
        if kind == "/Btn" and not flags & PUSHBUTTON:
            # a radio group's value names one of its buttons: it is this one only if this one has its look
            on = isinstance(state, Name) and str(state) != "/Off" and (own or normal is not None or not flags & RADIO)
            if not on or (normal is not None and _operators(normal, PAINTS)):
                return Look(normal)
            shape = {"8": "cross", "l": "dot"}.get(self._caption(annot), "dot" if flags & RADIO else "check")
            return Look(normal, ("mark", shape))
        if kind not in ("/Tx", "/Ch"):
            return Look(normal)
        shows_text = normal is not None and _operators(normal, SHOWS_TEXT)
        if shows_text and not self.need_appearances:
            return Look(normal)  # the field's own look, as the reader would show it
        value = None if flags & PASSWORD else self._value(annot, kind)
        if not value:
            return Look(None if shows_text else normal)  # a stale look is not shown, nor a password's
        return Look(None if shows_text else normal, ("text", value))

    def _caption(self, annot: Dictionary) -> str:
        mk = annot.get("/MK")
        caption = mk.get("/CA") if isinstance(mk, Dictionary) else None
        return bytes(caption).decode("latin-1") if isinstance(caption, String) else ""

    def _value(self, annot: Dictionary, kind: str) -> str:
        value = inherited(annot, "/V")
        if kind == "/Tx":
            return clean(str(value)) if isinstance(value, String) else ""
        chosen = [str(item) for item in (value if isinstance(value, Array) else [value]) if isinstance(item, String)]
        options = inherited(annot, "/Opt")
        shown: dict[str, str] = {}
        for option in options if isinstance(options, Array) else []:
            if isinstance(option, Array) and len(option) == 2 and all(isinstance(o, String) for o in option):
                shown.setdefault(str(option[0]), str(option[1]))  # [export value, what the list shows]
        return clean("\n".join(shown.get(item, item) for item in chosen))

    def style(self, annot: Dictionary, multiline: bool) -> Style:
        flags = inherited(annot, "/Ff")
        flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
        da = inherited(annot, "/DA")
        da = da if isinstance(da, String) else self.form_da
        size, colour = 0.0, "0 g"
        tokens = bytes(da).decode("latin-1").split() if isinstance(da, String) else []
        for index, word in enumerate(tokens):
            numbers = tokens[max(0, index - 4):index]
            if word == "Tf" and numbers and NUMBER.fullmatch(numbers[-1]):
                size = min(max(float(numbers[-1]), 0.0), 300.0)
            elif word in COLOUR_OPERATORS:
                wanted = numbers[-COLOUR_OPERATORS[word]:]
                if len(wanted) == COLOUR_OPERATORS[word] and all(NUMBER.fullmatch(n) for n in wanted):
                    colour = " ".join(f"{min(max(float(n), 0.0), 1.0):.3f}" for n in wanted) + f" {word}"
        quadding = inherited(annot, "/Q")
        quadding = quadding if isinstance(quadding, int) else self.form_q
        align = quadding if isinstance(quadding, int) and quadding in (0, 1, 2) else 0
        max_len = inherited(annot, "/MaxLen")
        comb = max_len if flags & COMB and isinstance(max_len, int) and 0 < max_len <= 1000 else 0
        mk = annot.get("/MK")
        mk = mk if isinstance(mk, Dictionary) else Dictionary()
        border = annot.get("/BS")
        width = _number(border.get("/W")) if isinstance(border, Dictionary) else None
        return Style(size=size, color=colour, align=align,
                     multiline=multiline, comb=comb, background=_colour(mk.get("/BG")),
                     border=_colour(mk.get("/BC")).replace(" g", " G").replace(" rg", " RG").replace(" k", " K"),
                     border_width=min(max(width if width is not None else 1.0, 0.0), 12.0))

    def form(self, annot: Dictionary, drawn: tuple[str, str], frame: bool) -> tuple[pikepdf.Object, list[float]] | None:
        """The drawn look as a form XObject in the output, and the matrix placing it on the page."""
        rect = annot.get("/Rect")
        area = [_number(item) for item in rect] if isinstance(rect, Array) and len(rect) == 4 else []
        if len(area) != 4 or any(item is None for item in area):
            return None
        x0, y0, x1, y1 = (float(item) for item in area if item is not None)
        left, bottom, width, height = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        if not (1.0 <= width <= 14400 and 1.0 <= height <= 14400):
            return None
        kind, value = drawn
        flags = inherited(annot, "/Ff")
        flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
        combo_list = name_of(inherited(annot, "/FT")) == "/Ch" and not flags & COMBO
        style = self.style(annot, multiline=bool(flags & MULTILINE) or combo_list)
        if not frame:
            style = dataclasses.replace(style, background="", border="")
        if kind == "mark":
            content = mark_appearance(width, height, style.color, value, style)
        else:
            content = text_appearance(value, width, height, style)
        stream = self.scratch.make_stream(content, Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, width, height],
                                          Resources=Dictionary(Font=self._font_resources()))
        copied = self.copier.copy(stream, FORM_XOBJECT)
        if not isinstance(copied, pikepdf.Stream):
            return None
        return copied, [1.0, 0.0, 0.0, 1.0, left, bottom]

    def _font_resources(self) -> Dictionary:
        if self._fonts is None:
            self._fonts = Dictionary({BMP_FONT: self._font(BMP_ENCODING, Array([*HALF_WIDTH_CIDS, 500])),
                                      WIDE_FONT: self._font(WIDE_ENCODING, None)})
        return self._fonts

    def _font(self, encoding: str, widths: Array | None) -> pikepdf.Object:
        descriptor = Dictionary(Type=Name.FontDescriptor, FontName=Name(f"/{FONT}"), Flags=4, ItalicAngle=0,
                                FontBBox=[-92, -250, 1010, 922], Ascent=880, Descent=-120, CapHeight=737, StemV=80)
        cid_font = Dictionary(Type=Name.Font, Subtype=Name.CIDFontType0, BaseFont=Name(f"/{FONT}"), DW=1000,
                              CIDSystemInfo=Dictionary(Registry=String("Adobe"), Ordering=String("Japan1"),
                                                       Supplement=6), FontDescriptor=descriptor)
        if widths is not None:
            cid_font["/W"] = widths
        return self.scratch.make_indirect(Dictionary(
            Type=Name.Font, Subtype=Name.Type0, BaseFont=Name(f"/{FONT}-{encoding}"), Encoding=Name(f"/{encoding}"),
            DescendantFonts=Array([self.scratch.make_indirect(cid_font)])))
