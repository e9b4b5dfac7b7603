"""Copy objects from the input PDF into the new one by the allowlist of ``pdf_schema``.

Each value is copied as the kind its place calls for: a dictionary keeps only the keys its
shape lists, each copied as that key's kind; a stream keeps its data (still encoded) only when
every filter is a standard one and the data is inside the file - an image's data is decoded and
written anew (``pdf_images``), never kept. Whatever is not copied is
judged with the rest of the input by ``pdf_active`` for the findings. An indirect object is copied once per kind (so a
shared font stays shared, cycles end, and an object reached as two kinds cannot smuggle one
kind's keys into the other); ``copied`` records every input object carried over, so the objects
nothing copied can be judged too.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.formats.pdf_active import EXTERNAL_STREAM_KEYS, RISKY_KEYS, name_of
from converters.formats.pdf_images import CODECS, MAX_PIXELS, ImageWriter, NewImage
from converters.formats.pdf_schema import (
    CIE_PARAMS,
    COLOR_SPACE,
    COLOR_SPACE_FAMILIES,
    DATA,
    DECODE_PARMS,
    DEVICEN_ATTRIBUTES,
    FILTERS,
    FUNCTION,
    ICC_PROFILE,
    IMAGE,
    MASK_IMAGE,
    PLAIN_STREAM,
    ArrayOf,
    Each,
    Either,
    Kind,
    Names,
    Shape,
    Tagged,
)

# nothing a page draws nests deeper (a form in a pattern in a form ... is a few levels)
MAX_DEPTH = 48
STREAM_KEYS = frozenset({"/Length", "/Filter", "/DecodeParms"})
# names an entry of a name -> object dictionary (fonts, XObjects, glyph procedures ...) may not have:
# a reader or scanner that meets the key takes the dictionary for what the key says
# (a font named /FontFile2 made its font dictionary look like a descriptor naming a font program)
RESERVED_NAMES = frozenset({"/Type", "/Metadata", "/PieceInfo", "/AcroForm", "/FontFile", "/FontFile2", "/FontFile3",
                            *RISKY_KEYS})


def _program(stream: pikepdf.Stream, rewrite: Callable[[bytes], bytes | None]) -> bytes | None:
    try:
        return rewrite(stream.read_bytes())
    except pikepdf.PdfError:  # data its filters cannot undo
        return None


class Drop:
    """Not carried over (``None`` is PDF's null, a value an array may hold)."""


DROP = Drop()
Copied = object  # a value the new document holds, or DROP
Objgen = tuple[int, int]


def _listed(filters: object) -> list[object]:
    return list(filters) if isinstance(filters, Array) else [] if filters is None else [filters]


def _tag(value: object) -> str:
    if isinstance(value, Name):
        return name_of(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


class Copier:
    def __init__(self, target: pikepdf.Pdf, note: Callable[[str, str], None],
                 max_image_pixels: int = MAX_PIXELS) -> None:
        self.target = target
        self.note = note
        self.copied: set[Objgen] = set()
        self._memo: dict[tuple[Objgen, int], pikepdf.Object] = {}
        self.images = ImageWriter(target, note, max_image_pixels)

    def copy(self, value: object, kind: Kind, depth: int = 0) -> Copied:
        if depth > MAX_DEPTH:
            self.note("pdf_unknown_structure_removed", "nested too deep")
            return DROP
        if kind == DATA:
            return self._data(value, depth)
        if kind == COLOR_SPACE:
            return self._color_space(value, depth)
        if isinstance(kind, Names):
            return Name(str(value)) if isinstance(value, Name) and name_of(value) in kind.allowed else DROP
        if isinstance(kind, Shape):
            return self._shaped(value, kind, depth)
        if isinstance(kind, Tagged):
            return self._tagged(value, kind, depth)
        if isinstance(kind, Either):
            return self._either(value, kind, depth)
        if isinstance(kind, Each | ArrayOf):
            return self._container(value, kind, depth)
        raise AssertionError(f"unknown kind {kind!r}")  # a mistake in the tables, not in the input

    def _data(self, value: object, depth: int) -> Copied:
        if value is None or isinstance(value, bool | int | float | decimal.Decimal):
            return value
        if isinstance(value, Name):
            return Name(str(value))
        if isinstance(value, pikepdf.String):
            return pikepdf.String(bytes(value))
        if isinstance(value, Array) and depth <= MAX_DEPTH:
            items = [self._data(item, depth + 1) for item in value]
            if not any(isinstance(item, Drop) for item in items):
                return Array(items)
        return DROP

    def _memo_key(self, value: object, kind: Kind) -> tuple[Objgen, int] | None:
        if isinstance(value, pikepdf.Object) and value.is_indirect:
            return value.objgen, id(kind)
        return None

    def _remember(self, key: tuple[Objgen, int] | None, made: pikepdf.Object) -> pikepdf.Object:
        if key is not None:
            self._memo[key] = made
            self.copied.add(key[0])
        return made

    def _either(self, value: object, kind: Either, depth: int) -> Copied:
        if isinstance(value, pikepdf.Stream):
            chosen = kind.stream
        elif isinstance(value, Dictionary):
            chosen = kind.dictionary
        elif isinstance(value, Array):
            chosen = kind.array
        else:
            chosen = DATA if kind.scalar else None
        return DROP if chosen is None else self.copy(value, chosen, depth)

    def _tagged(self, value: object, kind: Tagged, depth: int) -> Copied:
        if not isinstance(value, Dictionary | pikepdf.Stream):
            return DROP
        tag = _tag(value.get(kind.key))
        chosen = kind.shapes.get(tag)
        if chosen is None:
            if kind.visible:
                self.note("pdf_unknown_structure_removed", f"{kind.label} {tag or 'untyped'}")
            return DROP
        return self.copy(value, chosen, depth)

    def _container(self, value: object, kind: Each | ArrayOf, depth: int) -> Copied:
        key = self._memo_key(value, kind)
        if key is not None and key in self._memo:
            return self._memo[key]
        if isinstance(kind, Each) and isinstance(value, Dictionary):
            made: pikepdf.Object = Dictionary()
            made = self._remember(key, self.target.make_indirect(made) if key else made)
            for name, member in list(value.items()):  # not get(name): it refuses names that are not UTF-8
                if name in RESERVED_NAMES:  # a font named /Type or /JS: readers take the key for what it says
                    self.note("pdf_unknown_structure_removed", f"an entry named {name[:40]}")
                    continue
                item = self.copy(member, kind.kind, depth + 1)
                if not isinstance(item, Drop):
                    made[name] = item
            return made
        if isinstance(kind, ArrayOf) and isinstance(value, Array):
            made = self._remember(key, self.target.make_indirect(Array()) if key else Array())
            for element in value:
                item = self.copy(element, kind.kind, depth + 1)
                if not isinstance(item, Drop):
                    made.append(item)
            return made
        return DROP

    def _stream_refused(self, value: pikepdf.Stream, depth: int) -> tuple[Copied, Copied] | None:
        """The stream's filters and their parameters as copied, or None when it cannot be kept."""
        if any(key in value for key in EXTERNAL_STREAM_KEYS):
            self.note("pdf_external_link_removed", "stream data in another file")
            return None
        filters = value.get("/Filter")
        listed = list(filters) if isinstance(filters, Array) else [] if filters is None else [filters]
        unknown = [name_of(item) or "not a name" for item in listed if name_of(item) not in FILTERS]
        if unknown:
            self.note("pdf_unknown_structure_removed", f"filter {unknown[0]}")
            return None
        parms = value.get("/DecodeParms")
        copied_parms: Copied = None
        if isinstance(parms, Array):
            each = [None if item is None else self.copy(item, DECODE_PARMS, depth + 1) for item in parms]
            if any(isinstance(item, Drop) for item in each):
                return None
            copied_parms = Array(each)
        elif parms is not None:
            copied_parms = self.copy(parms, DECODE_PARMS, depth + 1)
        if isinstance(copied_parms, Drop):
            return None
        return self._data(filters, depth), copied_parms

    def _shaped(self, value: object, kind: Shape, depth: int) -> Copied:
        if not isinstance(value, Dictionary | pikepdf.Stream):
            return DROP
        is_stream = isinstance(value, pikepdf.Stream)
        if kind.stream is not None and kind.stream != is_stream:
            return DROP
        if any(key not in value for key in kind.required):
            return DROP
        key = self._memo_key(value, kind)
        if key is not None and key in self._memo:
            return self._memo[key]
        image: NewImage | None = None
        if isinstance(value, pikepdf.Stream):
            filters = self._stream_refused(value, depth)
            if filters is None:
                return DROP
            if kind is IMAGE or kind is MASK_IMAGE:  # images: pixels decoded and encoded anew (pdf_images)
                image = self.images.rewrite(value)
                if image is None:
                    return DROP
                made: pikepdf.Object = image.stream
            elif kind.program is not None:  # a program is written anew (unencoded: the writer compresses it)
                program = _program(value, kind.program)
                if program is None:
                    self.note("pdf_unknown_structure_removed", kind.label)
                    return DROP
                made = pikepdf.Stream(self.target, program)
            else:
                if any(name_of(item) in CODECS for item in _listed(value.get("/Filter"))):
                    # no picture: pdf.js and poppler would still run the codec's decoder on the attacker's bytes
                    self.note("pdf_unknown_structure_removed", f"{kind.label} under an image codec")
                    return DROP
                made = pikepdf.Stream(self.target, value.read_raw_bytes())
                for name, item in zip(("/Filter", "/DecodeParms"), filters, strict=True):
                    if item is not None:
                        made[name] = item
            self._remember(key, made)
        else:
            made = self._remember(key, self.target.make_indirect(Dictionary()) if key else Dictionary())
        for name, member in list(value.items()):
            if is_stream and name in STREAM_KEYS:
                continue
            if name == "/Type" and name_of(member) not in kind.types:
                continue  # only a /Type the shape names: a font typed /Action is written as a font, untyped
            item = self.copy(member, kind.keys[name], depth + 1) if name in kind.keys else DROP
            if not isinstance(item, Drop) and item is not None:
                made[name] = item
        if image is not None:  # the dictionary as the new samples need it (pdf_images)
            image.settle(made)
        if kind.finish is not None:  # completed by its own code (a font descriptor's program: pdf_fonts)
            kind.finish(value, made, self)
        return made

    def _color_space(self, value: object, depth: int) -> Copied:
        if isinstance(value, Name):
            return Name(str(value))
        if not isinstance(value, Array) or len(value) == 0 or name_of(value[0]) not in COLOR_SPACE_FAMILIES:
            self.note("pdf_unknown_structure_removed", "colour space")
            return DROP
        key = self._memo_key(value, COLOR_SPACE)
        if key is not None and key in self._memo:
            return self._memo[key]
        family = name_of(value[0])
        table: dict[str, list[Kind]] = {
            "/CalGray": [CIE_PARAMS], "/CalRGB": [CIE_PARAMS], "/Lab": [CIE_PARAMS], "/ICCBased": [ICC_PROFILE],
            "/Indexed": [COLOR_SPACE, DATA, Either(stream=PLAIN_STREAM, scalar=True)],
            "/Separation": [DATA, COLOR_SPACE, FUNCTION], "/Pattern": [COLOR_SPACE],
            "/DeviceN": [DATA, COLOR_SPACE, FUNCTION, DEVICEN_ATTRIBUTES]}
        kinds = table.get(family, [])
        rest = list(value)[1:]
        if len(rest) > len(kinds) or (len(rest) < len(kinds) and family not in ("/DeviceN", "/Pattern")):
            self.note("pdf_unknown_structure_removed", f"colour space {family}")
            return DROP
        items = [self.copy(item, item_kind, depth + 1) for item, item_kind in zip(rest, kinds, strict=False)]
        if any(isinstance(item, Drop) for item in items):
            self.note("pdf_unknown_structure_removed", f"colour space {family}")
            return DROP
        made = Array([Name(family), *items])
        return self._remember(key, self.target.make_indirect(made)) if key else made
