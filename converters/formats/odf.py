"""OpenDocument rebuild (odt, ods, odp, odg and templates): the same format without Basic or
other scripts, event listeners, OLE objects, external links, DDE or linked sections.

Removed: ``Basic/`` and ``Scripts/`` libraries at any level, ``office:event-listeners`` and
``office:scripts`` content, ``draw:object-ole`` / applets / plugins / floating frames, DDE
declarations and fields (the cached text stays), linked sections and sheets, external database
sources, the template link and auto-reload in meta.xml, XForms submissions and instances or
schemas loaded from a location, picture bytes written inside the XML (``office:binary-data``).
Attributes other than ``xlink:href`` that load something are allowlists too: an image control's
``form:image-data`` names a part of the package, a data source (``form:datasource``,
``text:database-name``, ``table:database-name``) is a registered name, never a file or server.

Links and references are allowlists (``converters.formats.odf_references``): a link (``text:a``,
``draw:a``, any ``xlink:href``) stays only to http, https, mailto or a place in the document -
any other link (``file:``, UNC, relative paths, ``vnd.sun.star.script:``...) becomes plain text,
its visible text kept; pictures, objects, fill images, fonts and sounds must be parts of the
package. Formulas in cells, validation conditions, conditional formats (``style:map``,
``calcext:condition``) and named expressions that call DDE, WEBSERVICE or FILTERXML, HYPERLINK to
anything but http(s)/mailto, or refer to another document are removed; a cell keeps its cached
value. Embedded ODF sub-documents (charts) stay and are cleaned the same way. Encrypted packages
are blocked as password-protected.

Each XML stream is cleaned by ``converters.formats.odf_scrub`` and written with the usual prefixes
(``converters.formats.odf_prefixes``); this module handles the package around them.

Parts are an allowlist of kinds (``converters.formats.odf_parts``): the XML streams, pictures
re-encoded, the thumbnail, the RDF metadata and the manifest, both written afresh
(``converters.formats.odf_manifest``); every other part goes, and a reference to a part that went
goes with it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from converters.base import Conversion, Converter, ConvertRequest, Finding, Output
from converters.errors import CorruptFile, DecompressionBomb, PasswordProtected, TooManyMembers
from converters.formats.odf_manifest import check_manifest, empty_manifest, listed, write_manifest, write_rdf
from converters.formats.odf_parts import (
    MANIFEST,
    MIMETYPE,
    folders,
    part_kind,
    removal,
    rewrite_part_picture,
)
from converters.formats.odf_prefixes import NS, bindings_differ, canonical_copy
from converters.formats.odf_scrub import qname, scrub_xml
from converters.formats.ooxml import MAX_XML_PART_BYTES, parse_xml, serialise
from converters.formats.zip_damage import file_members, zip_damage
from converters.protocol import ODF_TYPES

STREAM_ROOTS = {stream: f"{{{NS['office']}}}{element}" for stream, element in (
    ("content.xml", "document-content"), ("styles.xml", "document-styles"), ("meta.xml", "document-meta"),
    ("settings.xml", "document-settings"))}  # each XML stream's root, in the package and in every Object N/
# the media type each kept kind of part is listed with (pictures: the type of the bytes written)
LISTED_AS = {"xml": "text/xml", "rdf": "application/rdf+xml"}
SVM_LISTED_AS = 'application/x-openoffice-gdimetafile;windows_formatname="GDIMetaFile"'


def safe_member_name(name: str) -> bool:
    """A member name that is a plain path inside the package (no ``..``, root, drive or backslash)."""
    parts = name.split("/")
    return "\\" not in name and ":" not in name and all(part not in ("", ".", "..") for part in parts)


class OdfConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        extension = ODF_TYPES[request.detected_type]
        name = f"{request.stem}.{extension}"
        findings: dict[tuple[str, str], None] = {}
        try:
            with zip_damage("the OpenDocument package"), zipfile.ZipFile(src) as package:
                self._check_limits(package, request, src.stat().st_size)
                try:
                    self._rebuild(package, out_dir / name, findings, request, out_dir)
                except BaseException:
                    (out_dir / name).unlink(missing_ok=True)
                    raise
        except (KeyError, ValueError) as exc:  # a part the package lists but cannot give
            raise CorruptFile("the OpenDocument package is damaged") from exc
        result = [Finding(code, detail) for code, detail in findings]
        return Conversion("sanitized" if result else "passed", [Output(name, request.detected_type)], result)

    @staticmethod
    def _check_limits(package: zipfile.ZipFile, request: ConvertRequest, compressed: int) -> None:
        limits = request.limits
        infos = package.infolist()
        if len(infos) > limits.archive_max_members:
            raise TooManyMembers("the document holds too many parts")
        declared = sum(i.file_size for i in infos)
        if declared > limits.archive_max_total_bytes or (
                declared > limits.archive_ratio_grace_bytes and declared > limits.archive_max_ratio * compressed):
            raise DecompressionBomb("the document expands far more than documents do (zip bomb)")

    def _rebuild(self, package: zipfile.ZipFile, target: Path, findings: dict[tuple[str, str], None],
                 request: ConvertRequest, work: Path) -> None:
        names = list(dict.fromkeys(i.filename for i in file_members(package, "the OpenDocument package")))
        manifest = parse_xml(package.read(MANIFEST), MANIFEST) if MANIFEST in names else None
        if manifest is not None:
            if manifest.find(f".//{qname('manifest:encryption-data')}") is not None:
                raise PasswordProtected("the document is password-protected and cannot be inspected")
            check_manifest(manifest)
        plan = self._plan(names, None if manifest is None else listed(manifest), findings)
        pictures: dict[str, tuple[bytes, str]] = {}
        for name, kind in plan.items():
            if kind in ("picture", "thumbnail"):
                result = rewrite_part_picture(package.read(name), name, request, work)
                if isinstance(result, str):
                    findings[("media_removed", f"{name}: {result}")] = None
                else:
                    pictures[name] = result[:2]
                    findings.update({(code, f"{name}: {detail}"): None for code, detail in result[2]})
        kept = {name: pictures[name][1] if name in pictures else LISTED_AS[kind]
                for name, kind in plan.items() if kind in LISTED_AS or name in pictures}
        kept.update({name: SVM_LISTED_AS for name, (_data, media) in pictures.items() if media == "image/x-svm"})
        original, written = set(names), set(kept)
        missing = frozenset((original | folders(original)) - (written | folders(written)))
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as output:
            output.writestr(zipfile.ZipInfo(MIMETYPE), request.detected_type, compress_type=zipfile.ZIP_STORED)
            for name in names:
                if name in pictures:
                    output.writestr(name, pictures[name][0])
                elif name in kept:
                    output.writestr(name, self._xml_part(package, name, plan[name], findings, written, missing))
            fresh = write_manifest(manifest if manifest is not None else empty_manifest(request.detected_type), kept)
            output.writestr(MANIFEST, serialise(fresh))

    @staticmethod
    def _plan(names: list[str], in_manifest: set[str] | None, findings: dict[tuple[str, str], None]) -> dict[str, str]:
        """name -> kind for every part that may be written; a finding for each one that may not."""
        plan: dict[str, str] = {}
        for name in names:
            kind = part_kind(name)
            if kind in ("mimetype", "manifest"):
                continue  # written afresh
            if kind is None:
                code, detail = removal(name) if safe_member_name(name) else (
                    "part_removed", f"a part named outside the package: {name[:80]}")
                findings[(code, detail)] = None
            elif in_manifest is not None and name not in in_manifest:
                findings[("part_removed", f"{name[:120]}: not listed in the package's manifest")] = None
            else:
                plan[name] = kind
        return plan

    @staticmethod
    def _xml_part(package: zipfile.ZipFile, name: str, kind: str, findings: dict[tuple[str, str], None],
                  written: set[str], missing: frozenset[str]) -> bytes:
        if package.getinfo(name).file_size > MAX_XML_PART_BYTES:
            raise DecompressionBomb(f"the document part {name} is too large")
        root = parse_xml(package.read(name), name)
        if kind == "rdf":
            return serialise(write_rdf(root, written, findings))
        expected = STREAM_ROOTS.get(name.rsplit("/", 1)[-1])
        if expected is not None and root.tag != expected:  # the element the application opens the stream with
            raise CorruptFile(f"the document part {name[:120]} is not OpenDocument markup (its root is "
                              f"{etree.QName(root).localname[:40]!r})")
        scrub_xml(root, findings, name, missing)
        if bindings_differ(root):
            root = canonical_copy(root)
        # always written again, in UTF-8: the bytes written are the tree checked, and a part kept in its
        # own encoding (Shift_JIS, ISO-2022-JP...) is one libxml2 reads but expat refuses
        return serialise(root)
