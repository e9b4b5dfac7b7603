"""Plain text, CSV and HTML: decode the charset, write clean UTF-8.

- Text: control characters other than tab, newline, carriage return and form feed are removed.
- CSV: written UTF-8 with a BOM (Japanese Excel then opens it correctly); cells that Excel would
  evaluate as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR, or their full-width forms)
  get a leading apostrophe unless they are plain numbers. Excel splits a ``.csv`` at its locale's
  list separator, not at the file's delimiter, so the written file is read again with each of
  ``,``, tab and ``;``: a field that would start a formula in one of those readings (``-5,=cmd|...``
  as one ``;``-separated cell) gets its apostrophe too (``READINGS``), and with the separator a
  first line ``sep=X`` names. Nothing else changes: the cells stay where they were.
- A ``<`` that could open markup is written as the full-width ``＜`` in every output, so no
  browser or type detector reads the text as HTML (``html_text.neutralise_markup``).
- The output is typed again (``converters.detect``): removing control characters or markup can
  make text that starts like another format (``%<b></b>PDF-`` becomes ``%PDF-``); anything not
  read as text is blocked (``corrupt_file``).
- HTML is never passed as HTML: it becomes readable plain text (``converters.formats.html_text``).
- Text carrying an encoded file (uuencode, yEnc, BinHex; ``converters.formats.encoded_blocks``) is blocked
  as a whole (``encoded_attachment``), as type detection blocks it: the output text is searched
  again because only decoding shows it in UTF-16 text, and control characters removed or HTML
  turned into text can make one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.detect import detect
from converters.errors import BlockedType, ConverterError, CorruptFile, FileTooLarge, LimitExceeded
from converters.formats.charset import detect_and_decode
from converters.formats.encoded_blocks import KIND_WORDS, find_blocks
from converters.formats.html_text import html_to_text, neutralise_markup

CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)*%?$")
READINGS = (",", "\t", ";")  # the list separators a spreadsheet may split a .csv at, whatever its delimiter
SEPARATOR_HINT = re.compile(r"\A\ufeff?sep=(.)", re.IGNORECASE)  # Excel's first line "sep=;"
TEXT_OUTPUT_TYPES = frozenset({"text/plain", "text/csv", "application/octet-stream"})  # octet-stream: too
# short for libmagic to type (one byte); the text is still clean UTF-8


def is_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_LEAD) and not PLAIN_NUMBER.match(cell)


def neutralise_cell(cell: str) -> tuple[str, bool]:
    if is_formula(cell):
        return "'" + cell, True
    return cell, False


def _read_error(exc: csv.Error) -> ConverterError:
    if "field limit" in str(exc):
        return LimitExceeded(f"a CSV cell is longer than {csv.field_size_limit():,} characters")
    return CorruptFile(f"the CSV cannot be read: {exc}")


def sanitise_csv(text: str) -> tuple[str, int]:
    """``text`` as it came, but for an apostrophe before every field that starts a formula in any
    reading. It is not parsed and written again: a file read with a guessed delimiter and written
    anew (``csv.Sniffer`` takes a ``;`` inside a cell for the delimiter) merges or splits the cells
    Excel shows, so only the apostrophes are added and every field stays where it was."""
    readings: tuple[str, ...] = READINGS
    hint = SEPARATOR_HINT.match(text)
    if hint:  # Excel splits at the separator a first line "sep=X" names
        separator = hint.group(1)
        if separator in ('"', "\r", "\n"):
            raise CorruptFile("the CSV's first line names a quote or a line end as its separator")
        readings = (*READINGS, separator) if separator not in READINGS else READINGS
    return neutralise_every_reading(text, readings)


def neutralise_every_reading(text: str, readings: tuple[str, ...] = READINGS) -> tuple[str, int]:
    """``text`` (written CSV) with an apostrophe before each field that starts a formula when it is
    read with any delimiter of ``READINGS``. An apostrophe is no CSV syntax in any reading, so
    adding one never moves a field boundary: two passes settle it."""
    added = 0
    for _ in range(3):
        changed = False
        for delimiter in readings:
            offsets = _formula_offsets(text, delimiter)
            if offsets:
                pieces = [text[start:end] for start, end in zip([0, *offsets], [*offsets, len(text)], strict=True)]
                text = "'".join(pieces)
            added += len(offsets)
            changed = changed or bool(offsets)
        if not changed:
            return text, added
    raise ConverterError("the CSV's formula cells could not all be neutralised")


def _formula_offsets(text: str, delimiter: str) -> list[int]:
    """Where the formula fields of ``text`` read with ``delimiter`` begin. csv.reader finds the
    records holding one; ``_field_values`` locates them within the record."""
    bounds: list[tuple[int, int]] = []

    def lines() -> Iterator[str]:
        offset = 0
        for line in io.StringIO(text, newline=""):
            bounds.append((offset, offset + len(line)))
            offset += len(line)
            yield line

    offsets: list[int] = []
    reader = csv.reader(lines(), delimiter=delimiter)
    consumed = 0
    try:
        for row in reader:
            first_line, consumed = consumed, reader.line_num
            if not any(is_formula(cell) for cell in row):
                continue
            start, end = bounds[first_line][0], bounds[consumed - 1][1]
            fields = _field_values(text[start:end], delimiter)
            if [value for _, value in fields] != row:
                raise ConverterError("the CSV's fields could not be located for neutralising formulas")
            offsets.extend(start + where for where, value in fields if is_formula(value))
    except csv.Error as exc:
        raise _read_error(exc) from None
    return offsets


_START_RECORD, _START_FIELD, _IN_FIELD, _IN_QUOTED, _QUOTE_IN_QUOTED, _EAT_CRNL = range(6)


def _field_values(record: str, delimiter: str) -> list[tuple[int, str]]:
    """(where the value's first character stands, value) of each field of one record, read as
    csv.reader reads it (its state machine: "excel" quoting, not strict, lines split at CR, LF, CRLF)."""
    fields: list[tuple[int, str]] = []
    value: list[str] = []
    first = 0
    state = _START_RECORD
    position = 0

    def save() -> None:
        fields.append((first, "".join(value)))
        value.clear()

    for line in io.StringIO(record, newline=""):
        for index, char in enumerate([*line, ""], position):  # "" stands for the end of the line
            ends = char == "" or char in "\r\n"
            after_end = _START_RECORD if char == "" else _EAT_CRNL
            if state == _START_RECORD:
                if ends:
                    state = _START_RECORD if char == "" else _EAT_CRNL
                    continue
                state = _START_FIELD
            if state == _START_FIELD:
                if ends:
                    save()
                    state = after_end
                elif char == '"':
                    state = _IN_QUOTED
                elif char == delimiter:
                    save()
                else:
                    first, state = index, _IN_FIELD
                    value.append(char)
            elif state == _IN_FIELD:
                if ends:
                    save()
                    state = after_end
                elif char == delimiter:
                    save()
                    state = _START_FIELD
                else:
                    value.append(char)
            elif state == _IN_QUOTED:
                if char == '"':
                    state = _QUOTE_IN_QUOTED
                elif char:
                    first = first if value else index
                    value.append(char)
            elif state == _QUOTE_IN_QUOTED:
                if char == '"':
                    first = first if value else index
                    value.append(char)
                    state = _IN_QUOTED
                elif char == delimiter:
                    save()
                    state = _START_FIELD
                elif ends:
                    save()
                    state = after_end
                else:
                    first = first if value else index
                    value.append(char)
                    state = _IN_FIELD
            elif char == "":  # _EAT_CRNL: the rest of a CRLF, then the line's end
                state = _START_RECORD
        position += len(line)
    if value or state == _IN_QUOTED:
        save()
    return fields


def refuse_encoded_files(text: str) -> None:
    blocks = find_blocks(text)
    if blocks:
        first = blocks[0]
        carried = f" ({first.name})" if first.name else ""
        raise BlockedType(f"blocked: text carrying a {KIND_WORDS[first.kind]} file{carried}",
                          code="encoded_attachment")


class TextConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        if src.stat().st_size > request.limits.text_max_bytes:
            raise FileTooLarge("the text file is larger than the text limit")
        decoded = detect_and_decode(src.read_bytes())
        findings: list[Finding] = []
        if decoded.charset not in ("utf-8", "ascii"):
            findings.append(Finding("text_charset_converted", f"{decoded.charset} to UTF-8"))
        if decoded.replaced:
            findings.append(Finding("text_undecodable_bytes_replaced", decoded.charset))
        text = decoded.text
        outcome: Outcome = "passed"
        if CONTROL.search(text):
            text = CONTROL.sub("", text)
            findings.append(Finding("text_control_characters_removed", ""))
        is_csv = request.detected_type == "text/csv"
        if request.detected_type == "text/html":
            text = html_to_text(text)
            findings.append(Finding("html_converted_to_text", "markup, scripts and links removed"))
            outcome = "sanitized"
        else:
            text, marks = neutralise_markup(text)
            if marks:
                findings.append(Finding("text_markup_neutralised", f"{marks} '<' written as '\uff1c'"))
                outcome = "sanitized"
        if is_csv:
            text, formulas = sanitise_csv(text)
            if formulas:
                findings.append(Finding("csv_formula_neutralised", f"{formulas} cells"))
                outcome = "sanitized"
            refuse_encoded_files(text)
            name = f"{request.stem}.csv"
            write_text_output(out_dir / name, b"\xef\xbb\xbf" + text.encode("utf-8"))
            return Conversion(outcome, [Output(name, "text/csv")], findings)
        refuse_encoded_files(text)
        name = f"{request.stem}.txt"
        write_text_output(out_dir / name, text.encode("utf-8"))
        return Conversion(outcome, [Output(name, "text/plain")], findings)


def write_text_output(path: Path, data: bytes) -> None:
    """Write ``data`` and type it again as an input would be; what is no longer text is blocked."""
    path.write_bytes(data)
    found = detect(path).type
    if found not in TEXT_OUTPUT_TYPES:
        path.unlink()
        raise CorruptFile(f"the text, once cleaned, reads as another kind of file ({found})")
