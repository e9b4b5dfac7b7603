"""Office formats that are not rebuilt in place: legacy binary Office (doc, xls, ppt and their
templates), xlsb, RTF and encrypted Office files.

- The output is never a binary OLE file: LibreOffice converts the document to the macro-free OOXML
  equivalent, and the OOXML rebuild then runs over that (removing whatever LibreOffice carried
  across, such as a kept VBA project or an embedded object).
- What the original held is reported from oletools' analysis (VBA, Excel 4 macros, RTF objects).
- Encrypted files: Excel's well-known default password (``VelvetSweatshop``, which Excel uses
  without asking) is tried, since such files open without a prompt; anything else is blocked as
  ``password_protected``.
- Rasterise: LibreOffice renders the document to PDF, whose pages go to the trusted side as pixels.
"""

from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path
from xml.parsers.expat import ExpatError

import msoffcrypto
import msoffcrypto.exceptions
from msoffcrypto.format.doc97 import Doc97File

from converters.base import RASTER_FRAMES_TYPE, Conversion, Converter, ConvertRequest, Finding, Output
from converters.detect import detect
from converters.errors import ConverterError, CorruptFile, PasswordProtected
from converters.formats.libreoffice import convert_with_libreoffice
from converters.formats.ooxml import OoxmlConverter

DEFAULT_PASSWORDS = ("VelvetSweatshop",)
# detected type -> (suffix LibreOffice needs to pick its import filter, OOXML target)
LEGACY: dict[str, tuple[str, str]] = {
    "application/msword": (".doc", "docx"),
    "application/vnd.ms-excel": (".xls", "xlsx"),
    "application/vnd.ms-powerpoint": (".ppt", "pptx"),
    "application/vnd.ms-excel.sheet.binary.macroEnabled.12": (".xlsb", "xlsx"),
    "text/rtf": (".rtf", "docx"),
}
ENCRYPTED_OOXML = "application/x-ooxml-encrypted"
OOXML_SUFFIXES = {"docx": ".docx", "xlsx": ".xlsx", "pptx": ".pptx"}
ODF_SUFFIXES = {f"application/vnd.oasis.opendocument.{kind}": ext for kind, ext in (
    ("text", "odt"), ("spreadsheet", "ods"), ("presentation", "odp"), ("graphics", "odg"),
    ("text-template", "ott"), ("spreadsheet-template", "ots"), ("presentation-template", "otp"))}


RTF_MALFORMED = "the RTF document is malformed: it ends in the middle of a control word, or holds a control word " \
                "longer than Word reads"
WORD_IDENT = 0xA5EC  # FibBase.wIdent, the first two bytes of every Word 97-2019 WordDocument stream


def analyse(src: Path, mime: str) -> list[Finding]:
    """What the original carries, by oletools' verdict (the rebuild removes it either way)."""
    findings: list[Finding] = []
    if mime == "text/rtf":
        from oletools import rtfobj

        parser = rtfobj.RtfObjParser(src.read_bytes())
        try:
            parser.parse()
        except RecursionError:
            raise
        except RuntimeError as exc:  # rtfobj's one error ("Should not have reached this point"): a backslash that
            # ends the data, or a control word of more letters than Word reads (250), where no text can stand
            raise CorruptFile(RTF_MALFORMED) from exc
        if parser.objects:
            findings.append(Finding("embedded_object_removed", f"{len(parser.objects)} RTF object(s)"))
        return findings
    from oletools.olevba import VBA_Parser

    with contextlib.redirect_stdout(io.StringIO()):
        parser = VBA_Parser(str(src))
        try:
            if parser.detect_vba_macros():
                findings.append(Finding("vba_macro_removed", "VBA project"))
            if getattr(parser, "detect_xlm_macros", None) and parser.detect_xlm_macros():
                findings.append(Finding("excel4_macro_removed", "XLM macro sheet"))
        finally:
            parser.close()
    return findings


# what msoffcrypto-tool raises on malformed encryption information besides its own exceptions: the
# agile header is XML read by minidom (ExpatError, IndexError for a missing element, LookupError
# for an encoding its declaration names that Python does not know, such as "UTF-4"), the standard
# one is unpacked with struct; ValueError covers bad numbers and base64, KeyError unknown
# algorithms; olefile's damaged-stream errors are OSErrors without an errno
MALFORMED = (msoffcrypto.exceptions.ParseError, ExpatError, struct.error, IndexError, LookupError, ValueError,
             AssertionError)
DAMAGED_HEADER = "the document's encryption information is damaged or of an unknown kind"


