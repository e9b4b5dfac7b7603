"""PDF rebuild with pikepdf: keep pages and text, remove every active or external element.

Actions are allowlisted: only in-document navigation (GoTo, and the page-turning Named actions)
survives; JavaScript, Launch, GoToR/GoToE, ImportData, SubmitForm, URI, RichMedia and all other
actions are removed, as are OpenAction, additional actions (AA), embedded and attached files and
XFA forms. Owner-password-only PDFs are opened and written without encryption.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.errors import CorruptFile, PasswordProtected, TooManyPages

SAFE_ACTIONS = frozenset({"/GoTo"})
SAFE_NAMED_ACTIONS = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})
RISKY_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
# Keys that hold active content wherever they appear, with the finding code for each.
RISKY_KEYS: dict[str, str] = {
    "/JS": "pdf_javascript_removed",
    "/JavaScript": "pdf_javascript_removed",
    "/OpenAction": "pdf_open_action_removed",
    "/AA": "pdf_additional_actions_removed",
    "/EmbeddedFiles": "pdf_embedded_file_removed",
    "/EmbeddedFile": "pdf_embedded_file_removed",
    "/EF": "pdf_embedded_file_removed",
    "/AF": "pdf_embedded_file_removed",
    "/RichMediaContent": "pdf_rich_media_removed",
    "/XFA": "pdf_xfa_removed",
}
SKIP_KEYS = frozenset({"/Parent", "/P"})  # links back up the tree; everything else is walked


def open_pdf(src: Path) -> pikepdf.Pdf:
    """Open a PDF that needs no user password; raise a ConverterError otherwise."""
    try:
        return pikepdf.open(src, password="")
    except pikepdf.PasswordError as exc:
        raise PasswordProtected("the PDF is password-protected and cannot be inspected") from exc
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as exc:
        raise CorruptFile("the PDF is damaged and cannot be read") from exc


class _Scrubber:
    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], None] = {}
        self.seen: set[tuple[int, int]] = set()

    def note(self, code: str, detail: str) -> None:
        self.findings[(code, detail)] = None

    def action_is_safe(self, action: object) -> bool:
        if not isinstance(action, Dictionary):
            return False
        kind = str(action.get("/S", ""))
        if kind == "/Named":
            return str(action.get("/N", "")) in SAFE_NAMED_ACTIONS
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
        kind = str(action.get("/S", "unknown"))
        if kind not in SAFE_ACTIONS and kind != "/Named":
            return kind
        chained = action.get("/Next")
        for item in (list(chained) if isinstance(chained, Array) else [chained] if chained is not None else []):
            if not self.action_is_safe(item):
                return self.describe_action(item)
        return kind

    def scrub(self, obj: object) -> None:
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            key = obj.objgen
            if key in self.seen:
                return
            self.seen.add(key)
        if isinstance(obj, Dictionary | pikepdf.Stream):
            self._scrub_dictionary(obj)
        elif isinstance(obj, Array):
            for item in obj:
                self.scrub(item)

    def _scrub_dictionary(self, obj: Dictionary | pikepdf.Stream) -> None:
        for key in list(obj.keys()):
            if key in RISKY_KEYS:
                self.note(RISKY_KEYS[key], key[1:])
                del obj[key]
        if obj.get("/Type") == Name.EmbeddedFile:
            self.note("pdf_embedded_file_removed", "stream")
        action = obj.get("/A")
        if action is not None and not self.action_is_safe(action):
            kind = self.describe_action(action)
            code = "pdf_external_link_removed" if kind == "/URI" else "pdf_action_removed"
            self.note(code, kind[1:] if kind.startswith("/") else kind)
            del obj["/A"]
        if "/S" in obj and "/Type" in obj and obj.get("/Type") == Name.Action:
            if not self.action_is_safe(obj):
                self.note("pdf_action_removed", self.describe_action(obj)[1:])
                obj["/S"] = Name.GoTo
                obj["/D"] = Array([])
                for key in list(obj.keys()):
                    if key not in ("/S", "/D", "/Type"):
                        del obj[key]
        annots = obj.get("/Annots")
        if isinstance(annots, Array):
            kept = Array()
            for annot in annots:
                subtype = str(annot.get("/Subtype", "")) if isinstance(annot, Dictionary) else ""
                if subtype in RISKY_ANNOTATIONS:
                    self.note("pdf_annotation_removed", subtype[1:])
                    continue
                kept.append(annot)
            obj["/Annots"] = kept
        for key in list(obj.keys()):
            if key not in SKIP_KEYS:
                self.scrub(obj[key])


class PdfRebuildConverter(Converter):
    name = "pdf-rebuild"
    input_types = frozenset({"application/pdf"})

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        findings: list[Finding] = []
        with open_pdf(src) as pdf:
            if len(pdf.pages) > request.limits.max_pages:
                raise TooManyPages(f"the PDF has more than {request.limits.max_pages} pages")
            if pdf.is_encrypted:
                findings.append(Finding("pdf_encryption_removed", "owner password"))
            scrubber = _Scrubber()
            try:
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
                scrubber.scrub(root)
                for page in pdf.pages:
                    scrubber.scrub(page.obj)
                if "/Info" in pdf.trailer:
                    del pdf.trailer["/Info"]
                out_name = f"{request.stem}.pdf"
                pdf.remove_unreferenced_resources()
                pdf.save(out_dir / out_name, compress_streams=True,
                         object_stream_mode=pikepdf.ObjectStreamMode.generate,
                         fix_metadata_version=False)
            except (pikepdf.PdfError, RuntimeError, ValueError) as exc:
                raise CorruptFile("the PDF is damaged and cannot be rebuilt") from exc
        findings.extend(Finding(code, detail) for code, detail in scrubber.findings)
        outcome: Outcome = "sanitized" if findings else "passed"
        return Conversion(outcome, [Output(out_name, "application/pdf")], findings)
