"""An independent reading of an OOXML output, written for these tests (it shares nothing with
converters/): every part parsed with defusedxml (character references decoded by the parser),
Word field instructions joined the way Word joins them (all instruction runs between begin and
separate, simple fields, nested fields evaluated), formulas read wherever SpreadsheetML allows
one and roughly tokenised, relationships walked from the package root (parts nothing reaches are
reported), media checked against their bytes. Then the outside tools: olevba, msodde, oleobj.

The answer is what the output still holds; an empty list means nothing active or reaching out."""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeTree

logging.getLogger("olevba").setLevel(logging.CRITICAL)
logging.getLogger("msodde").setLevel(logging.CRITICAL)
logging.getLogger("oleobj").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Holding:
    kind: str  # field, formula, relationship, part, element, action, media, vba, msodde, oleobj, ...
    where: str  # the part (or tool)
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.where}: {self.detail}"


OMML = "http://schemas.openxmlformats.org/officeDocument/2006/math"
SAFE_SCHEMES = ("http://", "https://", "mailto:")
# fields that compute inside the document (Word's field reference, "Fields that ..." locally)
LOCAL_FIELDS = frozenset({
    "=", "ADVANCE", "AUTHOR", "AUTONUM", "AUTONUMLGL", "AUTONUMOUT", "BIDIOUTLINE", "COMMENTS", "COMPARE",
    "CREATEDATE", "DATE", "DOCPROPERTY", "EDITTIME", "EQ", "FILENAME", "FILESIZE", "FORMCHECKBOX",
    "FORMDROPDOWN", "FORMTEXT", "GOTOBUTTON", "IF", "INDEX", "INFO", "KEYWORDS", "LASTSAVEDBY", "LISTNUM",
    "NOTEREF", "NUMCHARS", "NUMPAGES", "NUMWORDS", "PAGE", "PAGEREF", "PRINTDATE", "QUOTE", "REF", "REVNUM",
    "SAVEDATE", "SECTION", "SECTIONPAGES", "SEQ", "SET", "STYLEREF", "SUBJECT", "SYMBOL", "TA", "TC", "TEMPLATE",
    "TIME", "TITLE", "TOA", "TOC", "USERADDRESS", "USERINITIALS", "USERNAME", "XE"})
RISKY_REL_TYPES = frozenset(t.lower() for t in (
    "vbaProject", "wordVbaData", "vbaProjectSignature", "oleObject", "package", "control", "activeXControl",
    "activeXControlBinary", "attachedTemplate", "frame", "subDocument", "externalLink", "externalLinkPath",
    "aFChunk", "connections", "queryTable", "extensibility", "webextension", "webextensiontaskpanes",
    "taskpanes", "attachedToolbars", "keyMapCustomizations", "xlMacrosheet", "xlIntlMacrosheet", "dialogsheet",
    "slideUpdateInfo", "slideUpdateUrl", "customData"))
RISKY_CONTENT_TYPES = re.compile(
    r"vbaProject|vbaData|macroEnabled|macrosheet|dialogsheet|activeX|oleObject|externalLink|connections\+xml|"
    r"queryTable|webextension|attachedToolbars|keyMapCustomizations|html|javascript|ecmascript|rfc822|"
    r"x-msdownload|x-dosexec|x-executable|svg", re.IGNORECASE)
RISKY_ELEMENTS = frozenset({
    "altChunk", "subDoc", "attachedTemplate", "OLEObject", "oleObj", "oleObject", "control", "objectEmbed",
    "objectLink", "ddeLink", "oleLink", "webPublishItem", "webPublishObject", "frameset", "customUI",
    "connectString", "query", "dataSource", "externalData", "saveThroughXslt", "entryMacro", "exitMacro"})
SAFE_ACTIONS = ("ppaction://hlinkshowjump", "ppaction://hlinksldjump", "ppaction://noaction",
                "ppaction://customshow")
FORMULA_ELEMENTS = frozenset({"f", "formula", "formula1", "formula2", "calculatedColumnFormula",
                              "totalsRowFormula", "definedName"})
