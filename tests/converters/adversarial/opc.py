"""A small, writable model of an OPC package (the ZIP behind docx/xlsx/pptx) for building attack
variants: parts as bytes in ZIP order, relationships and content types edited as text so a
variant can hold exactly the bytes an attacker would write (character references, odd case,
Strict namespaces)."""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
from xml.sax.saxutils import escape, quoteattr

REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

# transitional namespace -> ISO/IEC 29500 Strict namespace (relationship types follow the first entry)
STRICT_NAMESPACES = (
    (f"{REL}/extended-properties", "http://purl.oclc.org/ooxml/officeDocument/relationships/extendedProperties"),
    (REL, "http://purl.oclc.org/ooxml/officeDocument/relationships"),
    ("http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main"),
    ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main"),
    ("http://schemas.openxmlformats.org/presentationml/2006/main", "http://purl.oclc.org/ooxml/presentationml/main"),
    ("http://schemas.openxmlformats.org/drawingml/2006/main", "http://purl.oclc.org/ooxml/drawingml/main"),
    ("http://schemas.openxmlformats.org/drawingml/2006/chart", "http://purl.oclc.org/ooxml/drawingml/chart"),
    ("http://schemas.openxmlformats.org/drawingml/2006/picture", "http://purl.oclc.org/ooxml/drawingml/picture"),
    ("http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
     "http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing"),
    ("http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing",
     "http://purl.oclc.org/ooxml/drawingml/spreadsheetDrawing"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/math", "http://purl.oclc.org/ooxml/officeDocument/math"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/sharedTypes",
     "http://purl.oclc.org/ooxml/officeDocument/sharedTypes"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
     "http://purl.oclc.org/ooxml/officeDocument/extendedProperties"),
)


def rels_name(part: str) -> str:
    directory, name = posixpath.split(part)
    return posixpath.join(directory, "_rels", f"{name}.rels")


def relative(source: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(source) or ".")


