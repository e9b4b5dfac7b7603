"""What counts as active in a PDF, for the rebuild's findings and its second (denylist) pass.

The rebuild writes out only what its allowlist knows (``pdf_schema``); these tables name what
was left behind, so that staff read "JavaScript removed" rather than nothing, and let the second
pass over the written file find anything the first one let through. Actions are judged here
too: in-document navigation (GoTo, the page-turning Named actions) and links to http, https or
mailto - the links the Office and OpenDocument rebuilds keep - are the only ones that may stay.
"""

from __future__ import annotations

import re

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.formats.link_rules import link_safe

SAFE_ACTIONS = frozenset({"/GoTo"})
SAFE_NAMED_ACTIONS = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
# Every action type of ISO 32000-2 (table 201) plus ECMAScript: a dictionary whose /S is one of
# these is an action wherever it stands, as is any dictionary typed /Action.
ACTION_TYPES = frozenset({
    "/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie", "/Hide",
    "/Named", "/SubmitForm", "/ResetForm", "/ImportData", "/SetOCGState", "/Rendition", "/Trans",
    "/GoTo3DView", "/JavaScript", "/ECMAScript", "/RichMediaExecute"})
RISKY_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
_ACTION_KEYS = ("/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/Sound", "/Movie", "/Rendition",
                "/Hide", "/SetOCGState", "/Trans3D", "/3DD")
# Keys that hold active content, files or outside references wherever they appear, with the
# finding code for each.
RISKY_KEYS: dict[str, str] = {
    "/JS": "pdf_javascript_removed",
    "/JavaScript": "pdf_javascript_removed",
    "/OpenAction": "pdf_open_action_removed",
    "/AA": "pdf_additional_actions_removed",
    "/EmbeddedFiles": "pdf_embedded_file_removed",
    "/EmbeddedFile": "pdf_embedded_file_removed",
    "/EF": "pdf_embedded_file_removed",
    "/AF": "pdf_embedded_file_removed",
    "/RichMedia": "pdf_rich_media_removed",
    "/RichMediaContent": "pdf_rich_media_removed",
    "/RichMediaSettings": "pdf_rich_media_removed",
    "/XFA": "pdf_xfa_removed",
    "/URI": "pdf_external_link_removed",
    **{key: "pdf_action_removed" for key in _ACTION_KEYS},
}
# A stream's data kept in another file (ISO 32000-2 7.3.8.2): a reference outside the document.
EXTERNAL_STREAM_KEYS = ("/F", "/FFilter", "/FDecodeParms")
# Streams qpdf rebuilds itself on writing: their data is the file's own structure.
STRUCTURE_STREAMS = frozenset({"/ObjStm", "/XRef"})
EXECUTABLE = re.compile(rb"This program cannot be run in DOS mode|\x7fELF[\x01\x02][\x01\x02]\x01")
# a link that may stay: the schemes the Office and OpenDocument rebuilds keep (README), written
# as a plain URI (ISO 32000-2 12.6.4.8: 7-bit ASCII) without spaces, controls or backslashes
SAFE_URI = re.compile(rb"(?i:https?://(?![/\\])|mailto:)[\x21-\x5b\x5d-\x7e]{1,2000}")

Finding = tuple[str, str]


def name_of(value: object) -> str:
    """A name as written in the file ("/GoTo"; bytes outside ASCII as #xx), or "" for anything else."""
    return value.unparse().decode("latin-1") if isinstance(value, Name) else ""


def safe_uri(value: object) -> bool:
    """A URI string a link may keep: http, https or mailto (only with the fields a message is
    written with), and nothing else."""
    if not isinstance(value, pikepdf.String) or SAFE_URI.fullmatch(bytes(value)) is None:
        return False
    uri = bytes(value)
    return link_safe(uri.decode("ascii"))  # SAFE_URI: printable ASCII only