RISKY_FUNCTIONS = frozenset({
    "WEBSERVICE", "RTD", "IMAGE", "CALL", "REGISTER", "REGISTER.ID", "EXEC", "EXECUTE", "DDE", "INITIATE",
    "REQUEST", "POKE", "TERMINATE", "FOPEN", "FWRITE", "FWRITELN", "FREAD", "FREADLN", "FILES", "DIRECTORY",
    "RUN", "FORMULA", "FORMULA.FILL", "FORMULA.ARRAY", "SET.VALUE", "SET.NAME", "HALT", "RETURN", "ALERT",
    "SEND.KEYS", "EVALUATE", "APP.ACTIVATE", "ON.TIME", "SQL.REQUEST", "CUBEVALUE", "CUBEMEMBER", "CUBESET",
    "STOCKHISTORY"})
FUNCTION_CALL = re.compile(r"([A-Za-z_\\][A-Za-z0-9_.]*)\s*\(")
EXTERNAL_REFERENCE = re.compile(r"\[\d+\]|\[[^\]\[]*\.(xl[a-z]{0,2}|csv|ods|txt)\]|\[[^\]\[]*[\\/:][^\]\[]*\]",
                                re.IGNORECASE)
MACRO_NAME_FLAGS = ("function", "vbProcedure", "xlm")  # the name is a macro (command or function)
AUTO_NAME = re.compile(r"^(_xlnm\.)?auto_(open|close|activate|deactivate)", re.IGNORECASE)
IMAGE_MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",), "jpg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",), "tiff": (b"II*\x00", b"MM\x00*"), "tif": (b"II*\x00", b"MM\x00*"),
    "wmf": (b"\xd7\xcd\xc6\x9a", b"\x01\x00\x09\x00", b"\x02\x00\x09\x00"), "emf": (b"\x01\x00\x00\x00",),
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag: object) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def attr(element: Element, name: str) -> str | None:
    """An attribute by local name, in any namespace (Strict and transitional alike)."""
    for key, value in element.attrib.items():
        if local(key) == name:
            return value
    return None


# --- Word fields --------------------------------------------------------------------------------
@dataclass
class _Field:
    instruction: str = ""
    result: str = ""
    state: str = "instruction"
    starts_nested: bool = False


def _quote_value(instruction: str) -> str:
    """What a QUOTE field shows: character codes become characters, a quoted string itself."""
    words = instruction.split()[1:]
    if words and all(w.isdigit() for w in words):
        return "".join(chr(int(w)) for w in words if int(w) < 0x110000)
    return " ".join(words).strip('"')


def _evaluated(field: _Field) -> str:
    keyword = field.instruction.strip().split(" ", 1)[0].upper() if field.instruction.strip() else ""
    return _quote_value(field.instruction.strip()) if keyword == "QUOTE" else field.result


def field_instructions(root: Element) -> list[tuple[str, bool]]:
    """Every field's instruction as Word assembles it, in document order, with whether its start
    came from a nested field. Nested fields inside an instruction contribute their value."""
    found: list[tuple[str, bool]] = []
    stack: list[_Field] = []

    def walk(element: Element) -> None:
        name = local(element.tag)
        if name == "fldChar":
            kind = (attr(element, "fldCharType") or "").strip().lower()
            if kind == "begin":
                if stack and stack[-1].state == "instruction" and not stack[-1].instruction.strip():
                    stack[-1].starts_nested = True
                stack.append(_Field())
            elif kind == "separate" and stack:
                stack[-1].state = "result"
            elif kind == "end" and stack:
                done = stack.pop()
                found.append((done.instruction, done.starts_nested))
                if stack and stack[-1].state == "instruction":
                    stack[-1].instruction += _evaluated(done)
        elif name in ("instrText", "delInstrText"):
            if stack and stack[-1].state == "instruction":
                stack[-1].instruction += element.text or ""
            else:  # instruction text outside a field: Word ignores it, but it should not be there
                found.append((element.text or "", False))
        elif name in ("t", "delText") and stack and stack[-1].state == "result":
            stack[-1].result += element.text or ""
        if name == "fldSimple":
            instruction = attr(element, "instr") or ""
            found.append((instruction, False))
            if stack and stack[-1].state == "instruction":
                if not stack[-1].instruction.strip():
                    stack[-1].starts_nested = True
                stack[-1].instruction += _evaluated(_Field(instruction, "".join(
                    t.text or "" for t in element.iter() if local(t.tag) == "t")))
            return
        for child in element:
            walk(child)

    walk(root)
    found.extend((f.instruction, f.starts_nested) for f in stack)  # never closed: still an instruction
    return found


