"""The inspector's own reading of a PDF output: everything in it must be on this module's lists.

Written apart from the rebuild (converters/formats/pdf*.py) and sharing nothing with it. Every
object of the file is visited - each indirect object once, the trailer, and every direct
dictionary and array inside - and judged by allowlist: the trailer's and the catalog's keys, each
page's keys, the names a resource dictionary may hold, the /Type of every dictionary, the
/Subtype of every stream and annotation, the filters of every stream (data in another file is
refused). Of actions only GoTo, the page-turning Named actions and URI links to http, https or
mailto pass, and a URI only on a Link annotation or a bookmark. Keys that carry scripts, files or
media are refused wherever they stand, and any stream holding an executable's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from converters.inspect.pdf_fonts import font_problems
from converters.inspect.pdf_images import image_problems, inline_image_problems

FORBIDDEN_KEYS = frozenset({
    "/JS", "/JavaScript", "/OpenAction", "/AA", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/AF", "/RichMedia",
    "/RichMediaContent", "/XFA", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/Sound", "/Movie",
    "/Rendition", "/Hide", "/SetOCGState", "/Trans3D", "/AcroForm", "/Metadata", "/PieceInfo"})
ACTION_KINDS = frozenset({
    "/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie", "/Hide", "/Named",
    "/SubmitForm", "/ResetForm", "/ImportData", "/JavaScript", "/ECMAScript", "/SetOCGState", "/Rendition",
    "/Trans", "/GoTo3DView", "/RichMediaExecute"})
PAGE_TURNS = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
WEB_LINK = re.compile(rb"(?i:https?://(?![/\\])|mailto:)[\x21-\x5b\x5d-\x7e]+")
# what a mailto link may fill in; attach= (attachment=, ...) names a file of the reader's computer to send
MAIL_FIELDS = frozenset({"to", "cc", "bcc", "subject", "body"})
# the trailer, or the cross-reference stream that stands for it (ISO 32000-2 7.5.8.2): no /Info, no /Encrypt
TRAILER_KEYS = frozenset({"/Root", "/Size", "/ID", "/Prev", "/Type", "/Index", "/W", "/Filter", "/DecodeParms",
                          "/Length"})
CATALOG_KEYS = frozenset({"/Type", "/Pages", "/PageLabels", "/Outlines", "/Names", "/Dests", "/ViewerPreferences",
                          "/PageLayout", "/PageMode", "/Lang", "/OCProperties"})
NAMES_KEYS = frozenset({"/Dests"})
PAGE_KEYS = frozenset({"/Type", "/Parent", "/Resources", "/Contents", "/MediaBox", "/CropBox", "/BleedBox",
                       "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit", "/Group", "/Annots", "/Tabs"})
RESOURCE_KEYS = frozenset({"/Font", "/XObject", "/ExtGState", "/ColorSpace", "/Pattern", "/Shading", "/Properties",
                           "/ProcSet"})
# what a dictionary's /Type may say in a document of pages, fonts, pictures and notes
TYPES = frozenset({"/Catalog", "/Pages", "/Page", "/Font", "/FontDescriptor", "/Encoding", "/CMap", "/XObject",
                   "/ExtGState", "/Pattern", "/Group", "/Mask", "/OCG", "/OCMD", "/Annot", "/Border", "/Outlines",
                   "/Action", "/PageLabel", "/ObjStm", "/XRef"})
XOBJECTS = ("/Image", "/Form")
STREAM_SUBTYPES = frozenset({"/Image", "/Form", "/Type1C", "/CIDFontType0C", "/OpenType"})
ANNOTATIONS = frozenset({"/Text", "/FreeText", "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Highlight",
                         "/Underline", "/Squiggly", "/StrikeOut", "/Caret", "/Stamp", "/Ink", "/Popup", "/Link"})
FILTERS = frozenset({"/ASCIIHexDecode", "/ASCII85Decode", "/LZWDecode", "/FlateDecode", "/RunLengthDecode",
                     "/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode"})
OUTSIDE_DATA = ("/F", "/FFilter", "/FDecodeParms")
EXECUTABLE_MARKERS = (b"This program cannot be run in DOS mode", b"\x7fELF\x02\x01\x01", b"\x7fELF\x01\x01\x01")
# a calculator function (FunctionType 4) is a PostScript program a reader runs: only braces, numbers and
# the operators of ISO 32000-2 table 42 may be in it
CALCULATOR_WORDS = frozenset(b"""abs add atan ceiling cos cvi cvr div exp floor idiv ln log mod mul neg round sin
    sqrt sub truncate and bitshift eq false ge gt le lt ne not or true xor if ifelse copy dup exch index pop roll
    { }""".split())
CALCULATOR_NUMBER = re.compile(rb"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
COLUMNS = re.compile(rb"/Columns\s*(\d+)")
WIDEST_ROW = 1_000_000  # bytes of one predictor row; qpdf allocates it before reading (gigabytes for a 3 KB file)


def pdf_problems(path: Path) -> list[str]:
    """Every problem found in the PDF at ``path`` (an empty list: clean)."""
    import pikepdf

    raw = path.read_bytes()
    if any(len(found.group(1)) > 7 or int(found.group(1)) > WIDEST_ROW for found in COLUMNS.finditer(raw)):
        return ["pdf_unreadable: a predictor row beyond all reason"]
    try:
        pdf = pikepdf.open(path)
    except (pikepdf.PdfError, pikepdf.PasswordError, OSError, ValueError) as exc:
        return [f"pdf_unreadable: {type(exc).__name__}"]
    problems: list[str] = []
    with pdf:
        try:
            _document(pdf, problems)
            for obj in _everything(pdf):
                _one(obj, problems)
        except (pikepdf.PdfError, RuntimeError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            problems.append(f"pdf_unreadable: {type(exc).__name__}")
    return list(dict.fromkeys(problems))


def _shown(text: str) -> str:
    """A name as it may stand in a problem: bytes that are not UTF-8 (read as lone surrogates, which
    the verdict's JSON cannot carry out of the sandbox) become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text(value: Any) -> str:
    import pikepdf

    # as written in the file (bytes outside printable ASCII as #xx): str() refuses some and lets others
    # through as lone surrogates
    return value.unparse().decode("latin-1") if isinstance(value, pikepdf.Name) else ""


def _everything(pdf: Any) -> Iterator[Any]:
    """Every dictionary and stream: each indirect object once, plus its direct children (a tree,
    since cycles can only pass through indirect references)."""
    import pikepdf

    stack: list[Any] = [*pdf.objects, pdf.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            yield obj
            stack.extend(v for v in obj.values() if isinstance(v, pikepdf.Object) and not v.is_indirect)
        elif isinstance(obj, pikepdf.Array):
            stack.extend(v for v in obj if isinstance(v, pikepdf.Object) and not v.is_indirect)


def _unlisted(where: str, keys: Any, allowed: frozenset[str], problems: list[str]) -> None:
    problems.extend(f"pdf_unexpected_key {where} {_shown(key)}" for key in keys if key not in allowed)


def _document(pdf: Any, problems: list[str]) -> None:
    import pikepdf

    if pdf.is_encrypted:
        problems.append("pdf_encrypted")
    _unlisted("trailer", pdf.trailer.keys(), TRAILER_KEYS, problems)
    root = pdf.Root
    _unlisted("catalog", root.keys(), CATALOG_KEYS, problems)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        _unlisted("names", names.keys(), NAMES_KEYS, problems)
    for page in pdf.pages:
        _unlisted("page", page.obj.keys(), PAGE_KEYS, problems)
        problems.extend(inline_image_problems(page))  # the page's content streams
        annots = page.obj.get("/Annots")
        for annot in annots if isinstance(annots, pikepdf.Array) else []:
            subtype = _text(annot.get("/Subtype")) if isinstance(annot, pikepdf.Dictionary) else "not a dictionary"
            if subtype not in ANNOTATIONS:
                problems.append(f"pdf_annotation {subtype or 'untyped'}")


def _one(obj: Any, problems: list[str]) -> None:
    import pikepdf

    kind = _text(obj.get("/S"))
    for key in obj.keys():
        if key in FORBIDDEN_KEYS:
            problems.append(f"pdf_forbidden_key {key}")
        if key == "/URI" and not (kind == "/URI" and _web_link(obj.get("/URI"))):
            problems.append("pdf_forbidden_key /URI")
    declared = _text(obj.get("/Type"))
    if declared == "/EmbeddedFile":
        problems.append("pdf_embedded_file")
    elif "/Type" in obj and declared not in TYPES and not isinstance(obj, pikepdf.Stream):
        problems.append(f"pdf_unexpected_type {declared or 'not a name'}")
    if kind in ACTION_KINDS or declared == "/Action":
        if not _allowed_action(obj, kind):
            problems.append(f"pdf_action {kind or 'untyped'}")
    if declared == "/Annot" and _text(obj.get("/Subtype")) not in ANNOTATIONS:
        problems.append(f"pdf_annotation {_text(obj.get('/Subtype')) or 'untyped'}")
    link = declared == "/Annot" and _text(obj.get("/Subtype")) == "/Link"
    if "/A" in obj and declared == "/Annot" and not link:
        problems.append("pdf_action on an annotation that is no link")
    action = obj.get("/A")
    bookmark = "/Title" in obj and "/Parent" in obj
    if isinstance(action, pikepdf.Dictionary) and _text(action.get("/S")) == "/URI" and not (link or bookmark):
        problems.append("pdf_action /URI outside a link or a bookmark")
    if declared in ("/Page", "/XObject", "/Pattern") or "/Resources" in obj:
        resources = obj.get("/Resources")
        if isinstance(resources, pikepdf.Dictionary):
            _unlisted("resources", resources.keys(), RESOURCE_KEYS, problems)
            xobjects = resources.get("/XObject")
            for xobject in xobjects.values() if isinstance(xobjects, pikepdf.Dictionary) else []:
                if not isinstance(xobject, pikepdf.Stream) or _text(xobject.get("/Subtype")) not in XOBJECTS:
                    problems.append("pdf_xobject not an image or a form")
    if isinstance(obj, pikepdf.Stream):
        _stream(obj, problems)
        if _text(obj.get("/Subtype")) == "/Form" or obj.get("/PatternType") == 1:  # content streams
            problems.extend(inline_image_problems(obj))
    glyphs = obj.get("/CharProcs")  # a Type 3 font's glyphs: content streams too
    for glyph in glyphs.values() if isinstance(glyphs, pikepdf.Dictionary) else []:
        if isinstance(glyph, pikepdf.Stream):
            problems.extend(inline_image_problems(glyph))
    if any(key in obj for key in ("/FontFile", "/FontFile2", "/FontFile3")):  # a font descriptor (pdf_fonts)
        problems.extend(font_problems(obj))


def _allowed_action(obj: Any, kind: str) -> bool:
    if kind == "/GoTo":
        return "/Next" not in obj
    if kind == "/Named":
        return _text(obj.get("/N")) in PAGE_TURNS
    return kind == "/URI" and _web_link(obj.get("/URI")) and "/Next" not in obj


def _web_link(value: Any) -> bool:
    import pikepdf

    if not isinstance(value, pikepdf.String) or WEB_LINK.fullmatch(bytes(value)) is None:
        return False
    return not bytes(value).lower().startswith(b"mailto:") or _mail_link(bytes(value)[7:])


def _controls(encoded: bytes) -> bool:
    from urllib.parse import unquote_to_bytes

    return any(byte < 0x20 or byte == 0x7F for byte in unquote_to_bytes(encoded))


def _mail_link(rest: bytes) -> bool:
    """Addressees without control characters, and only the fields of MAIL_FIELDS (a body may break lines)."""
    from urllib.parse import unquote_to_bytes

    addressees, _, fields = rest.partition(b"?")
    if _controls(addressees):
        return False
    for pair in (item for item in fields.split(b"&") if item):
        key, _, text = pair.partition(b"=")
        field = unquote_to_bytes(key).decode("latin-1").strip().lower()
        if field not in MAIL_FIELDS or (field != "body" and _controls(text)):
            return False
    return True


def _stream(obj: Any, problems: list[str]) -> None:
    import pikepdf

    if any(key in obj for key in OUTSIDE_DATA):
        problems.append("pdf_stream_data_outside")
    subtype = obj.get("/Subtype")
    if subtype is not None and _text(subtype) not in STREAM_SUBTYPES:
        problems.append(f"pdf_stream_subtype {_text(subtype) or 'not a name'}")
    declared = _text(obj.get("/Type"))
    if "/Type" in obj and declared not in ("/XObject", "/Pattern", "/CMap", "/ObjStm", "/XRef"):
        problems.append(f"pdf_unexpected_type {declared or 'not a name'}")
    filters = obj.get("/Filter")
    listed = list(filters) if isinstance(filters, pikepdf.Array) else [] if filters is None else [filters]
    if any(_text(item) not in FILTERS for item in listed):
        problems.append("pdf_stream_filter not a standard one")
    problems.extend(image_problems(obj, listed))  # pictures: only pixels the rebuild encoded (pdf_images)
    try:
        data = obj.read_bytes()
    except (pikepdf.PdfError, RuntimeError):
        data = obj.read_raw_bytes()
    if any(marker in data for marker in EXECUTABLE_MARKERS):
        problems.append("pdf_stream_holds_executable")
    if obj.get("/FunctionType") == 4 and not _calculator(data):
        problems.append("pdf_function a calculator program with more than numbers and its operators")


def _calculator(program: bytes) -> bool:
    words = re.findall(rb"[{}]|[^\s{}]+", program)
    depth = 0
    for before, word in zip([b"", *words], words, strict=False):
        depth += {b"{": 1, b"}": -1}.get(word, 0)
        if depth < 0 or (word not in CALCULATOR_WORDS and not CALCULATOR_NUMBER.fullmatch(word)):
            return False
        if word in (b"if", b"ifelse") and before != b"}":  # a conditional runs the procedure just before it
            return False
    return depth == 0 and bool(words) and words[0] == b"{" and words[-1] == b"}"
