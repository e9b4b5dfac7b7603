"""Excel formulas, wherever the format lets one stand: cells (shared and array formulas
included), defined names, conditional formatting, data validation, extension lists (x14/xm),
table columns, charts, pivot caches and the VML of form controls. Each formula is tokenised
(string literals, quoted sheet names, structured references) and kept only when every function
is a local worksheet function and every reference stays inside the workbook; otherwise the
formula goes and the cached value stays."""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from converters.formats.ooxml.formula_functions import FUTURE_PREFIXES, LOCAL_FUNCTIONS, USER_DEFINED_PREFIX
from converters.formats.ooxml.markup import remove_element
from converters.formats.ooxml.relationships import safe_link

S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
# namespaces whose formula-bearing elements are checked (OMML's m:f is a fraction, not a formula)
FORMULA_NAMESPACES = frozenset({
    S_NS, C_NS, "http://schemas.microsoft.com/office/excel/2006/main",  # xm:f
    "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main",  # x14
    "http://schemas.microsoft.com/office/drawing/2014/chartex",  # cx:f
    "http://schemas.microsoft.com/office/drawing/2012/chart",  # c15:f (data label ranges, filtered series)
})
IDENTIFIER = re.compile(r"[A-Za-z_\\\u0080-\uffff][\w.\\?\u0080-\uffff]*")
SHEET_NAME_FORBIDDEN = frozenset("[]\\/?*")
X14_NS = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
_SHAPE_NAMESPACES = ["{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}*",
                     "{http://schemas.openxmlformats.org/drawingml/2006/chartDrawing}*"]
# every element that holds a formula, in the namespaces above (a cell's own f is handled first)
_FORMULA_TAGS = [f"{{{ns}}}{local}" for ns in sorted(FORMULA_NAMESPACES) for local in (
    "formula", "formula1", "formula2", "f", "calculatedColumnFormula", "totalsRowFormula", "cacheField",
    "calculatedItem", "calculatedMember") if not (ns == S_NS and local == "f")]
RULE_CONTAINERS = frozenset({"conditionalFormatting", "conditionalFormattings", "dataValidations"})
AUTO_MACRO_NAME = re.compile(r"^(_xlnm\.)?auto_(open|close|activate|deactivate)", re.IGNORECASE)
Note = Callable[[str, str], None]


def formula_problem(text: str) -> str | None:
    """Why a formula may not stay (plain words), or None when it computes only locally."""
    position, length = 0, len(text)
    previous_identifier = False
    while position < length:
        char = text[position]
        if char == '"':
            position = _end_of_quoted(text, position, '"')
            previous_identifier = False
            continue
        if char == "'":
            end = _end_of_quoted(text, position, "'")
            name = text[position + 1:end - 1].replace("''", "'")
            if any(c in SHEET_NAME_FORBIDDEN for c in name) or "|" in name:
                return "refers to another file"
            position, previous_identifier = end, False
            continue
        if char == "[":
            end = _end_of_structured_reference(text, position)
            if end < 0:
                return "unbalanced brackets"
            # [1]Sheet1!A1, [1]!Name, [Book.xlsx]Sheet!A1: a workbook index or name, then a sheet or
            # name; a structured reference (Table1[Col], [@Col], [[#This Row],[Col]]) is followed by
            # neither
            after = text[end] if end < length else ""
            if not previous_identifier and after and (after in "!'_\\" or after.isalnum()):
                return "refers to another workbook"
            position, previous_identifier = end, False
            continue
        if char == "|":
            return "DDE link to another program"
        match = IDENTIFIER.match(text, position)
        if match:
            name = match.group(0)
            position = match.end()
            following = _skip_spaces(text, position)
            if following < length and text[following] == "(":
                problem = _function_problem(name, text, following)
                if problem:
                    return problem
                previous_identifier = False
            else:
                previous_identifier = True
            continue
        previous_identifier = False
        position += 1
    return None


def _end_of_quoted(text: str, start: int, quote: str) -> int:
    position = start + 1
    while position < len(text):
        if text[position] == quote:
            if position + 1 < len(text) and text[position + 1] == quote:
                position += 2
                continue
            return position + 1
        position += 1
    return len(text)


def _end_of_structured_reference(text: str, start: int) -> int:
    depth, position = 0, start
    while position < len(text):
        char = text[position]
        if char == "'" and position + 1 < len(text):
            position += 2  # ' escapes the next character inside a structured reference
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return -1


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _function_problem(name: str, text: str, parenthesis: int) -> str | None:
    upper = name.upper()
    if upper.startswith(USER_DEFINED_PREFIX):
        return f"calls a user-defined function ({name[len(USER_DEFINED_PREFIX):][:40]})"
    for prefix in FUTURE_PREFIXES:
        if upper.startswith(prefix):
            upper = upper[len(prefix):]
            break
    if upper.startswith("_XLPM."):
        return None  # a LAMBDA parameter called as a function
    if upper == "HYPERLINK":
        argument = _skip_spaces(text, parenthesis + 1)
        if argument < len(text) and text[argument] == '"':
            end = _end_of_quoted(text, argument, '"')
            if safe_link(text[argument + 1:end - 1].replace('""', '"')):
                return None
        return "HYPERLINK to a target that is not a web or mail address"
    if upper not in LOCAL_FUNCTIONS:
        return f"calls {upper[:40]}, which reaches outside the workbook or is not a worksheet function"
    return None


