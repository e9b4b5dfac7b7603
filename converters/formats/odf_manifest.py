"""The two package lists of an OpenDocument file, written afresh for the parts the rebuild keeps.

``META-INF/manifest.xml``: LibreOffice refuses a package holding a part its manifest does not
list, so the manifest written lists exactly the parts written (the root, and a folder such as an
embedded chart's ``Object 1/`` only when a part inside it is kept), each with the attributes a
manifest entry of an unencrypted package has (ODF 1.3 part 2, 4.3) and the media type of what is
really written. Nothing else of the original's markup is copied.

``manifest.rdf``: the package's RDF metadata (ODF 1.3 part 2, 6). Only the statements LibreOffice
writes about the package itself stay - the package is a Document, it has a kept part, a kept
content or styles stream is a ContentFile or StylesFile - each written again as LibreOffice
writes it; any other statement is reported and dropped.
"""

from __future__ import annotations

from lxml import etree

from converters.errors import CorruptFile
from converters.formats.odf_parts import folders

MANIFEST_NS = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
MANIFEST_ROOT = f"{{{MANIFEST_NS}}}manifest"
MANIFEST_ENTRY = f"{{{MANIFEST_NS}}}file-entry"
MANIFEST_VERSION = f"{{{MANIFEST_NS}}}version"
FULL_PATH = f"{{{MANIFEST_NS}}}full-path"
MEDIA_TYPE = f"{{{MANIFEST_NS}}}media-type"
ENTRY_ATTRIBUTES = frozenset(f"{{{MANIFEST_NS}}}{name}" for name in (
    "full-path", "media-type", "version", "preferred-view-mode"))
NOT_LISTED = frozenset({"mimetype", "META-INF/manifest.xml"})

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PKG = "http://docs.oasis-open.org/ns/office/1.2/meta/pkg#"
ODF_META = "http://docs.oasis-open.org/ns/office/1.2/meta/odf#"
RDF_ROOT = f"{{{RDF_NS}}}RDF"
DESCRIPTION = f"{{{RDF_NS}}}Description"
ABOUT = f"{{{RDF_NS}}}about"
RESOURCE = f"{{{RDF_NS}}}resource"
RDF_TYPE = f"{{{RDF_NS}}}type"
HAS_PART = f"{{{PKG}}}hasPart"
STREAM_TYPES = {"content.xml": ODF_META + "ContentFile", "styles.xml": ODF_META + "StylesFile"}


def check_manifest(manifest: etree._Element) -> None:
    if manifest.tag != MANIFEST_ROOT:
        raise CorruptFile("the OpenDocument manifest (META-INF/manifest.xml) is not a manifest")


def listed(manifest: etree._Element) -> set[str]:
    """The paths the manifest's entries (its direct children) name."""
    return {path for entry in manifest.iterchildren(MANIFEST_ENTRY) if (path := entry.get(FULL_PATH)) is not None}


def write_manifest(manifest: etree._Element, kept: dict[str, str]) -> etree._Element:
    """A manifest naming exactly the parts in ``kept`` (path -> media type written), with the
    original's root entry and the folder entries of folders that still hold a kept part."""
    check_manifest(manifest)
    fresh = etree.Element(MANIFEST_ROOT, nsmap={"manifest": MANIFEST_NS})
    if manifest.get(MANIFEST_VERSION) is not None:
        fresh.set(MANIFEST_VERSION, manifest.get(MANIFEST_VERSION, ""))
    holding = folders(set(kept))
    written: set[str] = set()
    for entry in manifest.iterchildren(MANIFEST_ENTRY):
        path = entry.get(FULL_PATH)
        if path is None or path in written or path in NOT_LISTED:
            continue
        if path.endswith("/"):
            if path != "/" and path.rstrip("/") not in holding:
                continue
        elif path not in kept:
            continue
        written.add(path)
        attributes = {key: value for key, value in entry.attrib.items() if key in ENTRY_ATTRIBUTES}
        if path in kept:
            attributes[MEDIA_TYPE] = kept[path]
        etree.SubElement(fresh, MANIFEST_ENTRY, attributes)
    for path in kept.keys() - written:  # a package that came without a manifest
        etree.SubElement(fresh, MANIFEST_ENTRY, {FULL_PATH: path, MEDIA_TYPE: kept[path]})
    return fresh


def empty_manifest(media_type: str) -> etree._Element:
    """The manifest of a package that came without one: its root entry only."""
    manifest = etree.Element(MANIFEST_ROOT, nsmap={"manifest": MANIFEST_NS})
    etree.SubElement(manifest, MANIFEST_ENTRY, {FULL_PATH: "/", MEDIA_TYPE: media_type})
    return manifest


def write_rdf(rdf: etree._Element, kept: set[str], findings: dict[tuple[str, str], None]) -> etree._Element:
    """``manifest.rdf`` with only the package statements about kept parts."""
    statements: list[tuple[str, str, str]] = []
    if rdf.tag != RDF_ROOT:
        findings[("unknown_markup_removed", "manifest.rdf: not RDF metadata")] = None
    else:
        for node in rdf:
            if not isinstance(node.tag, str):
                continue
            subject = node.get(ABOUT)
            if node.tag != DESCRIPTION or subject is None:
                findings[("unknown_markup_removed", f"manifest.rdf: node {etree.QName(node).localname[:40]}")] = None
                continue
            for child in node:
                if not isinstance(child.tag, str):
                    continue
                statement = (subject, child.tag, child.get(RESOURCE, ""))
                if _package_statement(*statement, kept) and not len(child) and not (child.text or "").strip():
                    if statement not in statements:
                        statements.append(statement)
                else:
                    name = etree.QName(child)
                    findings[("unknown_markup_removed",
                              f"manifest.rdf: statement {name.localname[:40]} of {(name.namespace or '')[:80]}")] = None
    fresh = etree.Element(RDF_ROOT, nsmap={"rdf": RDF_NS, "pkg": PKG})
    for subject, predicate, resource in statements:
        description = etree.SubElement(fresh, DESCRIPTION, {ABOUT: subject})
        etree.SubElement(description, predicate, {RESOURCE: resource})
    return fresh


def _package_statement(subject: str, predicate: str, resource: str, kept: set[str]) -> bool:
    if predicate == RDF_TYPE:
        return (subject == "" and resource == PKG + "Document") or (
            subject in kept and STREAM_TYPES.get(subject.rsplit("/", 1)[-1]) == resource)
    return predicate == HAS_PART and subject == "" and resource in kept
