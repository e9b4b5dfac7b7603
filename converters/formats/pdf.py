"""PDF rebuild with pikepdf: a new document written from an allowlist, then checked twice.

``pdf_document`` builds a new PDF from the input's pages: only the catalog entries, page keys,
resources, fonts, images, annotations and actions that ``pdf_schema``, ``pdf_annotations`` and
``pdf_navigation`` list are written, so whatever the input holds beyond them - scripts, actions,
files, media, forms, private data, keys nobody has listed yet - is simply not there. Form
fields are flattened into the page. ``pdf_active`` names what was left behind for the findings.

Belt and braces: the new document is then walked as the old rebuild walked its copy - every
object, every direct dictionary and array - with the denylist of active keys and the actions
allowlist (only in-document navigation and links to http, https or mailto survive), and the
trailer keeps only /Root. Owner-password-only PDFs are opened and written without encryption.
The written file is opened again and walked once more: a file pikepdf cannot read back, or one
in which the walk still finds something to remove, is blocked as corrupt.
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Iterable
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.errors import CorruptFile, PasswordProtected, TooManyPages
from converters.formats.pdf_active import (
    ACTION_TYPES,
    EXECUTABLE,
    EXTERNAL_STREAM_KEYS,
    RISKY_ANNOTATIONS,
    RISKY_KEYS,
    STRUCTURE_STREAMS,
    navigation_or_link,
    source_findings,
)
from converters.formats.pdf_active import name_of as _name
from converters.formats.pdf_document import rebuild

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


def _children(container: Dictionary | pikepdf.Stream | Array) -> Iterable[tuple[str | int, object]]:
    if isinstance(container, Array):
        return list(enumerate(container))
    return list(container.items())  # not container[key]: it refuses names that are not UTF-8


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
        if not isinstance(action, Dictionary) or not navigation_or_link(action):
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
        if not navigation_or_link(action):
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
        """An action other than in-document navigation or a safe link, an embedded file, or an
        executable's bytes."""
        kind = _name(obj.get("/S"))
        if _name(obj.get("/Type")) == "/Action" or kind in ACTION_TYPES:
            if navigation_or_link(obj):
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
        link = _name(obj.get("/S")) == "/URI" and navigation_or_link(obj)
        for key in list(obj.keys()):
            if key in RISKY_KEYS and not (link and key == "/URI"):
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
            try:
                if len(pdf.pages) > request.limits.max_pages:
                    raise TooManyPages(f"the PDF has more than {request.limits.max_pages} pages")
                removed = source_findings(pdf)  # what the input holds that is active: none of it is written
                with rebuild(pdf, lambda code, detail: removed.setdefault((code, detail), None),
                             request.limits.max_image_pixels) as rebuilt:
                    second = _Scrubber()  # belt and braces: the denylist over what the allowlist wrote
                    second.scrub_all(rebuilt)
                    _keep_only_root_in_trailer(rebuilt)
                    rebuilt.save(out_dir / out_name, compress_streams=True,
                                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
            except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
                raise CorruptFile("the PDF is damaged and cannot be rebuilt") from exc
        try:
            _read_back(out_dir / out_name)
        except CorruptFile:
            (out_dir / out_name).unlink(missing_ok=True)  # nothing unverified is left behind
            raise
        removed.update(second.findings)
        findings.extend(Finding(code, detail) for code, detail in removed)
        outcome: Outcome = "sanitized" if findings else "passed"
        return Conversion(outcome, [Output(out_name, "application/pdf")], findings)