def _check(text: str | None, where: str, part: str, note: Note) -> bool:
    """True when the formula may stay; reports it otherwise."""
    if not text or not text.strip():
        return True
    problem = formula_problem(text)
    if problem is None:
        return True
    code = "excel_external_formula_removed" if problem.startswith(("refers", "DDE", "HYPERLINK", "unbalanced")) \
        else "excel_active_formula_removed"
    note(code, f"{part}: {where}: {problem}: {text.strip()[:60]}")
    return False


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _remove_and_empty_parent(element: etree._Element, container: str) -> None:
    parent = element.getparent()
    remove_element(element)
    if parent is not None and _local(parent) == container and not len(parent):
        remove_element(parent)
    elif parent is not None and _local(parent) == container and parent.get("count") is not None:
        parent.set("count", str(len(parent)))


def neutralise_formulas(root: etree._Element, part: str, note: Note, removed_sheets: list[str]) -> None:
    """Remove every formula of ``root`` that does not compute locally, in place."""
    dropped_shared: set[str] = set()
    for formula in list(root.iter(f"{{{S_NS}}}f")):
        if not _check(formula.text, "cell", part, note):
            if formula.get("t") == "shared" and formula.get("si") is not None:
                dropped_shared.add(formula.get("si", ""))
            remove_element(formula)
    for formula in list(root.iter(f"{{{S_NS}}}f")):
        if formula.get("t") == "shared" and formula.get("si") in dropped_shared:
            remove_element(formula)
    for name in list(root.iter(f"{{{S_NS}}}definedName")):
        target = name.text or ""
        label = name.get("name", "")[:40]
        macro = AUTO_MACRO_NAME.match(name.get("name", "")) or any(
            name.get(flag, "").lower() in ("1", "true") for flag in ("function", "vbProcedure", "xlm"))
        points_into_removed = any(re.search(rf"(^|[^\w.]){re.escape(sheet)}'?!", target) for sheet in removed_sheets)
        if macro or points_into_removed:
            note("excel4_macro_removed", f"{part}: defined name {label}")
            _remove_and_empty_parent(name, "definedNames")
        elif not _check(target, f"defined name {label}", part, note):
            _remove_and_empty_parent(name, "definedNames")
    for element in list(root.iter(*_FORMULA_TAGS)):
        local = _local(element)
        if element.getparent() is None:
            continue
        if local in ("formula", "formula1", "formula2", "f") and not _check(element.text, local, part, note):
            _remove_rule_of(element)
        elif local in ("calculatedColumnFormula", "totalsRowFormula") and not _check(
                element.text, local, part, note):
            remove_element(element)
        elif local in ("cacheField", "calculatedItem", "calculatedMember") and not _check(
                element.get("formula"), local, part, note):
            if local == "cacheField":
                del element.attrib["formula"]
            else:
                remove_element(element)


def neutralise_sources(root: etree._Element, part: str, note: Note) -> None:
    """Shapes that run a macro or show a formula, conditional-format thresholds, data-table inputs,
    links into other workbooks, and pivot caches or tables bound to a data connection."""
    for shape in list(root.iter(*_SHAPE_NAMESPACES)):
        if shape.get("macro", "").strip():
            note("vba_macro_removed", f"{part}: macro on a shape")
            del shape.attrib["macro"]
        if shape.get("textlink") is not None and not _check(shape.get("textlink"), "shape text link", part, note):
            del shape.attrib["textlink"]
    for threshold in list(root.iter(f"{{{S_NS}}}cfvo", f"{{{X14_NS}}}cfvo")):
        if threshold.getparent() is not None and not _check(threshold.get("val"), "threshold", part, note):
            _remove_rule_of(threshold)
    for formula in root.iter(f"{{{S_NS}}}f"):
        for attribute in ("r1", "r2"):
            if not _check(formula.get(attribute), "data table input", part, note):
                del formula.attrib[attribute]
    for link in root.iter(f"{{{S_NS}}}hyperlink"):
        if any(char in link.get("location", "") for char in "[]\\/"):
            note("external_link_removed", f"{part}: hyperlink to {link.get('location', '')[:60]}")
            del link.attrib["location"]
    for bound in root.iter(f"{{{S_NS}}}cacheSource", f"{{{S_NS}}}table"):
        if bound.get("connectionId") is not None:
            note("data_connection_removed", f"{part}: {_local(bound)} bound to connection {bound.get('connectionId')}")
            del bound.attrib["connectionId"]
            if bound.get("tableType") == "queryTable":
                del bound.attrib["tableType"]


def _remove_rule_of(formula: etree._Element) -> None:
    """A formula of a rule takes its rule with it (conditional format, validation); a chart's
    series reference goes alone and the chart keeps its cached values."""
    if formula.tag == f"{{{C_NS}}}f":
        remove_element(formula)
        return
    ancestor = formula.getparent()
    while ancestor is not None and _local(ancestor) not in ("cfRule", "dataValidation"):
        ancestor = ancestor.getparent()
    if ancestor is None:
        remove_element(formula)
        return
    container = ancestor.getparent()
    remove_element(ancestor)
    while container is not None and _local(container) in RULE_CONTAINERS \
            and not any(_local(child) in RULE_CONTAINERS | {"cfRule", "dataValidation"} for child in container):
        parent = container.getparent()
        remove_element(container)
        container = parent
    if container is not None and _local(container) == "dataValidations" and container.get("count") is not None:
        container.set("count", str(sum(1 for child in container if _local(child) == "dataValidation")))