def is_action(obj: Dictionary | pikepdf.Stream) -> bool:
    return name_of(obj.get("/Type")) == "/Action" or name_of(obj.get("/S")) in ACTION_TYPES


def navigation_or_link(obj: Dictionary | pikepdf.Stream) -> bool:
    """An action that may stay where actions may stand: GoTo, page-turning Named, a safe URI."""
    kind = name_of(obj.get("/S"))
    if kind == "/Named":
        return name_of(obj.get("/N")) in SAFE_NAMED_ACTIONS
    if kind == "/URI":
        return safe_uri(obj.get("/URI"))
    return kind in SAFE_ACTIONS


def action_findings(obj: Dictionary | pikepdf.Stream) -> list[Finding]:
    """What an action that does not stay is reported as."""
    kind = name_of(obj.get("/S"))
    detail = kind[1:] or "unknown"
    if kind == "/URI":
        return [("pdf_external_link_removed", detail)]
    found = [("pdf_action_removed", detail)]
    if kind in ("/JavaScript", "/ECMAScript") or "/JS" in obj:
        found.append(("pdf_javascript_removed", "JS"))
    return found


def _stream_data(stream: pikepdf.Stream) -> bytes:
    """The stream's data as a reader sees it (decoded where its filters allow)."""
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:  # a filter qpdf cannot undo, or damaged compressed data
        return stream.read_raw_bytes()


def source_findings(pdf: pikepdf.Pdf) -> dict[Finding, None]:
    """Everything active the input holds, wherever it stands (each indirect object once, the
    trailer, and every direct dictionary and array inside them). The rebuild carries none of it
    over - only what its allowlist knows, and of actions only navigation and safe links - so this
    is the list of what was removed, in the order it was met."""
    found: dict[Finding, None] = {}
    stack: list[object] = [*pdf.objects, pdf.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Dictionary | pikepdf.Stream):
            found.update(dict.fromkeys(_dictionary_findings(obj)))
            children: list[tuple[str | None, object]] = list(obj.items())  # items(): a key get() refuses reads
            if isinstance(obj, pikepdf.Stream) and name_of(obj.get("/Type")) not in STRUCTURE_STREAMS \
                    and EXECUTABLE.search(_stream_data(obj)):
                found[("pdf_embedded_file_removed", "executable in a stream")] = None
        elif isinstance(obj, Array):
            children = [(None, item) for item in obj]
        else:
            continue
        link = isinstance(obj, Dictionary) and name_of(obj.get("/S")) == "/URI" and navigation_or_link(obj)
        for key, child in children:
            if key in RISKY_KEYS and not (link and key == "/URI") and not (key == "/OpenAction"
                                                                           and _navigation(child)):
                found[(RISKY_KEYS[key], key[1:])] = None
            if isinstance(child, pikepdf.String) and EXECUTABLE.search(bytes(child)):
                found[("pdf_embedded_file_removed", "executable in a string")] = None
            elif isinstance(child, Dictionary | pikepdf.Stream | Array) and not child.is_indirect:
                stack.append(child)
    return found


def _navigation(value: object) -> bool:
    """An /OpenAction that only opens the document at a place in it (a destination or a GoTo)."""
    if isinstance(value, Array):
        return True  # an explicit destination: the rebuild keeps it only when it names a page of the document
    return isinstance(value, Dictionary) and name_of(value.get("/S")) == "/GoTo"


def _dictionary_findings(obj: Dictionary | pikepdf.Stream) -> list[Finding]:
    if is_action(obj) and not navigation_or_link(obj):
        return action_findings(obj)
    if name_of(obj.get("/Type")) == "/EmbeddedFile":
        return [("pdf_embedded_file_removed", "stream")]
    subtype = name_of(obj.get("/Subtype"))
    if name_of(obj.get("/Type")) == "/Annot" and subtype in RISKY_ANNOTATIONS:
        return [("pdf_annotation_removed", subtype[1:])]
    return []