class Package:
    """Parts by name (ZIP order kept). Edits are text edits on the XML, like an attacker's."""

    def __init__(self, parts: dict[str, bytes], extra: list[tuple[str, bytes]] | None = None) -> None:
        self.parts = dict(parts)
        self.extra = list(extra or [])  # further ZIP entries, also under names already used

    @classmethod
    def from_bytes(cls, data: bytes) -> Package:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return cls({info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()})

    def copy(self) -> Package:
        return Package(self.parts, self.extra)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.parts.items():
                archive.writestr(name, data)
            for name, data in self.extra:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": that is the point
                    archive.writestr(name, data)
        return buffer.getvalue()

    def text(self, part: str) -> str:
        return self.parts[part].decode("utf-8")

    def set_text(self, part: str, text: str) -> None:
        self.parts[part] = text.encode("utf-8")

    def edit(self, part: str, old: str, new: str, count: int = 1) -> None:
        """Replace ``old`` (which must occur) by ``new`` in a part's text."""
        text = self.text(part)
        if old not in text:
            raise KeyError(f"{old[:60]!r} not in {part}")
        self.set_text(part, text.replace(old, new, count))

    def insert_before_last(self, part: str, anchor: str, fragment: str) -> None:
        text = self.text(part)
        at = text.rfind(anchor)
        if at < 0:
            raise KeyError(f"{anchor!r} not in {part}")
        self.set_text(part, text[:at] + fragment + text[at:])

    def insert_after_first(self, part: str, pattern: str, fragment: str) -> None:
        """Insert after the first match of the regular expression ``pattern``."""
        text = self.text(part)
        match = re.search(pattern, text)
        if match is None:
            raise KeyError(f"{pattern!r} not in {part}")
        self.set_text(part, text[:match.end()] + fragment + text[match.end():])

    # --- content types -------------------------------------------------------------------------
    def add_override(self, part: str, content_type: str) -> None:
        override = f'<Override PartName={quoteattr("/" + part)} ContentType={quoteattr(content_type)}/>'
        self.insert_before_last("[Content_Types].xml", "</Types>", override)

    def add_default(self, extension: str, content_type: str) -> None:
        types = self.text("[Content_Types].xml")
        if re.search(rf'<Default Extension="{re.escape(extension)}"', types, re.IGNORECASE):
            return
        default = f'<Default Extension={quoteattr(extension)} ContentType={quoteattr(content_type)}/>'
        self.insert_after_first("[Content_Types].xml", r"<Types[^>]*>", default)

    # --- relationships -------------------------------------------------------------------------
    def add_relationship(self, source: str, rel_type: str, target: str, external: bool = False,
                         target_mode: str | None = None) -> str:
        """Add a relationship from ``source`` (``""`` for the package) and return its id. ``rel_type``
        is a full URI or a transitional short name; ``target`` is written as given."""
        name = rels_name(source) if source else "_rels/.rels"
        if name not in self.parts:
            self.parts[name] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                f'<Relationships xmlns="{PKG_REL_NS}"></Relationships>').encode()
        existing = set(re.findall(r'Id="([^"]+)"', self.text(name)))
        number = len(existing) + 100
        while f"rIdA{number}" in existing:
            number += 1
        rel_id = f"rIdA{number}"
        uri = rel_type if "/" in rel_type else f"{REL}/{rel_type}"
        mode = target_mode if target_mode is not None else ("External" if external else None)
        mode_attr = f" TargetMode={quoteattr(mode)}" if mode else ""
        element = f'<Relationship Id="{rel_id}" Type={quoteattr(uri)} Target={quoteattr(target)}{mode_attr}/>'
        self.insert_before_last(name, "</Relationships>", element)
        return rel_id

    def add_part(self, part: str, data: bytes, content_type: str | None, source: str | None = None,
                 rel_type: str | None = None) -> str | None:
        """Add a part, its content type override and (when ``source`` is given) a relationship to it."""
        self.parts[part] = data
        if content_type is not None:
            self.add_override(part, content_type)
        if source is not None and rel_type is not None:
            return self.add_relationship(source, rel_type, relative(source, part) if source else part)
        return None

    def rename(self, old: str, new: str) -> None:
        """Move a part (and its relationships part), rewriting overrides and relationship targets."""
        self.parts = {(new if name == old else name): data for name, data in self.parts.items()}
        old_rels, new_rels = rels_name(old), rels_name(new)
        if old_rels in self.parts:
            self.parts = {(new_rels if name == old_rels else name): data for name, data in self.parts.items()}
        self.edit("[Content_Types].xml", f'PartName="/{old}"', f'PartName="/{new}"')
        for name in [n for n in self.parts if n.endswith(".rels")]:
            source = posixpath.dirname(posixpath.dirname(name))
            old_target = relative(posixpath.join(source, "x"), old)
            text = self.text(name)
            for candidate in (f'Target="{old_target}"', f'Target="/{old}"'):
                if candidate in text:
                    replacement = (f'Target="{relative(posixpath.join(source, "x"), new)}"'
                                   if not candidate.startswith('Target="/') else f'Target="/{new}"')
                    text = text.replace(candidate, replacement)
            self.set_text(name, text)

    def to_utf16(self, part: str) -> None:
        """The same XML in UTF-16 with a byte order mark: parsers read it, byte greps do not."""
        text = re.sub(r"""encoding=["'][Uu][Tt][Ff]-8["']""", 'encoding="UTF-16"', self.text(part), count=1)
        self.parts[part] = text.encode("utf-16")

    def to_strict(self) -> None:
        """Rewrite every XML part in the ISO/IEC 29500 Strict namespaces (what Word's 'Strict Open
        XML' save writes); content types are the same in Strict."""
        for name, data in list(self.parts.items()):
            if not name.endswith((".xml", ".rels", ".vml")) or name == "[Content_Types].xml":
                continue
            text = data.decode("utf-8")
            for transitional, strict in STRICT_NAMESPACES:
                text = text.replace(transitional, strict)
            self.parts[name] = text.encode("utf-8")


def char_refs(text: str, chars: str | None = None) -> str:
    """XML-escape ``text`` and write the characters in ``chars`` (all letters when ``None``) as
    character references, alternating hexadecimal (``&#x44;``) and decimal (``&#68;``)."""
    out: list[str] = []
    flip = False
    for char in text:
        if (chars is None and char.isalpha() and char.isascii()) or (chars is not None and char in chars):
            out.append(f"&#x{ord(char):X};" if flip else f"&#{ord(char)};")
            flip = not flip
        else:
            out.append(escape(char, {'"': "&quot;"}))
    return "".join(out)


def xml_text(text: str) -> str:
    return escape(text, {'"': "&quot;"})
