"""Plain text, CSV and HTML: decode the charset, write clean UTF-8.

- Text: control characters other than tab, newline, carriage return and form feed are removed.
- CSV: written UTF-8 with a BOM (Japanese Excel then opens it correctly); cells that Excel would
  evaluate as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR, or their full-width forms)
  get a leading apostrophe unless they are plain numbers.
- HTML is never passed as HTML: it becomes readable plain text (``converters.html_text``).
- Text carrying an encoded file (uuencode, yEnc, BinHex; ``converters.encoded_blocks``) is blocked
  as a whole (``encoded_attachment``), as type detection blocks it: the output text is searched
  again because only decoding shows it in UTF-16 text, and control characters removed or HTML
  turned into text can make one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from converters.base import Conversion, Converter, ConvertRequest, Finding, Outcome, Output
from converters.charset import detect_and_decode
from converters.encoded_blocks import KIND_WORDS, find_blocks
from converters.errors import BlockedType, FileTooLarge
from converters.html_text import html_to_text

CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)*%?$")


def neutralise_cell(cell: str) -> tuple[str, bool]:
    if cell.startswith(FORMULA_LEAD) and not PLAIN_NUMBER.match(cell):
        return "'" + cell, True
    return cell, False


def sanitise_csv(text: str) -> tuple[str, int]:
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    output = io.StringIO(newline="")
    writer = csv.writer(output, delimiter=dialect.delimiter, quotechar='"',
                        quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    changed = 0
    for row in reader:
        clean_row = []
        for cell in row:
            clean, was_formula = neutralise_cell(cell)
            changed += was_formula
            clean_row.append(clean)
        writer.writerow(clean_row)
    return output.getvalue(), changed


def refuse_encoded_files(text: str) -> None:
    blocks = find_blocks(text)
    if blocks:
        first = blocks[0]
        carried = f" ({first.name})" if first.name else ""
        raise BlockedType(f"blocked: text carrying a {KIND_WORDS[first.kind]} file{carried}",
                          code="encoded_attachment")


class TextConverter(Converter):
    name = "text"
    input_types = frozenset({"text/plain", "text/csv", "text/html"})

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
        if is_csv:
            text, formulas = sanitise_csv(text)
            if formulas:
                findings.append(Finding("csv_formula_neutralised", f"{formulas} cells"))
                outcome = "sanitized"
            refuse_encoded_files(text)
            name = f"{request.stem}.csv"
            (out_dir / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
            return Conversion(outcome, [Output(name, "text/csv")], findings)
        refuse_encoded_files(text)
        name = f"{request.stem}.txt"
        (out_dir / name).write_bytes(text.encode("utf-8"))
        return Conversion(outcome, [Output(name, "text/plain")], findings)
