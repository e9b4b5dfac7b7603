"""Independent post-check of converter outputs. It shares no logic with the converters: it
re-detects each output with libmagic and looks, with its own rules, for anything active
(scripts, actions, embedded files, macros, external links, executables, formula cells, markup).
Anything it cannot positively check is reported as not clean: fail closed."""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import magic

from converters.inspect.damaged_zip import ZipUnreadable, zip_reading
from converters.inspect.image import jpeg_problems, png_problems, tiff_problems
from converters.inspect.kind import GENERIC_PACKAGE, NotAPackage, package_kind
from converters.inspect.odf_package import check_odf
from converters.inspect.ooxml import check_ooxml
from converters.inspect.pdf import pdf_problems

EXECUTABLE_MARKERS = (b"This program cannot be run in DOS mode", b"\x7fELF\x02\x01\x01")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
HTML_MARKERS = re.compile(r"<\s*(script|html|iframe|object|embed|body|svg)\b", re.IGNORECASE)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)*%?$")
# what libmagic says of text it cannot type (one byte is too short for any rule) or types as a
# format that is plain text to every reader (JSON): such a .txt or .csv output is checked as the
# text its name declares when it is UTF-8 without control characters, and typed as anything else otherwise
TEXT_BY_NAME = frozenset({"application/octet-stream", "application/json"})
TEXT_SUFFIXES = {".txt": "text/plain", ".csv": "text/csv"}
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/bmp": "BMP",
                 "image/tiff": "TIFF", "image/x-ms-bmp": "BMP"}
MAX_ZIP_MEMBER_BYTES = 1024 * 1024 * 1024
_OOXML = "application/vnd.openxmlformats-officedocument"
OOXML_MIMES = {f"{_OOXML}.{kind}": f"{_OOXML}.{kind}" for kind in (
    "wordprocessingml.document", "wordprocessingml.template", "spreadsheetml.sheet", "spreadsheetml.template",
    "presentationml.presentation", "presentationml.slideshow", "presentationml.template")}
OOXML_EXTENSIONS = frozenset({".docx", ".dotx", ".xlsx", ".xltx", ".pptx", ".ppsx", ".potx"})


@dataclass
class Verdict:
    path: str
    type: str
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "type": self.type, "clean": self.clean, "problems": self.problems}


def check_pdf(path: Path, verdict: Verdict) -> None:
    verdict.problems.extend(pdf_problems(path))
    verdict.problems[:] = list(dict.fromkeys(verdict.problems))


def check_image(path: Path, mime: str, verdict: Verdict) -> None:
    from PIL import Image

    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != IMAGE_FORMATS[mime]:
                verdict.problems.append(f"image_format_mismatch {image.format}")
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.info.get("exif") or image.info.get("xmp") or image.info.get("comment"):
                verdict.problems.append("image_metadata_present")
            if mime == "image/tiff":
                for index in range(getattr(image, "n_frames", 1)):
                    image.seek(index)
                    verdict.problems.extend(tiff_problems(getattr(image, "tag_v2", {})))
            extension = image.info.get("extension")
            looping = isinstance(extension, tuple) and extension[0] in (b"NETSCAPE2.0", b"ANIMEXTS1.0")
            if mime == "image/gif" and ((extension and not looping) or image.info.get("comment")):
                verdict.problems.append("gif extension block")
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, struct.error,
            Image.DecompressionBombError) as exc:  # what Pillow's decoders raise on damaged data
        verdict.problems.append(f"image_unreadable: {type(exc).__name__}")
        return
    if mime == "image/png":
        verdict.problems.extend(png_problems(data))
    elif mime == "image/jpeg":
        verdict.problems.extend(jpeg_problems(data))
    endings = {"image/png": b"IEND\xaeB`\x82", "image/jpeg": b"\xff\xd9", "image/gif": b";"}
    expected_end = endings.get(mime)
    if expected_end is not None and not data.endswith(expected_end):
        verdict.problems.append("image_trailing_data")
    if any(marker in data for marker in EXECUTABLE_MARKERS):
        verdict.problems.append("image_holds_executable")


