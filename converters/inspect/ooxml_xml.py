"""The inspector's reading of one XML part of an Office package, as a stream: every element's
namespace on an allowlist (Strict read as transitional, markup-compatibility branches both read),
elements that embed or link code or objects, links that are not http(s)/mailto, PowerPoint
actions, Excel formulas wherever they stand and Word fields joined across runs and paragraphs as
Word joins them; every element one its namespace's published schema defines (``ooxml_names``).
Parsed with the standard library's expat through defusedxml (no DTD, no
entities): character references are decoded before any decision. Shares no code with the
converters."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from converters.inspect.ooxml_formulas import NESTED, SAFE_LINK, field_problems, formula_problems
from converters.inspect.ooxml_names import DEFINED

S = "http://schemas.openxmlformats.org/"
T = S + "officedocument/2006/relationships/"
PKG = S + "package/2006/relationships/"
MS = "http://schemas.microsoft.com/office/"
D = "application/vnd.openxmlformats-officedocument."
STRICT = "http://purl.oclc.org/ooxml/"
PRE_STANDARD = re.compile(r"^(http://schemas\.openxmlformats\.org/[a-z]+/2006/)\d+/(?=main$)")
STRICT_RENAMES = {"extendedproperties": "extended-properties", "customproperties": "custom-properties"}
# Namespaces of OOXML, DrawingML, VML, markup compatibility, Office's documented extensions (by
# family) and LibreOffice's extension data. Word's 2006 wordml (wne: VBA data, key maps,
# toolbars) and 3D models are left out.
NAMESPACES = frozenset([S + kind for kind in """wordprocessingml/2006/main spreadsheetml/2006/main
    presentationml/2006/main drawingml/2006/main drawingml/2006/wordprocessingdrawing drawingml/2006/chart
    drawingml/2006/chartdrawing drawingml/2006/diagram drawingml/2006/picture drawingml/2006/spreadsheetdrawing
    drawingml/2006/lockedcanvas drawingml/2006/compatibility officedocument/2006/relationships
    officedocument/2006/math officedocument/2006/extended-properties officedocument/2006/custom-properties
    officedocument/2006/docpropsvtypes officedocument/2006/bibliography officedocument/2006/customxml
    officedocument/2006/sharedtypes package/2006/metadata/core-properties package/2006/content-types
    package/2006/relationships markup-compatibility/2006""".split()] + """http://purl.org/dc/elements/1.1/
    http://purl.org/dc/terms/ http://purl.org/dc/dcmitype/ http://www.w3.org/2001/xmlschema-instance
    http://www.w3.org/xml/1998/namespace urn:schemas-microsoft-com:vml urn:schemas-microsoft-com:office:office
    urn:schemas-microsoft-com:office:word urn:schemas-microsoft-com:office:excel
    urn:schemas-microsoft-com:office:powerpoint http://schemas.microsoft.com/office/excel/2006/main
    http://schemas.microsoft.com/office/2020/miplabelmetadata http://schemas.libreoffice.org/
    http://schemas.microsoft.com/office/mac/excel/2008/main""".split())
NAMESPACE_FAMILIES = tuple(MS + family for family in ("word/", "drawing/", "powerpoint/", "spreadsheetml/", "thememl/"))
NAMESPACES_LEFT_OUT = frozenset({MS + "word/2006/wordml", MS + "drawing/2017/model3d"})
# namespaces of ECMA-376 and Microsoft, whose every element must be one the schemas define (the
# others allowed above, LibreOffice's extension data, are judged by namespace only)
OFFICE_SCHEMAS = (S, MS, "urn:schemas-microsoft-com:", "http://purl.org/dc/")
HTML_IN_VML = frozenset({"xml", "div", "font", "span", "b", "i", "u", "s", "br", "p", "sub", "sup", "strong", "em"})

W, X, PML, A = S + "wordprocessingml/2006/main", S + "spreadsheetml/2006/main", S + "presentationml/2006/main", \
    S + "drawingml/2006/main"
MC, XM = S + "markup-compatibility/2006", "http://schemas.microsoft.com/office/excel/2006/main"
V, VO, XV = "urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:office", \
    "urn:schemas-microsoft-com:office:excel"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
