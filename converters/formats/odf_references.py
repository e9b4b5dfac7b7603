"""What an OpenDocument link, package reference or formula may point at (used by ``converters.formats.odf_scrub``).

The values come from a parsed XML tree, so character references (``&#x66;ile:``) are already
decoded. Each check is an allowlist:

- a link (``text:a``, ``draw:a``, buttons, any other ``xlink:href``) may go to ``http:``,
  ``https:``, ``mailto:`` (any letter case, around whitespace and control characters stripped)
  or to a place in the document (``#name``); everything else - ``file:``, UNC paths
  (``\\\\host\\share``, ``//host/share``), relative paths that the application resolves next to
  the document, other schemes - is not a link that may stay;
- a package reference (pictures, objects, fill images, fonts, sounds) must name a part inside the
  package: no scheme, no absolute or parent path, no backslash;
- a cell range address (named ranges) may not name another document;
- a formula (cells, validation and conditional-format conditions, named expressions) is read token
  by token: it may not call DDE, WEBSERVICE or FILTERXML (with or without a ``COM.MICROSOFT.``
  prefix), call HYPERLINK with anything but a literal allowed link, refer to another document
  (``'file:///x.ods'#$Sheet1.A1``, ``'https://...'#...``), hold a string naming a file or share
  (INDIRECT can turn it into a reference), or be written in a grammar other than OpenFormula
  (``of:``) or the older ``oooc:``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from converters.formats.link_rules import link_safe
from converters.formats.ooxml.formula_functions import LOCAL_FUNCTIONS

LINK_PREFIXES = ("http://", "https://", "mailto:", "#")
EDGE = "".join(chr(code) for code in range(33)) + "\x7f\x85\xa0\u3000\u200b\ufeff"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
GRAMMAR = re.compile(r"^([A-Za-z][A-Za-z0-9.-]*):(?!//)")
SAFE_GRAMMARS = frozenset({"of", "oooc"})
REACHING_FUNCTIONS = frozenset({"DDE", "WEBSERVICE", "FILTERXML"})
# OpenFormula and LibreOffice names that are not Excel's (Excel's local ones are shared with the
# OOXML rebuild); a formula calling anything else keeps its cached value instead
ODF_LOCAL_FUNCTIONS = frozenset("""
ARABIC B BASE BITAND BITLSHIFT BITOR BITRSHIFT BITXOR CHISQDIST CHISQINV COLOR CONCAT CONVERT_OOO CURRENT
DAYS DAYSINMONTH DAYSINYEAR DDE_DISABLED DECIMAL EASTERSUNDAY EFFECT_ADD ERRORTYPE ERROR.TYPE FORECAST.ETS.ADD
FORECAST.ETS.MULT FORECAST.ETS.PI.ADD FORECAST.ETS.PI.MULT FORECAST.ETS.SEASONALITY FORECAST.ETS.STAT.ADD
FORECAST.ETS.STAT.MULT FORECAST.LINEAR FOURIER GAUSS GOALSEEK ISLEAPYEAR ISOWEEKNUM MONTHS MUNIT NEG
NUMBERVALUE PHI RAWSUBTRACT REGEX ROT13 ROUNDSIG SEARCHB STYLE SUMIFS T.DIST.RT WEEKNUM_OOO WEEKS
WEEKSINYEAR XOR YEARS
""".split()) - {"DDE_DISABLED"}
# the vocabulary of validation and conditional-format conditions (ODF 19.595, calcext:condition):
# hyphenated names (cell-content-is-between, formula-is, top-elements ...), which no spreadsheet
# function has; what stands inside their parentheses is read as formula tokens like the rest
VALIDATION_CONDITION = re.compile(r"(?i)[a-z]+(?:-[a-z]+)+\s*\(")
VALIDATION_CONDITION_TOKEN = "(VALIDATION CONDITION)"  # noqa: S105 (a token name, not a secret)
KNOWN_FUNCTIONS = LOCAL_FUNCTIONS | ODF_LOCAL_FUNCTIONS | {"HYPERLINK", VALIDATION_CONDITION_TOKEN}
FUNCTION_PREFIXES = ("COM.MICROSOFT.", "ORG.OPENOFFICE.", "ORG.LIBREOFFICE.", "_XLFN.", "LEGACY.")
LOCATION_LITERAL = re.compile(r"file:|^(\\\\|//)|^[a-z]:[\\/]|'#|^(?!https?://)[a-z][a-z0-9+.-]*://|"
                              r"^(vnd\.sun\.star|macro|javascript|vbscript|mhtml|smb|ms-[a-z-]+):")


def allowed_link(href: str) -> str | None:
    """The link as it may stay (edges stripped), or None when it must become plain text."""
    target = href.strip(EDGE)
    if CONTROL.search(target) or not target.lower().startswith(LINK_PREFIXES) or not link_safe(target):
        return None
    return target


def inside_package(href: str) -> bool:
    """True when ``href`` names a part of the package itself (``Pictures/x.png``, ``./Object 1``)."""
    target = unquote(href)
    if not target or target != target.strip(EDGE) or CONTROL.search(target):
        return False
    if target.startswith(("/", "\\")) or "\\" in target or SCHEME.match(target):
        return False
    return ".." not in target.split("/")


def address_risk(address: str) -> str | None:
    """A cell range address (``Sheet1.A1:Sheet1.B9``) is not a formula: it may only not name another document."""
    lowered = address.lower()
    return "reference to another document" if "#" in lowered or "file:" in lowered or "://" in lowered else None


def _tokens(formula: str, start: int) -> list[tuple[str, str]]:
    """("str", text), ("external", source), ("func", NAME), ("name", text) and ("char", c) tokens."""
    tokens: list[tuple[str, str]] = []
    index, length = start, len(formula)
    while index < length:
        char = formula[index]
        if char in "\"'":
            end = index + 1
            value: list[str] = []
            while end < length:
                if formula[end] == char:
                    if end + 1 < length and formula[end + 1] == char:
                        value.append(char)
                        end += 2
                        continue
                    break
                value.append(formula[end])
                end += 1
            index = end + 1
            if char == '"':
                tokens.append(("str", "".join(value)))
                continue
            after = index
            while after < length and formula[after] in " \t\r\n$":
                after += 1
            kind = "external" if after < length and formula[after] == "#" else "name"
            tokens.append((kind, "".join(value)))
        elif (condition := VALIDATION_CONDITION.match(formula, index)) is not None:
            tokens.append(("func", VALIDATION_CONDITION_TOKEN))  # cell-content-is-between(1;10)
            index = condition.end()
        elif char.isalpha() or char == "_":
            end = index
            while end < length and (formula[end].isalnum() or formula[end] in "._"):
                end += 1
            after = end
            while after < length and formula[after] in " \t\r\n":
                after += 1
            if after < length and formula[after] == "(":
                tokens.append(("func", formula[index:end].upper()))
                index = after + 1
            else:
                tokens.append(("name", formula[index:end]))
                index = end
        elif char in " \t\r\n":
            index += 1
        else:
            tokens.append(("char", char))
            index += 1
    return tokens


def function_name(written: str) -> str:
    """A function's name without the vendor prefixes ODF files carry (COM.MICROSOFT.XLOOKUP)."""
    name = written.upper()
    for prefix in FUNCTION_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def formula_risk(formula: str) -> str | None:
    """Why the formula may not stay (plain words), or None when it computes only inside the document."""
    grammar = GRAMMAR.match(formula)
    if grammar is not None and grammar.group(1).lower() not in SAFE_GRAMMARS:
        return f"formula in the {grammar.group(1)} grammar"
    tokens = _tokens(formula, grammar.end() if grammar is not None else 0)
    for position, (kind, value) in enumerate(tokens):
        if kind == "external":
            return "reference to another document"
        name = function_name(value) if kind == "func" else ""
        if name in REACHING_FUNCTIONS:
            return f"{name} reaches outside the document"
        if kind == "func" and name not in KNOWN_FUNCTIONS:
            return f"calls {value[:40]}, which is not a local spreadsheet function"
        if name == "HYPERLINK":
            following = tokens[position + 1:position + 3]
            if not (len(following) == 2 and following[0][0] == "str"
                    and allowed_link(following[0][1]) == following[0][1]
                    and following[1] in (("char", ";"), ("char", ","), ("char", ")"))):
                return "HYPERLINK to a target other than http, https or mailto"
        if kind == "str" and LOCATION_LITERAL.search(value.strip(EDGE).lower()):
            return "text naming a file, share or another program"
    return None