def check_text(path: Path, mime: str, verdict: Verdict) -> None:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        verdict.problems.append("text_not_utf8")
        return
    if TEXT_CONTROL.search(text):
        verdict.problems.append("text_control_characters")
    if HTML_MARKERS.search(text):
        verdict.problems.append("text_holds_markup")
    # formula cells matter where a spreadsheet opens the file: by its name (.csv, .tsv). A .txt
    # whose lines look like CSV to libmagic opens in a text editor, where nothing is evaluated
    if path.suffix.lower() in (".csv", ".tsv"):
        named = re.match(r"\ufeff?sep=([^\n])", text, re.IGNORECASE)  # Excel splits where "sep=X" says
        for delimiter in (",", "\t", ";", *([named.group(1)] if named else [])):
            try:
                for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
                    for cell in row:
                        if cell.startswith(FORMULA_START) and not NUMBER.match(cell):
                            verdict.problems.append("csv_formula_cell")
                            return
            except csv.Error as exc:  # a field past csv.field_size_limit()
                verdict.problems.append(f"csv_unreadable: {exc}")
                return


def _plain_utf8(path: Path) -> bool:
    """UTF-8 (a BOM allowed) without control characters: text by this inspector's own rules."""
    data = path.read_bytes()
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not TEXT_CONTROL.search(text)


def check_zip(path: Path, verdict: Verdict, scratch: Path, depth: int) -> None:
    try:
        with zip_reading(), zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                if not name:  # zipfile's own is_dir() fails on it
                    verdict.problems.append("zip_member_without_name")
                    continue
                if name.endswith("/"):
                    continue
                if info.flag_bits & 0x1:
                    verdict.problems.append(f"zip_encrypted_member {name}")
                    continue
                if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                    verdict.problems.append(f"zip_unsafe_name {name}")
                    continue
                if info.file_size > MAX_ZIP_MEMBER_BYTES:
                    verdict.problems.append(f"zip_member_too_large {name}")
                    continue
                member = scratch / f"member-{depth}{Path(name).suffix[:10]}"
                with archive.open(info) as source, member.open("wb") as sink:
                    while chunk := source.read(1024 * 1024):
                        sink.write(chunk)
                inner = inspect_file(member, scratch, depth + 1)
                verdict.problems.extend(f"{name}: {p}" for p in inner.problems)
                member.unlink()
    except ZipUnreadable as exc:
        verdict.problems.append(f"zip_unreadable: {exc}")


def inspect_file(path: Path, scratch: Path, depth: int = 0) -> Verdict:
    """Re-detect ``path`` by content and check it; the verdict lists every problem found."""
    mime = magic.from_file(str(path), mime=True)
    if mime in TEXT_BY_NAME and path.suffix.lower() in TEXT_SUFFIXES and _plain_utf8(path):
        mime = TEXT_SUFFIXES[path.suffix.lower()]
    if mime in ("text/plain", "text/csv", "application/csv") and path.suffix.lower() == ".csv":
        mime = "text/csv"
    verdict = Verdict(str(path), mime)
    if depth > 8:
        verdict.problems.append("nested_too_deep")
    elif mime == "application/pdf":
        check_pdf(path, verdict)
    elif mime in IMAGE_FORMATS:
        check_image(path, mime, verdict)
    elif mime in ("text/plain", "text/csv", "application/csv", "inode/x-empty"):
        check_text(path, mime, verdict)
    elif mime in OOXML_MIMES or (mime in ("application/zip", "application/octet-stream")
                                 and path.suffix.lower() in OOXML_EXTENSIONS and zipfile.is_zipfile(path)):
        try:  # the kind Office sees (template, slide show, ...), not libmagic's guess
            verdict.type = package_kind(path)
        except NotAPackage as exc:
            verdict.type = GENERIC_PACKAGE
            verdict.problems.append(f"ooxml_package_unreadable: {exc}")
        verdict.problems.extend(check_ooxml(path))
    elif mime.startswith("application/vnd.oasis.opendocument"):
        verdict.problems.extend(check_odf(path))
    elif mime == "application/zip":
        check_zip(path, verdict, scratch, depth)
    else:
        verdict.problems.append(f"unexpected_output_type {mime}")
    return verdict
