"""Structure-aware mutation of XML parts inside OOXML and ODF packages.

Elements and attributes from a dictionary of Office and OpenDocument names are inserted where a
tag ends (fields, formulas, OLE objects, links, scripts, markup-compatibility branches), attribute
values are replaced by risky ones, characters become character references (decimal, hex, zero
padded), transitional namespaces are swapped for Strict ones (and back), elements are duplicated,
removed or nested very deep, and the document itself is damaged (a DTD, an encoding declaration
that lies, CDATA, a cut)."""

from __future__ import annotations

import random
import re

STRICT_SWAPS = (
    ("http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main"),
    ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main"),
    ("http://schemas.openxmlformats.org/presentationml/2006/main", "http://purl.oclc.org/ooxml/presentationml/main"),
    ("http://schemas.openxmlformats.org/drawingml/2006/main", "http://purl.oclc.org/ooxml/drawingml/main"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
     "http://purl.oclc.org/ooxml/officeDocument/relationships"),
    ("http://schemas.openxmlformats.org/package/2006/relationships",
     "http://schemas.openxmlformats.org/package/2006/RELATIONSHIPS"),
    ("urn:oasis:names:tc:opendocument:xmlns:text:1.0", "urn:oasis:names:tc:opendocument:xmlns:table:1.0"),
    ("http://www.w3.org/1999/xlink", "http://www.w3.org/1999/XLINK"),
)
ELEMENTS = (
    '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe'
    ' "/c calc"</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>',
    '<w:fldSimple w:instr=" INCLUDETEXT &quot;\\\\\\\\host\\\\share\\\\x.docx&quot; "><w:r><w:t>x</w:t></w:r>'
    '</w:fldSimple>',
    '<w:r><w:instrText>D</w:instrText></w:r><w:r><w:instrText>DE </w:instrText></w:r>',
    '<w:r><w:t xml:space="preserve">日本語 &#x44;DE</w:t></w:r>',
    '<w:hyperlink r:id="rId999" w:history="1"><w:r><w:t>link</w:t></w:r></w:hyperlink>',
    '<w:object><o:OLEObject Type="Link" ProgID="Word.Document.8" r:id="rId7" UpdateMode="Always"/></w:object>',
    '<w:attachedTemplate r:id="rId1"/>',
    '<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
    '<mc:Choice Requires="w14"><w:r><w:instrText>DDE</w:instrText></w:r></mc:Choice>'
    '<mc:Fallback><w:r><w:instrText>DATE</w:instrText></w:r></mc:Fallback></mc:AlternateContent>',
    '<c r="A1"><f>WEBSERVICE("http://example.com/")</f><v>1</v></c>',
    '<c r="B2" t="str"><f>[1]Sheet1!A1+cmd|\'/c calc\'!A0</f><v>0</v></c>',
    '<c r="C3"><f t="shared" ref="C3:C9" si="0">HYPERLINK("file:///c:/x","x")</f></c>',
    '<definedName name="Auto_Open">Macro1!$A$1</definedName>',
    '<dataValidation type="list"><formula1>EXEC("calc")</formula1></dataValidation>',
    '<cfRule type="expression" priority="1"><formula>CALL("kernel32","WinExec","JCJ","calc",0)</formula></cfRule>',
    '<oleObject progId="Package" r:id="rId3" shapeId="1025"/>',
    '<externalReference r:id="rId5"/>',
    '<p:sp><p:nvSpPr><p:cNvPr id="9" name="x"><a:hlinkClick r:id="rId8" action="ppaction://program"/>'
    '</p:cNvPr></p:nvSpPr></p:sp>',
    '<v:shape><v:imagedata src="file://host/share/x.png" o:title=""/></v:shape>',
    '<a:blip r:embed="rId99" r:link="rId98"/>',
    '<Relationship Id="rId900" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"'
    ' Target="mhtml:http://example.com/!x" TargetMode="External"/>',
    '<Relationship Id="rId901" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"'
    ' Target="vbaProject.bin"/>',
    '<Override PartName="/word/document.xml"'
    ' ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>',
    '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>',
    '<text:a xlink:type="simple" xlink:href="file:///c:/windows/system32/calc.exe">link</text:a>',
    '<text:a xlink:href=" \\\\host\\share\\x">x</text:a>',
    '<table:table-cell table:formula="of:=WEBSERVICE(&quot;http://example.com&quot;)" office:value-type="float"'
    ' office:value="1"><text:p>1</text:p></table:table-cell>',
    '<table:table-cell table:formula="of:=DDE(&quot;cmd&quot;;&quot;/c calc&quot;;&quot;x&quot;)"/>',
    '<office:event-listeners><script:event-listener script:language="ooo:script" script:event-name="dom:load"'
    ' xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document"/>'
    '</office:event-listeners>',
    '<draw:frame><draw:object xlink:href="./Object 1"/><draw:image xlink:href="http://example.com/x.png"/></draw:frame>',
    '<text:section text:name="s"><text:section-source xlink:href="file:///etc/passwd"/></text:section>',
    '<text:execute-macro text:name="Standard.Module1.Main"/>',
    '<office:dde-source office:dde-application="cmd" office:dde-topic="/c calc" office:dde-item="x"/>',
    '<manifest:file-entry manifest:full-path="Basic/Standard/Module1.xml" manifest:media-type="text/xml"/>',
    '<x:unknownElement xmlns:x="urn:example:unknown"><x:y/></x:unknownElement>',
    '<!-- comment --><?pi data?>', '<![CDATA[<script>alert(1)</script>]]>',
)
ATTRIBUTES = (
    ('r:id', 'rId999'), ('r:id', ''), ('TargetMode', 'External'), ('Target', 'file:///c:/x'),
    ('Target', '\\\\host\\share\\x.dotm'), ('Target', 'mhtml:http://example.com/!x'), ('Target', '../../../x.xml'),
    ('w:instr', ' DDEAUTO cmd "/c calc" '), ('w:instr', ' HYPERLINK "file:///c:/x" '), ('xlink:href', 'file:///c:/x'),
    ('xlink:href', 'javascript:alert(1)'), ('xlink:href', 'vnd.sun.star.script:Standard.Module1.Main'),
    ('table:formula', 'of:=WEBSERVICE("x")'), ('mc:Ignorable', 'w14 w15 x'), ('xml:space', 'preserve'),
    ('ContentType', 'application/vnd.ms-office.vbaProject'), ('ContentType', ''),
    ('PartName', '/x/../[Content_Types].xml'),
    ('action', 'ppaction://macro?name=Main'), ('macro', '[0]!Auto_Open'), ('fLocksText', '1'), ('t', 'e'),
    ('ref', 'A1:XFD1048576'), ('count', '-1'), ('count', '99999999999999999999'), ('val', '日本語'),
    ('xmlns:w', 'http://purl.oclc.org/ooxml/wordprocessingml/main'), ('xmlns', 'urn:example:other'),
)
VALUES = ('DDEAUTO c:\\\\x', 'file:///c:/x', '\\\\host\\share', 'mhtml:x!y', 'External', '=cmd|x!A0',
          '', ' ', '-1', '4294967296', 'x' * 5000, '&#x44;&#68;E', '日本語', '%00', '../../x', 'rId1')