R, EP = S + "officedocument/2006/relationships", S + "officedocument/2006/extended-properties"
DRAWING_SHAPES = frozenset({S + "drawingml/2006/spreadsheetdrawing", S + "drawingml/2006/chartdrawing"})
CHARTS = (S + "drawingml/2006/chart", MS + "drawing/")
# Elements that embed or link code, objects or outside data (lower-case local names).
ACTIVE = frozenset({(W, n) for n in ("object", "control", "attachedtemplate", "subdoc", "altchunk", "flddata",
                                     "mailmerge", "entrymacro", "exitmacro", "savethroughxslt", "frameset")}
                   | {(VO, "oleobject"), (PML, "control"), (PML, "oleobj"), (MS + "powerpoint/2010/main", "media"),
                      (MS + "word/2012/wordprocessingdrawing", "webvideopr")}
                   | {(X, n) for n in ("oleobject", "control", "externalreference", "webpublishitem",
                                       "webpublishobject", "functiongroups")}
                   | {(A, n) for n in ("videofile", "audiofile", "quicktimefile", "wavaudiofile", "audiocd")}
                   | {(XV, "fmla" + n) for n in ("macro", "link", "range", "pict", "group", "txbx")})
FORMULA_ELEMENTS = frozenset({(X, "f"), (X, "formula"), (X, "formula1"), (X, "formula2"), (XM, "f"),
                              (X, "calculatedColumnFormula"), (X, "totalsRowFormula"), (X, "definedName")})
ON_START = frozenset({(MC, "Choice"), (MC, "Fallback"), (W, "fldSimple"), (W, "fldChar"), (PML, "cmd")}
                     | {(X, n) for n in ("definedName", "cacheSource", "worksheetSource", "rangeSet", "dataRef",
                                         "table", "cacheField", "calculatedItem", "cfvo", "f", "hyperlink")})
ON_END = FORMULA_ELEMENTS | {(MC, "Choice"), (MC, "Fallback"), (W, "instrText"), (W, "delInstrText"),
                             (EP, "HyperlinkBase")}
HLINKS = frozenset({"hlinkClick", "hlinkHover", "hlinkMouseOver"})
# the elements that may name a relationship leading outside the package: anything else naming one
# (a picture, sound, header, font, chart or pivot source) loads from that address when opened
LINK_OWNERS = frozenset({(W, "hyperlink"), (X, "hyperlink")} | {(A, local) for local in HLINKS})
# PowerPoint actions that stay inside the show; program, macro, ole, hlinkfile, hlinkpres are not here.
SAFE_ACTIONS = frozenset({"ppaction://hlinksldjump", "ppaction://hlinkshowjump", "ppaction://noaction",
                          "ppaction://customshow", "ppaction://media"})
LAMBDA = re.compile(r"\s*=?\s*(_xlfn\.)?lambda\s*\(", re.IGNORECASE)
AUTO_RUN = re.compile(r"(_xlnm\.)?auto_(open|close|activate|deactivate)", re.IGNORECASE)


def normalize(uri: str) -> str:
    """Lower case, and a Strict (ISO 29500) namespace or relationship type, or a pre-standard one
    (Office 2007 betas: .../spreadsheetml/2006/7/main), as its transitional twin."""
    uri = uri.strip().lower()
    if not uri.startswith(STRICT):
        return PRE_STANDARD.sub(r"\1", uri)
    area, _, rest = uri[len(STRICT):].partition("/")
    if area == "officedocument" and rest.startswith("relationships/"):
        tail = rest[len("relationships/"):]
        return T + STRICT_RENAMES.get(tail, tail)
    return f"{S}{area}/2006/{STRICT_RENAMES.get(rest, rest)}"


def namespace_allowed(uri: str) -> bool:
    if uri in NAMESPACES:
        return True
    return uri.startswith(NAMESPACE_FAMILIES) and not uri.startswith(tuple(NAMESPACES_LEFT_OUT))


def show(text: str) -> str:
    return repr(text[:100])


class Tag(NamedTuple):
    uri: str
    local: str
    at_start: bool  # has rules on its attributes or opens a field or branch
    at_end: bool  # has rules on its text or closes a branch


@dataclass
class Field:
    text: list[str] = dataclass_field(default_factory=list)  # instruction pieces, across runs and paragraphs
    done: bool = False  # instruction judged (reached separate): what follows is the result