def _hyperlink_target(instruction: str) -> str | None:
    """The target of a HYPERLINK field, or None when it only jumps to a bookmark (\\l)."""
    words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', instruction.strip())[1:]
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.lower() in ("\\l", "\\m", "\\n", "\\o", "\\t"):
            skip = word.lower() in ("\\l", "\\o", "\\t")
            continue
        if word.startswith("\\"):
            continue
        return str(word).strip('"')
    return None


def field_risks(instruction: str, starts_nested: bool) -> str | None:
    text = instruction.replace("\u00a0", " ").strip()
    if starts_nested:
        return f"field type computed by a nested field: {text[:80]!r}"
    if not text:
        return None
    keyword = "=" if text.startswith("=") else text.split(None, 1)[0].upper()
    if keyword == "HYPERLINK":
        target = _hyperlink_target(text)
        if target is None or target.lower().startswith(SAFE_SCHEMES):
            return None
        return f"HYPERLINK to {target[:80]!r}"
    if keyword in LOCAL_FIELDS:
        return None
    return f"{keyword} field: {text[:80]!r}"


# --- formulas -----------------------------------------------------------------------------------
def _split_strings(formula: str) -> tuple[str, list[str]]:
    """The formula with double-quoted strings blanked out, and the strings."""
    outside, strings, at = [], [], 0
    for match in re.finditer(r'"((?:[^"]|"")*)"', formula):
        outside.append(formula[at:match.start()])
        outside.append('""')
        strings.append(match.group(1).replace('""', '"'))
        at = match.end()
    outside.append(formula[at:])
    return "".join(outside), strings


def _first_argument(formula: str, start: int) -> str:
    depth, at = 0, start
    in_string = False
    while at < len(formula):
        char = formula[at]
        if char == '"':
            in_string = not in_string
        elif not in_string and char == "(":
            depth += 1
        elif not in_string and char == ")":
            if depth == 0:
                break
            depth -= 1
        elif not in_string and char == "," and depth == 0:
            break
        at += 1
    return formula[start:at].strip()


def formula_risks(formula: str) -> list[str]:
    text = formula.strip().lstrip("=+@").strip()
    outside, _ = _split_strings(text)
    risks = []
    if "|" in outside:
        risks.append("DDE (app|topic!item)")
    if EXTERNAL_REFERENCE.search(outside):
        risks.append("reference to another workbook")
    if re.search(r"'[^']*(\\\\|[a-z]:\\|:/|file:)[^']*'!", outside, re.IGNORECASE):
        risks.append("reference to a file path")
    for match in FUNCTION_CALL.finditer(outside):
        name = match.group(1).upper()
        for prefix in ("_XLFN.", "_XLWS.", "_XLPM."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name.startswith("_XLUDF.") or name.startswith("GET.") or name in RISKY_FUNCTIONS:
            risks.append(f"function {match.group(1)}")
        if name == "HYPERLINK":
            argument = _first_argument(text, text.upper().find("HYPERLINK(", match.start()) + len("HYPERLINK("))
            literal = re.fullmatch(r'"((?:[^"]|"")*)"', argument)
            if literal is None or not literal.group(1).lower().startswith(SAFE_SCHEMES):
                risks.append(f"HYPERLINK to {argument[:60]}")
    return risks


# --- the package --------------------------------------------------------------------------------
def _resolve(source: str, target: str) -> str:
    target = target.replace("\\", "/")
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/")).lower()
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target)).lower()


def _rels_source(name: str) -> str:
    directory, file = posixpath.split(name)
    return posixpath.join(posixpath.dirname(directory), file[: -len(".rels")])


def _is_executable(data: bytes) -> bool:
    if data[:2] == b"MZ" and len(data) > 0x40:
        offset = int.from_bytes(data[0x3C:0x40], "little")
        if data[offset:offset + 4] == b"PE\x00\x00" or b"This program cannot be run in DOS mode" in data[:1024]:
            return True
    return data[:4] == b"\x7fELF" or b"This program cannot be run in DOS mode" in data


