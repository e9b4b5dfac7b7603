"""The rebuilt PDF: a new document made of the input's pages, written from the allowlist.

The catalog gets only the page tree, the outline, named destinations (/Names holds nothing but
/Dests), page labels, viewer preferences, the page layout and mode, the language and the
optional content configuration (which layers show: without it a hidden layer would appear).
Not written, by decision: the document's metadata (the /Info dictionary and the XMP stream: an XML
packet that can hold anything, including the history of edits and whole thumbnails - dropped
as image metadata is), the structure tree (tags for accessibility: /StructTreeRoot and /MarkInfo;
every element would need its own allowlist, and the page text and its order do not depend on
it), the form (/AcroForm: its fields are flattened into the pages, see pdf_annotations), the
opening action (even a harmless one: the document opens at its first page), threads, collections,
permissions, legal and requirement dictionaries, private application data (/PieceInfo),
signatures and their validation data (/DSS; a changed document's signature would be broken
anyway), and anything else a future version adds. Each page keeps its boxes, rotation, user
unit, tab order, transparency group, resources (allowlisted, pdf_schema) and content streams;
inherited attributes are resolved from the page tree onto the page, so nothing is lost.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.formats.pdf_active import EXTERNAL_STREAM_KEYS
from converters.formats.pdf_annotations import Annotations, PageAnnotations
from converters.formats.pdf_content import content_program
from converters.formats.pdf_copy import DROP, Copier, Drop
from converters.formats.pdf_images import MAX_PIXELS
from converters.formats.pdf_navigation import Navigation
from converters.formats.pdf_schema import (
    DATA,
    GROUP,
    OPTIONAL_CONTENT_GROUP,
    RESOURCES,
    ArrayOf,
    Either,
    Kind,
    names,
    shape,
)

DEFAULT_MEDIA_BOX = (0, 0, 612, 792)  # what readers assume for a page without one (US Letter)
MAX_TREE_DEPTH = 64
_OCG_LIST = ArrayOf(OPTIONAL_CONTENT_GROUP)
_ORDER_ITEM = Either(dictionary=OPTIONAL_CONTENT_GROUP, scalar=True)
_ORDER = ArrayOf(Either(dictionary=OPTIONAL_CONTENT_GROUP, scalar=True, array=ArrayOf(Either(
    dictionary=OPTIONAL_CONTENT_GROUP, scalar=True, array=ArrayOf(_ORDER_ITEM)))))
_OC_CONFIG = shape("optional content configuration", data=("Name", "Creator", "BaseState", "ListMode", "Intent"),
                   ON=_OCG_LIST, OFF=_OCG_LIST, Locked=_OCG_LIST, RBGroups=ArrayOf(_OCG_LIST), Order=_ORDER)
CATALOG: dict[str, Kind] = {
    "/PageLayout": names("SinglePage", "OneColumn", "TwoColumnLeft", "TwoColumnRight", "TwoPageLeft", "TwoPageRight"),
    "/PageMode": names("UseNone", "UseOutlines", "UseThumbs", "FullScreen", "UseOC"),
    "/Lang": DATA,
    "/ViewerPreferences": shape("viewer preferences", data=(
        "HideToolbar", "HideMenubar", "HideWindowUI", "FitWindow", "CenterWindow", "DisplayDocTitle",
        "NonFullScreenPageMode", "Direction", "ViewArea", "ViewClip", "PrintArea", "PrintClip", "PrintScaling",
        "Duplex", "PickTrayByPDFSize", "PrintPageRange", "NumCopies")),
    "/OCProperties": shape("optional content properties", required=("OCGs",), OCGs=_OCG_LIST, D=_OC_CONFIG),
}
PAGE_DATA = ("/BleedBox", "/TrimBox", "/ArtBox", "/UserUnit", "/Tabs")
Note = Callable[[str, str], None]


def _inherited(page: pikepdf.Object, key: str) -> object:
    """The page's own value, or the nearest one up the page tree (ISO 32000-2 7.7.3.4)."""
    node: object = page
    for _ in range(MAX_TREE_DEPTH):
        if not isinstance(node, Dictionary):
            return None
        if key in node:
            return node.get(key)
        node = node.get("/Parent")
    return None


def _box(copier: Copier, value: object) -> Array | None:
    copied = copier.copy(value, DATA) if value is not None else None
    if not isinstance(copied, Array) or len(copied) != 4:
        return None
    if not all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in copied):
        return None
    return copied


def _contents(copier: Copier, value: object) -> list[pikepdf.Object]:
    """The page's content streams joined (a stream may end between an operator's operands and the
    operator, ISO 32000-2 7.8.2) and written anew as one (``pdf_content``); [] when none is readable."""
    items = list(value) if isinstance(value, Array) else [value]
    pieces = []
    for item in items:
        if not isinstance(item, pikepdf.Stream) or any(key in item for key in EXTERNAL_STREAM_KEYS):
            continue
        try:
            pieces.append(item.read_bytes())
        except pikepdf.PdfError:
            copier.note("pdf_unknown_structure_removed", "a page content stream that cannot be decoded")
    if not pieces:
        return []
    program = content_program(b"\n".join(pieces))
    if program is None:
        copier.note("pdf_unknown_structure_removed", "a page content that cannot be read")
        return []
    return [pikepdf.Stream(copier.target, program)]