def decrypt_if_needed(src: Path, work: Path) -> tuple[Path, list[Finding]]:
    """Return a decrypted copy when ``src`` is encrypted with a default password; raise
    PasswordProtected for any other password, CorruptFile when the encryption information cannot
    be read; return ``src`` itself when not encrypted."""
    with src.open("rb") as handle:
        try:
            office = msoffcrypto.OfficeFile(handle)
            encrypted = office.is_encrypted()
        except msoffcrypto.exceptions.FileFormatError:
            return src, []
        except (*MALFORMED, msoffcrypto.exceptions.DecryptionError) as exc:  # here: a version it cannot read
            raise CorruptFile(DAMAGED_HEADER) from exc
        except OSError as exc:
            if exc.errno is not None:  # an I/O error of the machine, not of the file
                raise
            raise CorruptFile(DAMAGED_HEADER) from exc
        if not encrypted:
            return src, []
        for password in DEFAULT_PASSWORDS:
            try:
                office.load_key(password=password)
                work.mkdir(parents=True, exist_ok=True)
                target = work / "decrypted"
                with target.open("wb") as out:
                    try:
                        office.decrypt(out)
                    except AttributeError as exc:
                        if not isinstance(office, Doc97File):
                            raise
                        raise _without_decryptor(office) from exc
                return target, [Finding("default_password_removed", "Excel default password")]
            except (msoffcrypto.exceptions.InvalidKeyError, msoffcrypto.exceptions.DecryptionError):
                continue
            except MALFORMED as exc:  # key data that cannot be what the header says
                raise CorruptFile(DAMAGED_HEADER) from exc
            except OSError as exc:
                if exc.errno is not None:
                    raise
                raise CorruptFile(DAMAGED_HEADER) from exc
    raise PasswordProtected("the document is password-protected and cannot be inspected")


def _without_decryptor(office: Doc97File) -> ConverterError:
    """msoffcrypto's Word 97 reader has no decryptor for XOR obfuscation (FibBase.fObfuscation):
    ``load_key`` returns having chosen no method and ``decrypt`` raises AttributeError reading it.
    A real Word header (wIdent) so marked is a password Word asks for; any other is damage."""
    if office.info.fib.base.wIdent == WORD_IDENT:
        return PasswordProtected("the document is password-protected (Word's XOR obfuscation) and cannot be "
                                 "inspected")
    return CorruptFile("the Word document's header is damaged: it is marked as encrypted but is not a Word header")


def _decrypted_type(plain: Path) -> str:
    """The type of what decryption produced; damage in it blocks with the reason detection gives."""
    detection = detect(plain)
    if detection.blocked_code is not None:
        raise ConverterError(f"the decrypted document: {detection.blocked_reason}", code=detection.blocked_code)
    return detection.type


def _rebuild_ooxml(src: Path, out_dir: Path, request: ConvertRequest, findings: list[Finding]) -> Conversion:
    detected = detect(src).type
    rebuilt = OoxmlConverter().convert(src, out_dir, ConvertRequest(
        method=request.method, limits=request.limits, stem=request.stem, original_name=request.original_name,
        detected_type=detected, rel_dir=request.rel_dir, depth=request.depth, budget=request.budget))
    merged = list(dict.fromkeys([*findings, *rebuilt.findings]))
    return Conversion("sanitized", rebuilt.outputs, merged)


class LegacyOfficeConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        work = out_dir / f".work-{request.stem}"
        plain, findings = decrypt_if_needed(src, work)
        mime = request.detected_type if plain == src else _decrypted_type(plain)
        if mime not in LEGACY:
            if plain != src and mime.startswith("application/vnd.openxmlformats-officedocument"):
                return _rebuild_ooxml(plain, out_dir, request, findings)
            if plain != src and mime.startswith("application/vnd.ms-") and ".12" in mime:
                return _rebuild_ooxml(plain, out_dir, request, findings)
            raise ConverterError(f"blocked: files of type {mime} are not supported", code="unsupported_type")
        suffix, target = LEGACY[mime]
        findings += analyse(plain, mime)
        converted = convert_with_libreoffice(plain, target, work, suffix=suffix, warm=request.warm_office)
        findings.insert(0, Finding("legacy_format_converted", f"{suffix[1:]} -> {target}"))
        return _rebuild_ooxml(converted, out_dir, request, findings)


class OfficeRasterConverter(Converter):
    """Office → LibreOffice PDF → PDFium pixels → PDF built on the trusted side."""


    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        from converters.formats.pdf_raster import open_document, render_document, what_to_render

        if request.frames is None:
            raise ConverterError("rasterising needs a frame channel", code="converter_error")
        work = out_dir / f".work-{request.stem}"
        plain, findings = decrypt_if_needed(src, work)
        mime = request.detected_type if plain == src else _decrypted_type(plain)
        if mime == "image/svg+xml":
            suffix = ".svg"
        elif mime.startswith("application/vnd.oasis.opendocument"):
            suffix = "." + ODF_SUFFIXES.get(mime, "odt")
        else:
            suffix = LEGACY.get(mime, (OOXML_SUFFIXES.get(_ooxml_kind(mime), ".docx"), ""))[0]
        pdf = convert_with_libreoffice(plain, "pdf", work, suffix=suffix, warm=request.warm_office)
        pdf, form_findings = what_to_render(pdf, work, request)  # form controls: values drawn, as the rebuild does
        findings += form_findings
        document = open_document(pdf)
        name = f"{request.stem}.pdf"
        try:
            findings += render_document(document, request.frames, f"{request.rel_dir}/{name}".lstrip("/"), request)
        finally:
            document.close()
        findings.insert(0, Finding("rasterized", "every page re-drawn as pixels (via LibreOffice)"))
        return Conversion("sanitized", [Output(name, RASTER_FRAMES_TYPE)], findings)


def _ooxml_kind(mime: str) -> str:
    if "wordprocessingml" in mime or "ms-word" in mime:
        return "docx"
    if "spreadsheetml" in mime or "ms-excel" in mime:
        return "xlsx"
    return "pptx"
