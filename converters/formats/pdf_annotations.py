"""A page's annotations in the rebuilt PDF: only those that show something, with only their own keys.

Kept: the markup and note annotations readers draw (Text, FreeText, Line, Square, Circle, Polygon,
PolyLine, Highlight, Underline, Squiggly, StrikeOut, Caret, Stamp, Ink, Popup) and Link, whose
action may only go to a place in the document, turn the page, or open an http, https or mailto
address (the links the Office and OpenDocument rebuilds keep). Appearance streams are copied as
form XObjects through the allowlist. Form fields (Widget annotations) are flattened: what each
field shows - its normal appearance, or its value drawn anew where the file leaves that to the
reader (pdf_form_values) - is drawn into the page, and the field itself, with its actions, scripts
and the form around it, is not written; the values stay visible but can no longer be edited.
Every other annotation (file attachments, media, 3D, screens, printer marks, any subtype not
listed) is removed and reported.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.formats.pdf_active import name_of
from converters.formats.pdf_copy import Copier, Drop
from converters.formats.pdf_form_values import FieldValues
from converters.formats.pdf_navigation import Navigation
from converters.formats.pdf_schema import (
    FORM_XOBJECT,
    OPTIONAL_CONTENT,
    Each,
    Either,
    Shape,
    names,
    shape,
)

SHOWN = frozenset({"/Text", "/FreeText", "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Highlight",
                   "/Underline", "/Squiggly", "/StrikeOut", "/Caret", "/Stamp", "/Ink", "/Popup", "/Link"})
APPEARANCE = Either(stream=FORM_XOBJECT, dictionary=Each(FORM_XOBJECT))
# ISO 32000-2 12.5.2 (all annotations), 12.5.6.2 (markup) and the subtypes' own tables; the keys that
# name other objects (/P, /Popup, /Parent, /IRT, /Dest, /A) are set by this module, not copied
ANNOTATION: Shape = shape(
    "annotation", types=("Annot",), required=("Rect",), data=(
        "Type", "Subtype", "Rect", "Contents", "NM", "M", "F", "AS", "Border", "C", "CA", "ca", "BM", "Lang",
        "T", "CreationDate", "Subj", "RT", "IT", "IC", "LE", "L", "Vertices", "InkList", "QuadPoints", "RD",
        "Name", "Open", "State", "StateModel", "Q", "DA", "DS", "CL", "LL", "LLE", "Cap", "LLO", "CP", "CO",
        "Path", "H"),
    AP=shape("appearance", N=APPEARANCE, R=APPEARANCE, D=APPEARANCE), OC=OPTIONAL_CONTENT,
    BS=shape("border style", types=("Border",), data=("Type", "W", "D"), S=names("S", "D", "B", "I", "U")),
    BE=shape("border effect", data=("I",), S=names("S", "C")))
REFERENCES = ("/Popup", "/Parent", "/IRT")  # to other annotations: kept only when the other is kept
HIDDEN = 2 | 32  # annotation flags Hidden and NoView: a field that is not shown is not drawn either
Note = Callable[[str, str], None]


def _numbers(value: object, count: int) -> list[float] | None:
    if not isinstance(value, Array) or len(value) != count:
        return None
    items = list(value)
    if not all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in items):
        return None
    return [float(v) for v in items]


def placement(bbox: object, matrix: object, rect: object) -> list[float] | None:
    """The matrix that puts a form's bounding box (transformed by its own matrix) onto the
    annotation's rectangle, as a reader draws an appearance (ISO 32000-2 12.5.5)."""
    box, area = _numbers(bbox, 4), _numbers(rect, 4)
    m = _numbers(matrix, 6) if matrix is not None else [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    if box is None or area is None or m is None:
        return None
    corners = [(m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]) for x in box[0::2] for y in box[1::2]]
    x0, x1 = min(c[0] for c in corners), max(c[0] for c in corners)
    y0, y1 = min(c[1] for c in corners), max(c[1] for c in corners)
    left, right = min(area[0], area[2]), max(area[0], area[2])
    bottom, top = min(area[1], area[3]), max(area[1], area[3])
    if x1 - x0 <= 0 or y1 - y0 <= 0 or right - left <= 0 or top - bottom <= 0:
        return None
    sx, sy = (right - left) / (x1 - x0), (top - bottom) / (y1 - y0)
    return [sx, 0.0, 0.0, sy, left - x0 * sx, bottom - y0 * sy]


@dataclass
class PageAnnotations:
    """What a page gets: its annotations, and the field appearances to draw into it."""
    annots: Array = field(default_factory=Array)
    drawn: list[tuple[pikepdf.Object, list[float]]] = field(default_factory=list)