@dataclass(frozen=True)
class _PartFacts:
    holdings: tuple[Holding, ...]
    edges: frozenset[str] | None  # internal relationship targets, for a .rels part
    texts: tuple[str, ...]


_FACTS: dict[tuple[str, str, str], _PartFacts] = {}  # one part's facts depend only on its name, type and bytes


def _part_facts(name: str, body: bytes, content_type: str) -> _PartFacts:
    key = (name, content_type, hashlib.sha256(body).hexdigest())
    cached = _FACTS.get(key)
    if cached is None:
        found: list[Holding] = []
        edges: set[str] | None = None
        texts: list[str] = []
        found += _check_bytes(name, body, content_type)
        if name.lower().endswith((".xml", ".rels", ".vml")) or content_type.lower().endswith("xml"):
            root, problem = _parse(name, body)
            if root is None:
                found.append(problem or Holding("xml", name, "not parseable"))
            elif name.lower().endswith(".rels"):
                edges = set()
                found += _relationships(name, root, edges)
            else:
                found += _check_xml(name, root, texts)
        cached = _FACTS[key] = _PartFacts(tuple(found), frozenset(edges) if edges is not None else None,
                                          tuple(texts))
    return cached


def _parse(name: str, body: bytes) -> tuple[Element | None, Holding | None]:
    try:
        root: Element = SafeTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # defusedxml raises several kinds; any of them: not proven harmless
        return None, Holding("xml", name, f"not parseable safely: {type(exc).__name__}")
    return root, None


def _check_bytes(name: str, body: bytes, content_type: str) -> list[Holding]:
    found = []
    lowered = name.lower()
    extension = lowered.rsplit(".", 1)[-1] if "." in lowered.rsplit("/", 1)[-1] else ""
    if _is_executable(body):
        found.append(Holding("media", name, "an executable (PE/ELF)"))
    if body[:8] == OLE_MAGIC:
        found.append(Holding("part", name, "an OLE compound file (VBA project, OLE object or ActiveX)"))
    if body[:4] == b"PK\x03\x04":
        found.append(Holding("part", name, "an embedded ZIP/Office package"))
    if re.search(rb"<\s*script\b|javascript:|vbscript:", body[:4 * 1024 * 1024], re.IGNORECASE):
        found.append(Holding("part", name, "script markup"))
    if extension in ("htm", "html", "js", "vbs", "hta", "mht", "mhtml", "svg", "exe", "dll", "wsf"):
        found.append(Holding("part", name, f"a .{extension} part"))
    expected = IMAGE_MAGIC.get(extension) or IMAGE_MAGIC.get(content_type.lower().removeprefix("image/"))
    if (content_type.lower().startswith("image/") or extension in IMAGE_MAGIC) and expected is not None:
        if not body.startswith(expected):
            found.append(Holding("media", name, f"declared {content_type or extension} but the bytes start "
                                                f"{body[:8]!r}"))
    elif content_type.lower().startswith("image/") and "svg" not in content_type.lower():
        if not any(body.startswith(m) for magics in IMAGE_MAGIC.values() for m in magics):
            found.append(Holding("media", name, f"declared {content_type} but the bytes start {body[:8]!r}"))
    return found


def _relationships(name: str, root: Element, internal: set[str]) -> list[Holding]:
    found = []
    source = _rels_source(name)
    for element in root.iter():
        if local(element.tag) != "Relationship":
            continue
        kind = (attr(element, "Type") or "").rstrip("/").rsplit("/", 1)[-1]
        target = attr(element, "Target") or ""
        mode = (attr(element, "TargetMode") or "").strip().lower()
        if kind.lower() in RISKY_REL_TYPES:
            found.append(Holding("relationship", name, f"{kind} -> {target[:100]}"))
        if mode == "external":
            if not (kind.lower() == "hyperlink" and target.strip().lower().startswith(SAFE_SCHEMES)):
                found.append(Holding("relationship", name, f"external {kind} -> {target[:100]}"))
        else:
            internal.add(_resolve(source, target))
    return found


