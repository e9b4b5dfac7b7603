"""Word fields, read as Word reads them: a complex field's instruction is every ``w:instrText``
between its ``fldChar begin`` and ``separate``, across runs, with nested fields tracked; a
simple field's is ``w:fldSimple/@w:instr``. Only field types that compute from the document
itself are kept; any other field is replaced by its last displayed result (the runs between
``separate`` and ``end``), so the reader sees the same text and nothing is fetched or run."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from converters.formats.ooxml.markup import W_NS, remove_element, unwrap_element
from converters.formats.ooxml.namespaces import MC_NS
from converters.formats.ooxml.relationships import safe_link

# Fields that compute from the document, its properties or the page layout. Left out on purpose:
# DDE, DDEAUTO (run a program), INCLUDETEXT, INCLUDEPICTURE, INCLUDE, IMPORT, LINK, EMBED, RD
# (load other files, leak credentials to a share), DATABASE (a data connection), MACROBUTTON
# (runs a macro), PRINT (sends commands to the printer), AUTOTEXT/AUTOTEXTLIST/GLOSSARY (pull
# from the attached template, which is removed), and anything unknown.
LOCAL_FIELDS = frozenset({
    "PAGE", "NUMPAGES", "SECTIONPAGES", "SECTION", "DATE", "TIME", "CREATEDATE", "SAVEDATE", "PRINTDATE",
    "EDITTIME", "TOC", "TOA", "TC", "TA", "XE", "INDEX", "REF", "PAGEREF", "NOTEREF", "SEQ", "STYLEREF",
    "AUTHOR", "TITLE", "SUBJECT", "KEYWORDS", "COMMENTS", "LASTSAVEDBY", "REVNUM", "TEMPLATE", "FILENAME",
    "FILESIZE", "NUMWORDS", "NUMCHARS", "DOCPROPERTY", "DOCVARIABLE", "INFO", "USERNAME", "USERINITIALS",
    "USERADDRESS", "MERGEFIELD", "MERGEREC", "MERGESEQ", "NEXT", "NEXTIF", "SKIPIF", "ADDRESSBLOCK",
    "GREETINGLINE", "IF", "COMPARE", "=", "SET", "QUOTE", "LISTNUM", "AUTONUM", "AUTONUMLGL", "AUTONUMOUT",
    "BARCODE", "DISPLAYBARCODE", "MERGEBARCODE", "EQ", "SYMBOL", "ADVANCE", "FORMTEXT", "FORMCHECKBOX",
    "FORMDROPDOWN", "GOTOBUTTON", "BIDIOUTLINE", "CITATION", "BIBLIOGRAPHY", "FILLIN", "ASK", "SHAPE",
    "PRIVATE", "HYPERLINK",
})
DDE_FIELDS = frozenset({"DDE", "DDEAUTO"})
FIELD_TYPE = re.compile(r"\s*(=|[^\s\\\"]+)")
HYPERLINK_ARG = re.compile(r'"([^"]*)"|(\\[A-Za-z])|(\S+)')
SWITCHES_WITH_ARGUMENT = frozenset({"\\l", "\\o", "\\t", "\\m"})
Note = Callable[[str, str], None]
_FLD_CHAR = f"{{{W_NS}}}fldChar"
FIELD_CHAR_TYPES = frozenset({"begin", "separate", "end"})  # ST_FldCharType
_FLD_SIMPLE = f"{{{W_NS}}}fldSimple"
_INSTR = (f"{{{W_NS}}}instrText", f"{{{W_NS}}}delInstrText")
_RUN = f"{{{W_NS}}}r"
_RUN_PROPERTIES = f"{{{W_NS}}}rPr"
_BRANCHES = (f"{{{MC_NS}}}Choice", f"{{{MC_NS}}}Fallback")


@dataclass
class _Field:
    begin: etree._Element
    instruction: list[str] = field(default_factory=list)
    items: list[etree._Element] = field(default_factory=list)  # run content before separate
    separate: etree._Element | None = None
    type_from_nested: bool = False
    nested: bool = False
    branch: etree._Element | None = None  # the mc:Choice / mc:Fallback it begins in
    crossed: bool = False  # a part of it stands in another branch

    @property
    def in_instruction(self) -> bool:
        return self.separate is None


def field_allowed(instruction: str, nested: bool = False, type_from_nested: bool = False) -> bool:
    if type_from_nested:
        return False
    match = FIELD_TYPE.match(instruction)
    kind = match.group(1).upper() if match else ""
    if kind not in LOCAL_FIELDS:
        return False
    if kind == "HYPERLINK":
        return not nested and _hyperlink_target_safe(instruction[match.end():] if match else "")
    return True


def _hyperlink_target_safe(arguments: str) -> bool:
    """HYPERLINK "target" [\\l "anchor"] [\\o "tip"] ...: the target must be web or mail; an
    anchor alone stays in the document."""
    expecting_switch_argument = False
    for quoted, switch, bare in HYPERLINK_ARG.findall(arguments):
        if switch:
            expecting_switch_argument = switch.lower() in SWITCHES_WITH_ARGUMENT
            continue
        if expecting_switch_argument:
            expecting_switch_argument = False
            continue
        return safe_link(quoted if quoted or not bare else bare)
    return True


def _kind(instruction: str) -> str:
    match = FIELD_TYPE.match(instruction)
    return match.group(1).upper() if match else ""


def neutralise_fields(root: etree._Element, part: str, note: Note) -> None:
    """Replace every field that is not on the list by its displayed result, in place."""
    for simple in list(root.iter(f"{{{W_NS}}}fldSimple")):
        instruction = simple.get(f"{{{W_NS}}}instr", "")
        if not field_allowed(instruction):
            _report(instruction, part, note)
            unwrap_element(simple)
    if next(root.iter(_FLD_CHAR, *_INSTR), None) is None:
        return  # no complex field in this part, and no instruction text standing alone
    for mark in list(root.iter(_FLD_CHAR)):  # a field character of no kind Word knows marks nothing: it goes
        if mark.get(f"{{{W_NS}}}fldCharType", "") not in FIELD_CHAR_TYPES:
            note("field_removed", f"{part}: a field character of unknown type")
            remove_element(mark)
    stack: list[_Field] = []
    for element, branch in _run_contents(root):
        kind = element.get(f"{{{W_NS}}}fldCharType", "") if element.tag == _FLD_CHAR else ""
        if (kind == "begin" or element.tag == _FLD_SIMPLE) and stack and stack[-1].in_instruction:
            stack[-1].nested = True
            stack[-1].type_from_nested |= not "".join(stack[-1].instruction).strip()
        if kind == "separate" and stack:
            stack[-1].separate = element
            stack[-1].crossed |= branch is not stack[-1].branch
        finished = stack.pop() if kind == "end" and stack else None
        if element.tag in _INSTR and stack and stack[-1].in_instruction:
            stack[-1].instruction.append(element.text or "")
        elif element.tag in _INSTR:  # instruction text outside any instruction: never shown, never trusted
            note("field_removed", f"{part}: stray instruction text {' '.join((element.text or '').split())[:40]}")
            remove_element(element)
            continue
        for open_field in stack:
            if open_field.in_instruction and element is not open_field.separate:
                open_field.items.append(element)
                open_field.crossed |= branch is not open_field.branch
        if kind == "begin":
            stack.append(_Field(element, branch=branch))
        if finished is not None:
            finished.crossed |= branch is not finished.branch
            _settle(finished, element, part, note)
    for unfinished in stack:  # a field never ended: Word shows nothing of it
        _settle(unfinished, None, part, note)


def _run_contents(root: etree._Element) -> list[tuple[etree._Element, etree._Element | None]]:
    """Every run's content in document order, with the markup-compatibility branch (mc:Choice or
    mc:Fallback) it stands in: Word reads one branch, so a field must begin, be instructed and
    end within one."""
    contents: list[tuple[etree._Element, etree._Element | None]] = []
    branched = next(root.iter(*_BRANCHES), None) is not None
    for run in root.iter(_RUN, _FLD_SIMPLE):
        branch = _branch_of(run) if branched else None
        if run.tag == _FLD_SIMPLE:
            contents.append((run, branch))  # a simple field: a whole nested field in one element
            continue
        contents.extend((child, branch) for child in run if child.tag != _RUN_PROPERTIES)
    return contents


def _branch_of(element: etree._Element) -> etree._Element | None:
    for ancestor in element.iterancestors(*_BRANCHES):
        return ancestor
    return None


def _settle(finished: _Field, end: etree._Element | None, part: str, note: Note) -> None:
    instruction = "".join(finished.instruction)
    if end is not None and not finished.crossed and field_allowed(
            instruction, finished.nested, finished.type_from_nested):
        return
    prefix = "(type from a nested field) " if finished.type_from_nested else (
        "(crosses a markup-compatibility branch) " if finished.crossed else "")
    _report(prefix + instruction, part, note)
    for element in (finished.begin, *finished.items, finished.separate, end):
        if element is not None and element.getparent() is not None:
            remove_element(element)


def _report(instruction: str, part: str, note: Note) -> None:
    kind = _kind(instruction)
    code = "dde_field_removed" if kind in DDE_FIELDS or "DDE" in instruction.upper() else "field_removed"
    note(code, f"{part}: {' '.join(instruction.split())[:60]}")