def _draw_fields(target: pikepdf.Pdf, made: pikepdf.Object, resources: object, contents: list[pikepdf.Object],
                 fields: PageAnnotations) -> None:
    """Draw the flattened fields over the page (after its own content, in a clean graphics state)."""
    own = Dictionary({key: value for key, value in resources.items()}) if isinstance(resources, Dictionary) \
        else Dictionary()
    xobjects = own.get("/XObject")
    xobjects = Dictionary({k: v for k, v in xobjects.items()}) if isinstance(xobjects, Dictionary) else Dictionary()
    drawing = []
    for form, (a, b, c, d, e, f) in fields.drawn:
        number = len(xobjects)
        while f"/GwField{number}" in xobjects:
            number += 1
        xobjects[f"/GwField{number}"] = form
        drawing.append(f"q {a:.6f} {b:.6f} {c:.6f} {d:.6f} {e:.6f} {f:.6f} cm /GwField{number} Do Q\n")
    own["/XObject"] = xobjects
    made["/Resources"] = own
    made["/Contents"] = Array([pikepdf.Stream(target, b"q\n"), *contents,
                               pikepdf.Stream(target, ("Q\n" + "".join(drawing)).encode("ascii"))])


def _page(copier: Copier, annotations: Annotations, page: pikepdf.Object, made: pikepdf.Object) -> None:
    resources = copier.copy(_inherited(page, "/Resources"), RESOURCES)
    resources = Dictionary() if isinstance(resources, Drop) else resources
    made["/MediaBox"] = _box(copier, _inherited(page, "/MediaBox")) or Array(DEFAULT_MEDIA_BOX)
    crop = _box(copier, _inherited(page, "/CropBox"))
    if crop is not None:
        made["/CropBox"] = crop
    rotate = _inherited(page, "/Rotate")
    if isinstance(rotate, int) and not isinstance(rotate, bool) and rotate % 90 == 0:
        made["/Rotate"] = rotate % 360
    for key in PAGE_DATA:
        value = copier.copy(page.get(key), DATA) if key in page else DROP
        if not isinstance(value, Drop) and value is not None:
            made[key] = value
    group = copier.copy(page.get("/Group"), GROUP) if "/Group" in page else DROP
    if not isinstance(group, Drop):
        made["/Group"] = group
    contents = _contents(copier, page.get("/Contents"))
    fields = annotations.page(page.get("/Annots"), made)
    if fields.annots:
        made["/Annots"] = fields.annots
    if fields.drawn:
        _draw_fields(copier.target, made, resources, contents, fields)
    else:
        made["/Resources"] = resources
        if contents:
            made["/Contents"] = contents[0] if len(contents) == 1 else Array(contents)



def _catalog(source: pikepdf.Object, target: pikepdf.Pdf, copier: Copier, navigation: Navigation) -> None:
    root = target.Root
    for key, kind in CATALOG.items():
        if key in source:
            value = copier.copy(source.get(key), kind)
            if not isinstance(value, Drop) and value is not None:
                root[key] = value
    outline = navigation.outline(source.get("/Outlines"))
    if outline is not None:
        root["/Outlines"] = outline
    names = source.get("/Names")
    dests = navigation.named_destinations(names.get("/Dests")) if isinstance(names, Dictionary) else None
    if dests is not None:
        root["/Names"] = Dictionary(Dests=target.make_indirect(dests))
    old_dests = navigation.old_style_destinations(source.get("/Dests"))
    if old_dests is not None:
        root["/Dests"] = target.make_indirect(old_dests)
    labels = navigation.page_labels(source.get("/PageLabels"))
    if labels is not None:
        root["/PageLabels"] = labels


def rebuild(source: pikepdf.Pdf, note: Note, max_image_pixels: int = MAX_PIXELS) -> pikepdf.Pdf:
    """A new document holding the input's pages, written from the allowlist; ``note`` is told
    what was left out that changes what a reader sees (the active content is listed by
    pdf_active.source_findings)."""
    target = pikepdf.new()
    copier = Copier(target, note, max_image_pixels)
    pages: dict[tuple[int, int], pikepdf.Object] = {}
    made_pages: list[tuple[pikepdf.Object, pikepdf.Object]] = []
    for page in source.pages:
        made = target.make_indirect(Dictionary(Type=Name.Page))
        pages.setdefault(page.obj.objgen, made)
        made_pages.append((page.obj, made))
    navigation = Navigation(copier, pages)
    annotations = Annotations(copier, navigation, note, source.Root.get("/AcroForm"))
    for page_obj, new_page in made_pages:
        _page(copier, annotations, page_obj, new_page)
        target.pages.append(pikepdf.Page(new_page))
    annotations.link_references()
    _catalog(source.Root, target, copier, navigation)
    return target
