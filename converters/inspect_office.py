"""Independent check of Office (OOXML) outputs, with its own rules on the raw package: no macro,
ActiveX, OLE, macro-sheet, connection, web-extension or custom-UI parts; no relationship leaving
the package except http(s)/mailto hyperlinks; no DDE or INCLUDE field; no formula reaching
another workbook or program; no DTD; a macro-free main content type."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

FORBIDDEN_PART_NAMES = re.compile(
    r"(vbaProject|vbaData|vbaProjectSignature|attachedToolbars|keyMapCustomizations)\.(bin|xml)$|"
    r"/activeX/|/embeddings/.*\.bin$|/macrosheets/|/dialogsheets/|/externalLinks/|connections\.xml$|"
    r"/queryTables/|customUI/|/webextensions/|afchunk", re.IGNORECASE)
FORBIDDEN_TYPES = re.compile(
    r"vbaProject|vbaData|macroEnabled|macrosheet|dialogsheet|activeX|oleObject|externalLink|connections\+xml|"
    r"queryTable|webextension|attachedToolbars|keyMapCustomizations", re.IGNORECASE)
RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(rb'(\w+)="([^"]*)"')
RISKY_REL_TYPES = re.compile(
    rb"/(vbaProject|wordVbaData|oleObject|package|control|activeXControl\w*|xlMacrosheet|xlIntlMacrosheet|"
    rb"externalLink\w*|attachedTemplate|frame|subDocument|aFChunk|connections|queryTable|extensibility|"
    rb"webextension\w*|taskpanes|attachedToolbars|keyMapCustomizations)$", re.IGNORECASE)
FIELD = re.compile(rb"(instr=\"|<w:instrText[^>]*>)\s*(DDE|DDEAUTO|INCLUDETEXT|INCLUDEPICTURE|IMPORT|LINK|"
                   rb"INCLUDE|MACROBUTTON)\b", re.IGNORECASE)
FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*>([^<]*)</", re.IGNORECASE)
AUTO_NAME = re.compile(rb"<(?:\w+:)?definedName\b[^>]*name=\"(_xlnm\.)?auto_(open|close|activate|deactivate)",
                       re.IGNORECASE)
FORMULA_RISK = re.compile(rb"\[\d+\]|\||\bDDE\b|\b(CALL|REGISTER|EXEC)\s*\(", re.IGNORECASE)
SAFE_TARGETS = (b"http://", b"https://", b"mailto:")
MAX_PART = 256 * 1024 * 1024


def check_ooxml(path: Path) -> list[str]:
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as package:
            for info in package.infolist():
                name = info.filename
                if info.flag_bits & 0x1:
                    problems.append(f"encrypted part {name}")
                    continue
                if FORBIDDEN_PART_NAMES.search("/" + name):
                    problems.append(f"forbidden part {name}")
                if not name.lower().endswith((".xml", ".rels", ".vml")):
                    continue
                if info.file_size > MAX_PART:
                    problems.append(f"oversized part {name}")
                    continue
                data = package.read(info)
                problems.extend(_check_xml(name, data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        problems.append(f"ooxml_unreadable: {type(exc).__name__}")
    return list(dict.fromkeys(problems))


def _check_xml(name: str, data: bytes) -> list[str]:
    problems = []
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data[:4096].upper():
        problems.append(f"dtd in {name}")
    if name == "[Content_Types].xml":
        for match in re.finditer(rb'ContentType="([^"]+)"', data):
            if FORBIDDEN_TYPES.search(match.group(1).decode("utf-8", "replace")):
                problems.append(f"forbidden content type {match.group(1).decode('utf-8', 'replace')}")
    if name.lower().endswith(".rels"):
        for element in RELATIONSHIP.findall(data):
            attributes = {k.lower(): v for k, v in ATTRIBUTE.findall(element)}
            kind = attributes.get(b"type", b"")
            if RISKY_REL_TYPES.search(kind):
                problems.append(f"forbidden relationship {kind.rsplit(b'/', 1)[-1].decode()} in {name}")
            if attributes.get(b"targetmode", b"").lower() == b"external":
                target = attributes.get(b"target", b"")
                if not (kind.endswith(b"/hyperlink") and target.lower().startswith(SAFE_TARGETS)):
                    problems.append(f"external relationship in {name}")
    if FIELD.search(data):
        problems.append(f"dde or include field in {name}")
    if AUTO_NAME.search(data):
        problems.append(f"auto-run macro name in {name}")
    for formula in FORMULA.findall(data):
        if FORMULA_RISK.search(formula):
            problems.append(f"external or dde formula in {name}")
    return problems


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
        with zipfile.ZipFile(path) as package:
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
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        problems.append(f"odf_unreadable: {type(exc).__name__}")
    return problems
