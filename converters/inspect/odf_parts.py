"""Independent check of the parts of an OpenDocument output: which names may stand in it, that its
manifest lists exactly them, that every picture is the picture it claims to be and that the RDF
metadata holds only package statements. Shares nothing with the converter
(``converters.formats.odf_parts``, ``odf_manifest``): its own patterns, its own metafile walk
(``converters.inspect.metafile_svm``).

A part may be: ``mimetype``, ``META-INF/manifest.xml``, ``manifest.rdf``,
``Thumbnails/thumbnail.png``, the streams content/styles/meta/settings.xml at the root or in an
``Object N/`` sub-document, a picture under ``Pictures/`` or an object preview
``ObjectReplacements/Object N`` (root or sub-document). Anything else in an output is a problem.
"""

from __future__ import annotations

import re
import zipfile
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from converters.inspect.metafile_svm import svm_problems
from converters.inspect.ooxml import image_problems

NESTED = r"(Object [0-9]+/)*"
ALLOWED_NAMES = (
    re.compile(r"mimetype|META-INF/manifest\.xml|manifest\.rdf|Thumbnails/thumbnail\.png"),
    re.compile(NESTED + r"(content|styles|meta|settings)\.xml"),
    re.compile(NESTED + r"Pictures/[^/]+"),
    re.compile(NESTED + r"ObjectReplacements/Object [0-9]+"),
)
PICTURE = re.compile(NESTED + r"(Pictures/[^/]+|ObjectReplacements/Object [0-9]+)|Thumbnails/thumbnail\.png")
MANIFEST_NS = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
PKG = "http://docs.oasis-open.org/ns/office/1.2/meta/pkg#"
ODF_META = "http://docs.oasis-open.org/ns/office/1.2/meta/odf#"
RDF_TYPES = {PKG + "Document", ODF_META + "ContentFile", ODF_META + "StylesFile"}
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
              (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"\xd7\xcd\xc6\x9a", "WMF"),
              (b"\x01\x00\x09\x00", "WMF"), (b"\x02\x00\x09\x00", "WMF"))


def allowed_name(name: str) -> bool:
    return any(pattern.fullmatch(name) for pattern in ALLOWED_NAMES)


def picture_kind(data: bytes) -> str | None:
    if data[:4] == b"\x01\x00\x00\x00" and data[40:44] == b" EMF":
        return "EMF"
    if data.startswith(b"VCLMTF"):
        return "SVM"
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def picture_problems(name: str, data: bytes) -> list[str]:
    kind = picture_kind(data)
    if kind is None:
        return [f"{name} is not a picture"]
    if name == "Thumbnails/thumbnail.png" and kind != "PNG":
        return [f"{name} is {kind}, not PNG"]
    found = svm_problems(data) if kind == "SVM" else image_problems(data, kind)
    return [f"{problem} in {name}" for problem in found]


def manifest_problems(data: bytes, names: set[str]) -> list[str]:
    """The manifest lists every part but mimetype and itself, and no file that is not there."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        return [f"unreadable manifest: {type(exc).__name__}"]
    listed = {entry.get(f"{MANIFEST_NS}full-path", "") for entry in root.iter(f"{MANIFEST_NS}file-entry")}
    files = {path for path in listed if not path.endswith("/")}
    parts = names - {"mimetype", "META-INF/manifest.xml"}
    problems = [f"part {name[:80]!r} not in the manifest" for name in sorted(parts - files)]
    problems += [f"manifest lists {path[:80]!r}, which is not in the package" for path in sorted(files - parts)]
    return problems


def rdf_problems(data: bytes, names: set[str]) -> list[str]:
    """RDF metadata of a package: statements that the package is a Document, has one of its parts,
    or that a stream is a content or styles file - nothing else."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        return [f"unreadable manifest.rdf: {type(exc).__name__}"]
    if root.tag != f"{RDF}RDF":
        return ["manifest.rdf is not RDF"]
    problems = []
    for node in root:
        subject = node.get(f"{RDF}about")
        if node.tag != f"{RDF}Description" or subject is None:
            problems.append(f"manifest.rdf: node {node.tag[:80]!r}")
            continue
        for statement in node:
            target = statement.get(f"{RDF}resource", "")
            if len(statement) or (statement.text or "").strip():
                problems.append(f"manifest.rdf: literal or nested statement {statement.tag[:80]!r}")
            elif statement.tag == f"{RDF}type" and target in RDF_TYPES:
                continue
            elif statement.tag == f"{{{PKG}}}hasPart" and subject == "" and target in names:
                continue
            else:
                problems.append(f"manifest.rdf: statement {statement.tag[:80]!r} about {target[:80]!r}")
    return problems


def part_problems(package: zipfile.ZipFile, max_part: int) -> list[str]:
    """Problems with the set of parts of an OpenDocument output and with its non-XML parts."""
    infos = [info for info in package.infolist() if not info.filename.endswith("/")]
    names = {info.filename for info in infos}
    problems = [f"part {name[:80]!r} is not a part an OpenDocument output may hold"
                for name in sorted(names) if not allowed_name(name)]
    for info in infos:
        if info.file_size > max_part:
            problems.append(f"part {info.filename[:80]!r} too large to check")
        elif PICTURE.fullmatch(info.filename):
            problems.extend(picture_problems(info.filename, package.read(info)))
        elif info.filename == "META-INF/manifest.xml":
            problems.extend(manifest_problems(package.read(info), names))
        elif info.filename == "manifest.rdf":
            problems.extend(rdf_problems(package.read(info), names))
    return problems