class Part:
    """One XML part read as a stream: namespaces, active elements, links, fields and formulas."""

    def __init__(self, name: str, problems: list[str], calls: dict[str, str], names: set[str],
                 outside: frozenset[str] = frozenset()) -> None:
        self.name, self.problems, self.calls, self.names = name, problems, calls, names
        self.outside = outside  # ids of the part's relationships to targets outside the package
        self.fields: list[Field] = []  # complex fields begun and not ended, innermost last
        self.floors: list[int] = [0]
        self.tags: dict[str, Tag] = {}
        self.keys: set[str] = set()

    def add(self, problem: str) -> None:
        self.problems.append(f"{problem} in {self.name}")

    def split(self, tag: str) -> tuple[str, str]:
        uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        return normalize(uri), local

    def learn(self, tag: str, vml: bool) -> Tag:
        """What a tag needs, worked out (and its namespace judged) the first time it is seen."""
        uri, local = self.split(tag)
        if not uri:
            if not (vml and local.lower() in HTML_IN_VML):
                self.add(f"element without namespace {show(local)}")
        elif not namespace_allowed(uri):
            self.add(f"namespace {show(uri)}")
        elif uri.startswith(OFFICE_SCHEMAS) and local not in DEFINED.get(uri, ()):
            self.add(f"element {show(local)} that {show(uri)} does not define")
        if (uri, local.lower()) in ACTIVE:
            self.add(f"active element {local}")
        at_start = (uri, local) in ON_START or uri in (V, VO, XV, *DRAWING_SHAPES) or (uri == A and local in HLINKS)
        at_end = (uri, local) in ON_END or (local == "f" and uri.startswith(CHARTS))
        known = self.tags[tag] = Tag(uri, local, at_start, at_end)
        return known

    def learn_attributes(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key not in self.keys:
                self.keys.add(key)
                if key.startswith("{") and not namespace_allowed(self.split(key)[0]):
                    self.add(f"namespace {show(self.split(key)[0])}")

    def read(self, data: bytes, vml: bool, custom: bool) -> None:
        stack: list[Element] = []
        try:
            for event, element in safe_xml.iterparse(io.BytesIO(data), ("start", "end"), forbid_dtd=True):
                if custom:
                    continue
                if event == "start":
                    self.start(element, vml)
                    stack.append(element)
                    continue
                stack.pop()
                self.end(element)
                if stack:
                    stack[-1].remove(element)  # a parent holds one open child at a time: memory stays flat
        except DefusedXmlException as exc:
            self.add(f"dtd or entity ({type(exc).__name__})")
        except (ParseError, ValueError) as exc:
            self.add(f"xml unreadable ({type(exc).__name__})")
        except LookupError as exc:  # an encoding declaration naming no codec (codecs' own plain LookupError)
            if type(exc) is not LookupError:
                raise  # a KeyError or IndexError here is a bug of this module, not the document's
            self.add("xml unreadable (unknown encoding)")
        if self.fields:
            self.add("unterminated field")
            while self.fields:
                self.evaluate(self.fields.pop())

    def start(self, element: Element, vml: bool) -> None:
        tag = self.tags.get(element.tag) or self.learn(element.tag, vml)
        if not self.keys.issuperset(element.attrib):
            self.learn_attributes(element.attrib)
        if tag.at_start:
            self.special(tag.uri, tag.local, element)
        if self.outside and (tag.uri, tag.local) not in LINK_OWNERS:
            for key, value in element.attrib.items():
                if value.strip() in self.outside and (self.split(key)[0] == R or self.split(key) == (VO, "relid")):
                    self.add(f"{tag.local} names the outside relationship {show(value.strip())}")

    def special(self, uri: str, local: str, element: Element) -> None:
        if uri == MC and local in ("Choice", "Fallback"):
            self.floors.append(len(self.fields))
        elif uri == W:
            self.word(local, element)
        elif uri == X:
            self.excel(local, element)
        elif uri == A and local in HLINKS:
            action = element.get("action", "").strip().lower().partition("?")[0]
            if action and action not in SAFE_ACTIONS:
                self.add(f"action {show(action)}")
        elif uri in DRAWING_SHAPES:
            if element.get("macro", "").strip():
                self.add("macro assigned to a shape")
            if element.get("textlink") is not None:
                self.formula(element.get("textlink", ""))
        elif uri in (V, VO, XV):
            for key, value in element.attrib.items():
                attribute, value = key.rpartition("}")[2].lower(), value.strip()
                if value and (attribute == "src" or (attribute in ("href", "althref") and not SAFE_LINK.match(value))):
                    self.add(f"link {show(value)}")  # src is fetched on opening: any address is a problem
            if uri == XV and local == "ClientData" and element.get("ObjectType", "").strip().lower() != "note":
                self.add(f"form control {show(element.get('ObjectType', ''))}")
        elif uri == PML and local == "cmd" and element.get("type", "").strip().lower() == "verb":
            self.add("ole verb command")

    def end(self, element: Element) -> None:
        tag = self.tags[element.tag]
        if not tag.at_end:
            return
        uri, local = tag.uri, tag.local
        if uri == MC and local in ("Choice", "Fallback"):
            floor = self.floors.pop()
            if len(self.fields) > floor:
                self.add("field crosses a markup-compatibility branch")
                while len(self.fields) > floor:
                    self.evaluate(self.fields.pop())
        elif uri == W and local in ("instrText", "delInstrText"):
            self.instruction(element.text or "")
        elif (uri, local) in FORMULA_ELEMENTS or (local == "f" and uri.startswith(CHARTS)):
            self.formula(element.text or "")
            if local == "definedName" and LAMBDA.match(element.text or ""):
                self.names.add(element.get("name", "").strip().lower())
        elif uri == EP and local == "HyperlinkBase" and (element.text or "").strip() \
                and not SAFE_LINK.match((element.text or "").strip()):
            self.add("hyperlink base that is not http(s)")

    def formula(self, text: str) -> None:
        calls: set[str] = set()
        for problem in formula_problems(text, calls):
            self.add(problem)
        for call in calls:
            self.calls.setdefault(call, self.name)

    def excel(self, local: str, element: Element) -> None:
        get = element.get
        if local == "definedName":
            name = get("name", "")
            if AUTO_RUN.match(name.strip()):
                self.add("auto-run macro name")
            if any(get(flag, "0").strip().lower() in ("1", "true") for flag in ("function", "vbProcedure", "xlm")):
                self.add("macro name")
        elif local == "cacheSource" and get("connectionId") is not None:
            # an "external" or "consolidation" source without a connection cannot be refreshed from
            # anywhere (its cached records are what shows); consolidation ranges in other workbooks
            # are caught below by their relationship
            self.add("pivot cache from an outside source")
        elif local in ("worksheetSource", "rangeSet", "dataRef") and any(
                key.endswith("}id") and normalize(key[1:].partition("}")[0]) == R for key in element.attrib):
            self.add("reference to another workbook")
        elif local == "table" and get("connectionId") is not None:
            self.add("table bound to a data connection")
        elif local in ("cacheField", "calculatedItem") and get("formula") is not None:
            self.formula(get("formula", ""))
        elif local == "cfvo" and get("val") is not None:
            self.formula(get("val", ""))
        elif local == "f":
            for attribute in ("r1", "r2"):
                if get(attribute) is not None:
                    self.formula(get(attribute, ""))
        elif local == "hyperlink" and any(char in get("location", "") for char in "[]\\/"):
            self.add("hyperlink location in another workbook")

    def word(self, local: str, element: Element) -> None:
        if local == "fldSimple":
            self.nested()
            for problem in field_problems(element.get(f"{{{W}}}instr") or element.get(f"{{{W_STRICT}}}instr") or ""):
                self.add(problem)
        elif local == "fldChar":
            kind = (element.get(f"{{{W}}}fldCharType") or element.get(f"{{{W_STRICT}}}fldCharType") or "")
            kind = kind.strip().lower()
            if kind == "begin":
                self.nested()
                self.fields.append(Field())
            elif kind in ("separate", "end") and self.fields:
                if len(self.fields) - 1 < self.floors[-1]:
                    self.add("field crosses a markup-compatibility branch")
                if kind == "separate":
                    self.evaluate(self.fields[-1])
                else:
                    self.evaluate(self.fields.pop())
            else:
                self.add(f"field character {show(kind)} outside a field")

    def nested(self) -> None:
        """A field starting inside another field's instruction: its result is part of that instruction."""
        if self.fields and not self.fields[-1].done:
            if len(self.fields) - 1 < self.floors[-1]:
                self.add("field crosses a markup-compatibility branch")
            self.fields[-1].text.append(NESTED)

    def instruction(self, text: str) -> None:
        if self.fields and not self.fields[-1].done:
            if len(self.fields) - 1 < self.floors[-1]:
                self.add("field crosses a markup-compatibility branch")
            self.fields[-1].text.append(text)
        else:  # instruction text outside an instruction: judged on its own
            for problem in field_problems(text):
                self.add(problem)

    def evaluate(self, field: Field) -> None:
        """Judge a field's whole instruction once, at its separate (or end, when it has none)."""
        if not field.done:
            field.done = True
            for problem in field_problems("".join(field.text)):
                self.add(problem)