class Annotations:
    def __init__(self, copier: Copier, navigation: Navigation, note: Note, acroform: object = None) -> None:
        self.copier, self.navigation, self.note = copier, navigation, note
        self.values = FieldValues(copier.target, note, acroform)
        self._fields: set[tuple[int, int]] = set()
        self._widgets = self._counted = self._values_drawn = 0
        self._kept: dict[tuple[int, int], pikepdf.Object] = {}
        self._pending: list[tuple[pikepdf.Object, str, tuple[int, int]]] = []

    def page(self, annots: object, new_page: pikepdf.Object) -> PageAnnotations:
        result = PageAnnotations()
        for annot in list(annots) if isinstance(annots, Array) else []:
            if not isinstance(annot, Dictionary):
                continue
            subtype = name_of(annot.get("/Subtype"))
            if subtype == "/Widget":
                self._flatten(annot, result)
            elif subtype in SHOWN:
                made = self._annotation(annot, subtype, new_page)
                if made is not None:
                    result.annots.append(made)
            else:
                self.note("pdf_annotation_removed", subtype[1:] or "untyped")
        return result

    def link_references(self) -> None:
        """Popups, their parents and replies point at other annotations: only at kept ones. The
        flattened form is reported once, with how many fields it had and how many values were drawn
        (counts only: a value never goes into a finding)."""
        for made, key, target in self._pending:
            if target in self._kept:
                made[key] = self._kept[target]
        if self._widgets:
            fields = len(self._fields) + self._widgets - self._counted
            drawn = f", {self._values_drawn} value{'s' if self._values_drawn != 1 else ''} drawn" \
                if self._values_drawn else ""
            self.note("pdf_form_flattened", f"{fields} field{'s' if fields != 1 else ''}{drawn}")

    def _annotation(self, annot: Dictionary, subtype: str, new_page: pikepdf.Object) -> pikepdf.Object | None:
        copied = self.copier.copy(annot, ANNOTATION)
        if isinstance(copied, Drop) or not isinstance(copied, Dictionary):
            self.note("pdf_annotation_removed", subtype[1:])
            return None
        made = copied if copied.is_indirect else self.copier.target.make_indirect(copied)
        made["/Type"] = Name.Annot
        _mark_forms(made.get("/AP"))
        made["/P"] = new_page
        if annot.is_indirect:
            self._kept[annot.objgen] = made
        for key in REFERENCES:
            target = annot.get(key)
            if isinstance(target, Dictionary) and target.is_indirect:
                self._pending.append((made, key, target.objgen))
        if subtype == "/Link" and not self._link(annot, made):
            return None  # a link that goes nowhere any more (its action was not kept) is no use
        return made

    def _link(self, annot: Dictionary, made: pikepdf.Object) -> bool:
        dest = self.navigation.destination(annot.get("/Dest"))
        if dest is not None:
            made["/Dest"] = dest
            return True
        action = self.navigation.action(annot.get("/A"), links=True)
        if action is not None:
            made["/A"] = action
            return True
        return False

    def _flatten(self, annot: Dictionary, result: PageAnnotations) -> None:
        self._count(annot)
        flags = annot.get("/F")
        if isinstance(flags, int) and flags & HIDDEN:
            return
        look = self.values.look(annot)
        if look.original is not None:
            form = self.copier.copy(look.original, FORM_XOBJECT)
            if isinstance(form, pikepdf.Stream):
                _mark_form(form)
                matrix = placement(form.get("/BBox"), form.get("/Matrix"), annot.get("/Rect"))
                if matrix is not None:
                    result.drawn.append((form, matrix))
        if look.drawn is not None:
            drawn = self.values.form(annot, look.drawn, frame=look.original is None)
            if drawn is not None:
                result.drawn.append(drawn)
                self._values_drawn += 1

    def _count(self, annot: Dictionary) -> None:
        """One more widget; its field is the widget itself or, for a widget without a name of its
        own, the parent it belongs to (a radio group's buttons are one field)."""
        self._widgets += 1
        parent = annot.get("/Parent")
        owner = parent if "/T" not in annot and isinstance(parent, Dictionary) else annot
        if owner.is_indirect:
            self._fields.add(owner.objgen)
            self._counted += 1


def _mark_form(form: pikepdf.Object) -> None:
    form["/Type"] = Name.XObject
    form["/Subtype"] = Name.Form


def _mark_forms(appearance: object) -> None:
    """Appearance streams are form XObjects by definition, often written without saying so."""
    if not isinstance(appearance, Dictionary):
        return
    for entry in appearance.values():
        if isinstance(entry, pikepdf.Stream):
            _mark_form(entry)
        elif isinstance(entry, Dictionary):
            for state in entry.values():
                if isinstance(state, pikepdf.Stream):
                    _mark_form(state)
