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

from converters.ooxml.markup import W_NS, remove_element, unwrap_element
from converters.ooxml.relationships import safe_link

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
_INSTR = (f"{{{W_NS}}}instrText", f"{{{W_NS}}}delInstrText")
_RUN = f"{{{W_NS}}}r"
_RUN_PROPERTIES = f"{{{W_NS}}}rPr"


@dataclass
class _Field:
    begin: etree._Element
    instruction: list[str] = field(default_factory=list)
    items: list[etree._Element] = field(default_factory=list)  # run content before separate
    separate: etree._Element | None = None
    type_from_nested: bool = False
    nested: bool = False

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
    if next(root.iter(_FLD_CHAR), None) is None:
        return  # no complex field in this part
    stack: list[_Field] = []
    for element in [child for run in root.iter(_RUN) for child in run if child.tag != _RUN_PROPERTIES]:
        if element.tag == _FLD_CHAR:
            kind = element.get(f"{{{W_NS}}}fldCharType", "")
            if kind == "begin":
                if stack and stack[-1].in_instruction:
                    stack[-1].nested = True
                    stack[-1].type_from_nested |= not "".join(stack[-1].instruction).strip()
                for open_field in stack:
                    if open_field.in_instruction:
                        open_field.items.append(element)
                stack.append(_Field(element))
                continue
            if kind == "separate" and stack:
                for open_field in stack[:-1]:
                    if open_field.in_instruction:
                        open_field.items.append(element)
                stack[-1].separate = element
                continue
            if kind == "end" and stack:
                finished = stack.pop()
                for open_field in stack:
                    if open_field.in_instruction:
                        open_field.items.append(element)
                _settle(finished, element, part, note)
                continue
        if element.tag in _INSTR and stack and stack[-1].in_instruction:
            stack[-1].instruction.append(element.text or "")
        for open_field in stack:
            if open_field.in_instruction:
                open_field.items.append(element)
    for unfinished in stack:  # a field never ended: Word shows nothing of it
        _settle(unfinished, None, part, note)


def _settle(finished: _Field, end: etree._Element | None, part: str, note: Note) -> None:
    instruction = "".join(finished.instruction)
    if end is not None and field_allowed(instruction, finished.nested, finished.type_from_nested):
        return
    _report(instruction if not finished.type_from_nested else f"(type from a nested field) {instruction}",
            part, note)
    for element in (finished.begin, *finished.items, finished.separate, end):
        if element is not None and element.getparent() is not None:
            remove_element(element)


def _report(instruction: str, part: str, note: Note) -> None:
    kind = _kind(instruction)
    code = "dde_field_removed" if kind in DDE_FIELDS or "DDE" in instruction.upper() else "field_removed"
    note(code, f"{part}: {' '.join(instruction.split())[:60]}")