TAG_END = re.compile(r">")
START_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)(?=[\s/>])")
ATTRIBUTE_VALUE = re.compile(r'(\s[\w:.-]+=)("[^"]*"|\'[^\']*\')')
TEXT_RUN = re.compile(r">([^<]{1,200})<")
ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)\b[^<>]*>[^<]*</\1>", re.DOTALL)
ENCODINGS = ("UTF-16", "Shift_JIS", "ISO-2022-JP", "EUC-JP", "ascii", "x-bogus", "UTF-32", "UTF-7")


def _char_ref(char: str, rng: random.Random) -> str:
    code = ord(char)
    return rng.choice((f"&#{code};", f"&#x{code:x};", f"&#X{code:X};", f"&#x{code:08x};", f"&#{code:010d};"))


def _positions(regex: re.Pattern[str], text: str, limit: int = 2000) -> list[re.Match[str]]:
    found = []
    for match in regex.finditer(text):
        found.append(match)
        if len(found) >= limit:
            break
    return found


class XmlMutator:
    def __init__(self) -> None:
        self.last_op = ""

    def __call__(self, data: bytes, rng: random.Random) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        ops = (self.insert_element, self.insert_element, self.insert_attribute, self.replace_value,
               self.char_refs, self.char_refs, self.namespace_swap, self.namespace_swap, self.duplicate_element,
               self.remove_element, self.deep_nesting, self.damage)
        op = rng.choice(ops)
        self.last_op = f"xml.{op.__name__}"
        return op(text, rng).encode("utf-8", "surrogateescape")

    @staticmethod
    def insert_element(text: str, rng: random.Random) -> str:
        ends = _positions(TAG_END, text)
        if not ends:
            return text + rng.choice(ELEMENTS)
        at = rng.choice(ends).end()
        return text[:at] + rng.choice(ELEMENTS) + text[at:]

    @staticmethod
    def insert_attribute(text: str, rng: random.Random) -> str:
        tags = _positions(START_TAG, text)
        if not tags:
            return text
        at = rng.choice(tags).end()
        name, value = rng.choice(ATTRIBUTES)
        return f'{text[:at]} {name}="{value}"{text[at:]}'

    @staticmethod
    def replace_value(text: str, rng: random.Random) -> str:
        values = _positions(ATTRIBUTE_VALUE, text)
        if not values:
            return text
        match = rng.choice(values)
        return f'{text[:match.start(2)]}"{rng.choice(VALUES)}"{text[match.end(2):]}'

    @staticmethod
    def char_refs(text: str, rng: random.Random) -> str:
        """Characters of a text run or an attribute value written as character references."""
        spans = [m.span(1) for m in _positions(TEXT_RUN, text)] + [
            (m.start(2) + 1, m.end(2) - 1) for m in _positions(ATTRIBUTE_VALUE, text)]
        spans = [(a, b) for a, b in spans if b > a]
        if not spans:
            return text
        start, end = rng.choice(spans)
        piece = "".join(_char_ref(c, rng) if c not in "&<>\"'" and rng.random() < 0.6 else c
                        for c in text[start:end])
        return text[:start] + piece + text[end:]

    @staticmethod
    def namespace_swap(text: str, rng: random.Random) -> str:
        present = [(a, b) for a, b in STRICT_SWAPS if a in text] + [(b, a) for a, b in STRICT_SWAPS if b in text]
        if not present:
            return text
        old, new = rng.choice(present)
        return text.replace(old, new) if rng.random() < 0.7 else text.replace(old, new, 1)

    @staticmethod
    def duplicate_element(text: str, rng: random.Random) -> str:
        elements = _positions(ELEMENT, text)
        if not elements:
            return text
        match = rng.choice(elements)
        return text[:match.end()] + match.group(0) * rng.choice((1, 2, 10, 200)) + text[match.end():]

    @staticmethod
    def remove_element(text: str, rng: random.Random) -> str:
        elements = _positions(ELEMENT, text)
        if not elements:
            return text
        match = rng.choice(elements)
        return text[:match.start()] + text[match.end():]

    @staticmethod
    def deep_nesting(text: str, rng: random.Random) -> str:
        depth = rng.choice((30, 300, 3000))
        tag = rng.choice(("w:p", "a", "text:span", "mc:AlternateContent", "x"))
        ends = _positions(TAG_END, text)
        at = rng.choice(ends).end() if ends else len(text)
        return text[:at] + f"<{tag}>" * depth + f"</{tag}>" * depth + text[at:]

    @staticmethod
    def damage(text: str, rng: random.Random) -> str:
        choice = rng.randrange(6)
        declaration = text.find("?>")
        head = declaration + 2 if text.startswith("<?xml") and declaration > 0 else 0
        if choice == 0:
            return text[:head] + '<!DOCTYPE x [<!ENTITY e "x">]>' + text[head:]
        if choice == 1:
            encoding = rng.choice(ENCODINGS)
            rest = text[head:] if head else text
            return f'<?xml version="1.0" encoding="{encoding}" standalone="yes"?>' + rest
        if choice == 2:
            return "\ufeff" + text if rng.random() < 0.5 else "\udcff\udcfe" + text
        if choice == 3:
            return text[: rng.randrange(len(text) + 1)]
        if choice == 4:
            ends = _positions(TAG_END, text)
            if not ends:
                return text
            at = rng.choice(ends).start()
            return text[:at] + text[at + 1:]
        return text.replace("&amp;", "&", 1) if "&amp;" in text else text + "&undefined;"
