"""PDF rebuild with pikepdf: keep pages and text, remove every active or external element.

Every object the output can hold is walked - each indirect object once, the trailer, and every
direct dictionary and array inside them - so a risky entry is found wherever it stands, not only
where the specification puts it. Actions are allowlisted: only in-document navigation (GoTo, and
the page-turning Named actions) survives; any other action dictionary (JavaScript, Launch,
GoToR/GoToE, ImportData, SubmitForm, URI, RichMediaExecute ...) is emptied wherever it stands.
Keys that hold scripts, files, media or outside references are removed from every dictionary,
embedded-file streams and streams or strings carrying an executable are emptied, XFA forms go,
and the trailer keeps only /Root. Owner-password-only PDFs are opened and written without
encryption. The written file is opened again and walked once more: a file pikepdf cannot read
back, or one in which the walk still finds something to remove, is blocked as corrupt.
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Iterable
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.errors import CorruptFile, PasswordProtected, TooManyPages

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
TRAILER_KEYS = frozenset({"/Root"})  # /Size, /ID and the cross-reference keys are written by qpdf


# A predictor row wider than this is no image or table anyone made (30,000 pixels x 4 channels x
# 2 bytes is 240,000): qpdf allocates the row before it reads a byte, so a 3 KB file declaring
# /Columns 2147483648 on its cross-reference stream costs gigabytes and half a minute at open.
MAX_PREDICTOR_COLUMNS = 1 << 20
PREDICTOR_COLUMNS = re.compile(rb"/Columns\s*([0-9]{1,30})")


def _absurd_predictor(src: Path) -> int | None:
    """The first /Columns in the file's bytes that is out of all reason, or None."""
    with src.open("rb") as handle, contextlib.suppress(ValueError), \
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:  # ValueError: an empty file
        for found in PREDICTOR_COLUMNS.finditer(data):
            if int(found.group(1)) > MAX_PREDICTOR_COLUMNS:
                return int(found.group(1))
    return None


def open_pdf(src: Path) -> pikepdf.Pdf:
    """Open a PDF that needs no user password; raise a ConverterError otherwise."""
    columns = _absurd_predictor(src)
    if columns is not None:
        raise CorruptFile(f"the PDF declares a predictor row of {columns} bytes, which no real file has")
    try:
        return pikepdf.open(src, password="")
    except pikepdf.PasswordError as exc:
        raise PasswordProtected("the PDF is password-protected and cannot be inspected") from exc
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise CorruptFile("the PDF is damaged and cannot be read") from exc


def _name(value: object) -> str:
    """A name as written in the file ("/GoTo"; bytes outside ASCII as #xx), or "" for anything else."""
    return value.unparse().decode("latin-1") if isinstance(value, Name) else ""


def _children(container: Dictionary | pikepdf.Stream | Array) -> Iterable[tuple[str | int, object]]:
    if isinstance(container, Array):
        return list(enumerate(container))
    return [(key, container[key]) for key in list(container.keys())]


def _stream_data(stream: pikepdf.Stream) -> bytes:
    """The stream's data as a reader sees it (decoded where its filters allow)."""
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:  # a filter qpdf cannot undo, or damaged compressed data
        return stream.read_raw_bytes()


class _Scrubber:
    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], None] = {}

    def note(self, code: str, detail: str) -> None:
        self.findings[(code, detail)] = None

    def action_is_safe(self, action: object) -> bool:
        if not isinstance(action, Dictionary):
            return False
        kind = _name(action.get("/S"))
        if kind == "/Named":
            return _name(action.get("/N")) in SAFE_NAMED_ACTIONS
        if kind not in SAFE_ACTIONS:
            return False
        chained = action.get("/Next")
        if chained is None:
            return True
        items = list(chained) if isinstance(chained, Array) else [chained]
        return all(self.action_is_safe(item) for item in items)

    def describe_action(self, action: object) -> str:
        """The first unsafe action kind in a chain (for the finding's detail)."""
        if not isinstance(action, Dictionary):
            return "unknown"
        kind = _name(action.get("/S")) or "unknown"
        if kind not in SAFE_ACTIONS and kind != "/Named":
            return kind
        chained = action.get("/Next")
        for item in (list(chained) if isinstance(chained, Array) else [chained] if chained is not None else []):
            if not self.action_is_safe(item):
                return self.describe_action(item)
        return kind

    def scrub_all(self, pdf: pikepdf.Pdf) -> None:
        """Every indirect object once and the trailer, with every direct dictionary and array inside
        (cycles pass only through indirect references, which are visited from ``pdf.objects``)."""
        stack: list[object] = [*pdf.objects, pdf.trailer]
        while stack:
            obj = stack.pop()
            if isinstance(obj, Dictionary | pikepdf.Stream):
                if self._must_empty(obj):
                    _empty(obj)
                    continue
                self._scrub_dictionary(obj)
            if isinstance(obj, Dictionary | pikepdf.Stream | Array):
                stack.extend(self._scrub_children(obj))

    def _scrub_children(self, container: Dictionary | pikepdf.Stream | Array) -> list[object]:
        """Strings carrying an executable are emptied; the direct containers inside are returned."""
        inner: list[object] = []
        for slot, value in _children(container):
            if isinstance(value, pikepdf.String) and EXECUTABLE.search(bytes(value)):
                self.note("pdf_embedded_file_removed", "executable in a string")
                container[slot] = pikepdf.String("")
            elif isinstance(value, Dictionary | pikepdf.Stream | Array) and not value.is_indirect:
                inner.append(value)
        return inner

    def _must_empty(self, obj: Dictionary | pikepdf.Stream) -> bool:
        """An action other than in-document navigation, an embedded file, or an executable's bytes."""
        kind = _name(obj.get("/S"))
        if _name(obj.get("/Type")) == "/Action" or kind in ACTION_TYPES:
            if kind == "/GoTo" or (kind == "/Named" and _name(obj.get("/N")) in SAFE_NAMED_ACTIONS):
                return False
            detail = kind[1:] or "unknown"
            self.note("pdf_external_link_removed" if kind == "/URI" else "pdf_action_removed", detail)
            return True
        if _name(obj.get("/Type")) == "/EmbeddedFile":
            self.note("pdf_embedded_file_removed", "stream")
            return True
        if (isinstance(obj, pikepdf.Stream) and _name(obj.get("/Type")) not in STRUCTURE_STREAMS
                and EXECUTABLE.search(_stream_data(obj))):
            self.note("pdf_embedded_file_removed", "executable in a stream")
            return True
        return False

    def _scrub_dictionary(self, obj: Dictionary | pikepdf.Stream) -> None:
        for key in list(obj.keys()):
            if key in RISKY_KEYS:
                self.note(RISKY_KEYS[key], key[1:])
                del obj[key]
            elif key in EXTERNAL_STREAM_KEYS and isinstance(obj, pikepdf.Stream):
                self.note("pdf_external_link_removed", "stream data in another file")
                del obj[key]
        action = obj.get("/A")
        if action is not None and not self.action_is_safe(action):
            if not (isinstance(action, Dictionary) and len(action.keys()) == 0):  # one emptied already
                kind = self.describe_action(action)
                code = "pdf_external_link_removed" if kind == "/URI" else "pdf_action_removed"
                self.note(code, kind[1:] if kind.startswith("/") else kind)
            del obj["/A"]
        annots = obj.get("/Annots")
        if isinstance(annots, Array):
            kept = Array()
            for annot in annots:
                subtype = _name(annot.get("/Subtype")) if isinstance(annot, Dictionary) else ""
                if subtype in RISKY_ANNOTATIONS:
                    self.note("pdf_annotation_removed", subtype[1:])
                    continue
                kept.append(annot)
            obj["/Annots"] = kept


