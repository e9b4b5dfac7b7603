"""Independent check of OpenDocument outputs, with its own rules on the raw package (the OOXML
check lives in converters/inspect/ooxml.py)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from converters.inspect.damaged_zip import ZipUnreadable, zip_reading
from converters.inspect.odf import odf_xml_problems
from converters.inspect.odf_parts import part_problems

MAX_PART = 256 * 1024 * 1024


ODF_SCRIPT_PARTS = re.compile(r"(^|/)(Basic|Scripts)/", re.IGNORECASE)
ODF_ACTIVE = re.compile(
    rb"<(script:event-listener|presentation:event-listener|draw:object-ole|draw:applet|draw:plugin|"
    rb"draw:floating-frame|text:dde-connection|table:dde-link|office:dde-source|text:execute-macro|"
    rb"text:section-source|table:table-source)\b|xlink:href=\"\s*(vnd\.sun\.star\.script|macro|javascript|vbscript):|"
    rb"table:formula=\"[^\"]*(DDE\s*\(|WEBSERVICE\s*\()|<manifest:encryption-data", re.IGNORECASE)
ODF_EXTERNAL = re.compile(rb"<draw:(image|object)\b[^>]*xlink:href=\"(https?|ftp|file|smb):", re.IGNORECASE)


def check_odf(path: Path) -> list[str]:
    """Independent rules for OpenDocument outputs."""
    problems: list[str] = []
    try:
        with zip_reading(), zipfile.ZipFile(path) as package:
            if "META-INF/manifest.xml" not in package.namelist():
                problems.append("no manifest (META-INF/manifest.xml)")
            problems.extend(part_problems(package, MAX_PART))
            for info in package.infolist():
                if ODF_SCRIPT_PARTS.search(info.filename):
                    problems.append(f"script library {info.filename}")
                if info.filename.startswith("Object ") and "/" not in info.filename:
                    problems.append(f"ole object {info.filename}")
                if not info.filename.endswith(".xml") or info.file_size > MAX_PART:
                    continue
                data = package.read(info)
                if b"<!DOCTYPE" in data[:4096].upper():
                    problems.append(f"dtd in {info.filename}")
                match = ODF_ACTIVE.search(data) or ODF_EXTERNAL.search(data)
                if match:
                    problems.append(f"active or external content in {info.filename}: {match.group(0)[:40]!r}")
                # parsed, with character references decoded: links, package references, formulas
                problems.extend(odf_xml_problems(info.filename, io.BytesIO(data)))
    except ZipUnreadable as exc:
        problems.append(f"odf_unreadable: {exc}")
    return problems