LINK_ATTRIBUTES = ("href", "src", "link", "location", "destinationFile")
FIELD_TAGS = frozenset({"fldChar", "instrText", "delInstrText", "fldSimple"})
FORMULA_ATTRIBUTE_TAGS = frozenset({"cacheField", "calculatedItem", "calculatedMember", "cfvo"})


def _check_xml(name: str, root: Element, texts: list[str]) -> list[Holding]:
    found = []
    has_fields = False
    for element in root.iter():
        tag = local(element.tag)
        if tag in FIELD_TAGS:
            has_fields = True
        if tag in RISKY_ELEMENTS:
            found.append(Holding("element", name, f"<{tag}>"))
        if tag in FORMULA_ELEMENTS and namespace(element.tag) != OMML and element.text and element.text.strip():
            label = tag if tag != "definedName" else f"definedName {attr(element, 'name')}"
            found += [Holding("formula", name, f"{label}: {risk}: {element.text[:80]!r}")
                      for risk in formula_risks(element.text)]
        if tag == "definedName" and AUTO_NAME.match(attr(element, "name") or ""):
            found.append(Holding("formula", name, f"auto-run defined name {attr(element, 'name')}"))
        if tag == "definedName" and any(attr(element, key) in ("1", "true") for key in MACRO_NAME_FLAGS):
            found.append(Holding("formula", name, f"macro defined name {attr(element, 'name')}"))
        if tag == "t" and element.text and namespace(element.tag) != OMML:
            texts.append(element.text)
        if not element.attrib:
            continue
        attributes = {local(key): value for key, value in element.attrib.items()}
        if tag in FORMULA_ATTRIBUTE_TAGS:
            for key in ("formula", "val"):
                if attributes.get(key):
                    found += [Holding("formula", name, f"{tag}@{key}: {risk}: {attributes[key][:80]!r}")
                              for risk in formula_risks(attributes[key])]
        if tag == "cmd" and attributes.get("type", "").lower() == "verb":  # an animation sending an OLE verb
            found.append(Holding("action", name, f"<cmd type=verb cmd={attributes.get('cmd', '')[:20]}>"))
        action = attributes.get("action", "").strip().lower()
        if action.startswith("ppaction://") and not action.startswith(SAFE_ACTIONS):
            found.append(Holding("action", name, f"{tag} action={action[:80]}"))
        for key in LINK_ATTRIBUTES:
            value = attributes.get(key)
            if value and re.match(r"\s*(file:|\\\\|mhtml:|ms-|search-ms:|javascript:|vbscript:)", value, re.I):
                found.append(Holding("element", name, f"<{tag} {key}={value[:80]}>"))
    if has_fields:
        for instruction, nested in field_instructions(root):
            risk = field_risks(instruction, nested)
            if risk:
                found.append(Holding("field", name, risk))
    return found