def _empty(obj: Dictionary | pikepdf.Stream) -> None:
    """Leave an empty dictionary (or empty stream) in place, so every reference to it reads nothing."""
    for key in list(obj.keys()):
        if key != "/Length":  # pikepdf keeps a stream's length itself (and writes it anew)
            del obj[key]
    if isinstance(obj, pikepdf.Stream):
        obj.write(b"")


def _keep_only_root_in_trailer(pdf: pikepdf.Pdf) -> None:
    for key in list(pdf.trailer.keys()):
        if key not in TRAILER_KEYS:
            del pdf.trailer[key]
    # qpdf writes its own /Size, but only when the trailer has one: without it, the
    # cross-reference stream it writes names no size and the file cannot be read back
    pdf.trailer["/Size"] = 0


def _read_back(path: Path) -> None:
    """Open the written file again, as the inspector will, and walk all of it: a file that cannot
    be read, or that still holds something to remove, is not delivered."""
    try:
        with pikepdf.open(path) as pdf:
            executable = any(EXECUTABLE.search(_stream_data(obj)) for obj in pdf.objects
                             if isinstance(obj, pikepdf.Stream))
            check = _Scrubber()
            check.scrub_all(pdf)
    except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
        raise CorruptFile("the PDF is too damaged: the rebuilt file cannot be read back") from exc
    if executable:
        check.note("pdf_embedded_file_removed", "executable")
    if check.findings:
        raise CorruptFile("the PDF is too damaged: the rebuilt file still holds active content "
                          f"({', '.join(code for code, _ in check.findings)})")


class PdfRebuildConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        findings: list[Finding] = []
        out_name = f"{request.stem}.pdf"
        with open_pdf(src) as pdf:
            if pdf.is_encrypted:
                findings.append(Finding("pdf_encryption_removed", "owner password"))
            scrubber = _Scrubber()
            try:
                if len(pdf.pages) > request.limits.max_pages:
                    raise TooManyPages(f"the PDF has more than {request.limits.max_pages} pages")
                root = pdf.Root
                names = root.get("/Names")
                if isinstance(names, Dictionary):
                    for key in ("/JavaScript", "/EmbeddedFiles"):
                        if key in names:
                            scrubber.note(RISKY_KEYS[key], f"Names{key}")
                            del names[key]
                for key in ("/OpenAction", "/AA", "/Collection", "/Threads"):
                    if key in root:
                        if key in RISKY_KEYS:
                            scrubber.note(RISKY_KEYS[key], key[1:])
                        del root[key]
                acroform = root.get("/AcroForm")
                if isinstance(acroform, Dictionary):
                    for key in ("/XFA", "/NeedsRendering"):
                        if key in acroform:
                            if key == "/XFA":
                                scrubber.note("pdf_xfa_removed", "AcroForm")
                            del acroform[key]
                scrubber.scrub_all(pdf)
                _keep_only_root_in_trailer(pdf)
                pdf.remove_unreferenced_resources()
                pdf.save(out_dir / out_name, compress_streams=True,
                         object_stream_mode=pikepdf.ObjectStreamMode.generate,
                         fix_metadata_version=False)
            except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
                raise CorruptFile("the PDF is damaged and cannot be rebuilt") from exc
        try:
            _read_back(out_dir / out_name)
        except CorruptFile:
            (out_dir / out_name).unlink(missing_ok=True)  # nothing unverified is left behind
            raise
        findings.extend(Finding(code, detail) for code, detail in scrubber.findings)
        outcome: Outcome = "sanitized" if findings else "passed"
        return Conversion(outcome, [Output(out_name, "application/pdf")], findings)