class Reading:
    """One package read once: what it still holds, and its visible text."""

    def __init__(self, path: Path) -> None:
        self.holdings: list[Holding] = []
        self.texts: list[str] = []
        try:
            with zipfile.ZipFile(path) as archive:
                self._read(archive)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            self.hold(Holding("package", "zip", f"not readable: {type(exc).__name__}"))

    def hold(self, holding: Holding) -> None:
        if holding not in self.holdings:
            self.holdings.append(holding)

    def _read(self, archive: zipfile.ZipFile) -> None:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        by_lower: dict[str, list[str]] = {}
        for info in infos:
            by_lower.setdefault(info.filename.lstrip("/").lower(), []).append(info.filename)
        for names in by_lower.values():
            if len(names) > 1:
                self.hold(Holding("part", names[0], f"one name twice in the ZIP (or in two cases): {names}"))
        entries = [(info.filename.lstrip("/"), archive.read(info)) for info in infos]  # duplicates too
        types = self._content_types(dict(entries))
        edges: dict[str, set[str]] = {}
        for name, body in entries:
            facts = _part_facts(name, body, types(name))
            for holding in facts.holdings:
                self.hold(holding)
            self.texts += facts.texts
            if facts.edges is not None:
                edges.setdefault(_rels_source(name).lower(), set()).update(facts.edges)
        self._reachability(set(by_lower), edges)

    def _content_types(self, data: dict[str, bytes]) -> Callable[[str], str]:
        name = next((n for n in data if n.lower() == "[content_types].xml"), None)
        defaults: dict[str, str] = {}
        overrides: dict[str, str] = {}
        root, problem = _parse(name, data[name]) if name is not None else (None, Holding(
            "package", "[Content_Types].xml", "missing"))
        if problem is not None:
            self.hold(problem)
        for element in root.iter() if root is not None else []:
            if local(element.tag) == "Default":
                defaults[(attr(element, "Extension") or "").lower()] = attr(element, "ContentType") or ""
            elif local(element.tag) == "Override":
                part = (attr(element, "PartName") or "").lstrip("/").lower()
                overrides[part] = attr(element, "ContentType") or ""
        for content_type in [*defaults.values(), *overrides.values()]:
            if RISKY_CONTENT_TYPES.search(content_type):
                self.hold(Holding("content-type", "[Content_Types].xml", content_type))

        def of(part: str) -> str:
            extension = part.rsplit(".", 1)[-1].lower() if "." in part.rsplit("/", 1)[-1] else ""
            return overrides.get(part.lower(), defaults.get(extension, ""))
        return of

    def _reachability(self, names: set[str], edges: dict[str, set[str]]) -> None:
        reached: set[str] = set()
        todo = list(edges.get("", set()))
        while todo:
            part = todo.pop()
            if part in reached:
                continue
            reached.add(part)
            todo.extend(edges.get(part, set()))
        for name in sorted(names):
            if name == "[content_types].xml":
                continue
            if name.endswith(".rels"):
                source = _rels_source(name).lower()
                if source == "" or source in reached:
                    continue
                self.hold(Holding("part", name, "relationships of a part nothing reaches"))
            elif name not in reached:
                self.hold(Holding("part", name, "a part no relationship reaches"))


ALL_TOOLS = ("olevba", "msodde", "oleobj")


def outside_tools(path: Path, tools: tuple[str, ...] = ALL_TOOLS) -> list[Holding]:
    """olevba (VBA anywhere in the package), msodde (fields Word would run, Excel DDE links),
    oleobj (external relationships other than http(s)/mailto hyperlinks, and OLE objects).
    A tool failing on a package is reported: not proven clean."""
    from oletools import msodde, oleobj
    from oletools.olevba import VBA_Parser
    from oletools.ooxml import XmlParser

    found: list[Holding] = []
    if "olevba" in tools:
        try:
            parser = VBA_Parser(str(path))
            try:
                if parser.detect_vba_macros():
                    found.append(Holding("vba", "olevba", "VBA macros found"))
            finally:
                parser.close()
        except Exception as exc:
            found.append(Holding("tool-error", "olevba", type(exc).__name__))
    if "msodde" in tools:
        try:
            # msodde's own extraction (it joins runs and expands QUOTE character codes); its
            # blacklist also lists local fields (REF, =, https HYPERLINK), so the allowlist decides
            fields = str(msodde.process_file(str(path), msodde.FIELD_FILTER_ALL)).splitlines()
            found += [Holding("msodde", "msodde", f"{risk} (msodde read {line.strip()[:80]!r})")
                      for line in fields if (risk := field_risks(line, False))]
        except Exception as exc:
            found.append(Holding("tool-error", "msodde", type(exc).__name__))
    if "oleobj" in tools:
        try:
            for kind, target in oleobj.find_external_relationships(XmlParser(str(path))):
                if not (kind == "hyperlink" and target.strip().lower().startswith(SAFE_SCHEMES)):
                    found.append(Holding("oleobj", "oleobj", f"external {kind} -> {target[:100]}"))
            for ole in oleobj.find_ole(str(path), None):
                if ole is not None:
                    found.append(Holding("oleobj", "oleobj", "embedded OLE stream"))
                    ole.close()
        except Exception as exc:
            found.append(Holding("tool-error", "oleobj", type(exc).__name__))
    return found


def judge(path: Path, tools: tuple[str, ...] = ALL_TOOLS) -> tuple[list[Holding], list[str]]:
    """(what the output still holds, its visible text runs)."""
    reading = Reading(path)
    return [*reading.holdings, *outside_tools(path, tools)], reading.texts
