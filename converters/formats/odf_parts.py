"""Which parts of an OpenDocument package the rebuild writes out: an allowlist of part kinds.

LibreOffice finds a part by its exact name (ZIP names are case-sensitive: a package whose content
is stored as ``content.XML`` opens as an empty document) and refuses a package holding a part its
manifest does not list. Kept, by kind:

- ``mimetype`` and ``META-INF/manifest.xml`` (both written afresh);
- the XML streams ``content.xml``, ``styles.xml``, ``meta.xml`` and ``settings.xml``, at the root
  and in embedded ODF sub-documents (``Object N/``: charts, formulas, embedded texts), parsed and
  scrubbed element by element;
- ``manifest.rdf`` at the root: the package's RDF metadata, of which only the statements naming
  the package's own files are written again (``converters.formats.odf_manifest``);
- pictures (``Pictures/<name>``) and object previews (``ObjectReplacements/Object N``), at the
  root or in a sub-document: raster images re-encoded through the image converter, EMF/WMF
  written anew from an allowlist of their records (``converters.formats.metafile``), LibreOffice's
  own SVM metafiles likewise from an allowlist of their actions (``metafile_svm``);
- ``Thumbnails/thumbnail.png``, re-encoded as a PNG.

Anything else goes with a finding: Basic, Scripts and Dialogs libraries (``macro_removed``),
binary OLE objects (``embedded_object_removed``), any other name and any part the manifest does
not list (``part_removed``), a picture whose bytes are not a picture we keep (``media_removed``).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import unquote

from converters.base import ConvertRequest
from converters.formats.metafile import rewrite_svm
from converters.formats.ooxml.media import Notes, rewrite_picture

SUB_DOCUMENT = r"(?:Object \d{1,6}/){0,4}"
XML_STREAM = re.compile(rf"{SUB_DOCUMENT}(?:content|styles|meta|settings)\.xml")
PICTURE = re.compile(rf"{SUB_DOCUMENT}(?:Pictures/[^/]{{1,200}}|ObjectReplacements/Object \d{{1,6}})")
OLE_OBJECT = re.compile(rf"{SUB_DOCUMENT}Object \d{{1,6}}")
SCRIPT_DIRS = re.compile(r"(^|/)(Basic|Scripts|Dialogs)/", re.IGNORECASE)
MIMETYPE = "mimetype"
MANIFEST = "META-INF/manifest.xml"
RDF = "manifest.rdf"
THUMBNAIL = "Thumbnails/thumbnail.png"

SVM_MAGIC = b"VCLMTF"
SVM_TYPE = "image/x-svm"


def part_kind(name: str) -> str | None:
    """``xml``, ``picture``, ``thumbnail``, ``rdf``, ``manifest`` or ``mimetype``; None for a part
    that is not kept. Names are compared exactly, as LibreOffice compares them."""
    if name in (MIMETYPE, MANIFEST, RDF, THUMBNAIL):
        return {MIMETYPE: "mimetype", MANIFEST: "manifest", RDF: "rdf", THUMBNAIL: "thumbnail"}[name]
    if XML_STREAM.fullmatch(name):
        return "xml"
    if PICTURE.fullmatch(name):
        return "picture"
    return None


def removal(name: str) -> tuple[str, str]:
    """The finding for a part whose kind is not kept."""
    if SCRIPT_DIRS.search(name):
        return "macro_removed", name
    if OLE_OBJECT.fullmatch(name):
        return "embedded_object_removed", name
    return "part_removed", f"{name[:120]}: not a part an OpenDocument file is made of"


def rewrite_svm_picture(data: bytes, request: ConvertRequest) -> tuple[bytes, str, Notes] | str:
    """A StarView metafile (LibreOffice's own, for pictures and object previews) written anew from
    an allowlist of its actions (``converters.formats.metafile_svm``), with what was left out."""
    result = rewrite_svm(data, request.limits.max_image_pixels)
    if isinstance(result, str):
        return result
    return result.data, SVM_TYPE, result.findings("last action")


def rewrite_part_picture(data: bytes, name: str, request: ConvertRequest,
                         work: Path) -> tuple[bytes, str, Notes] | str:
    """(bytes to write, media type, findings) for a picture that may stay, or why it may not."""
    if data.startswith(SVM_MAGIC):
        return rewrite_svm_picture(data, request)
    result = rewrite_picture(data, name, request, work)
    if isinstance(result, str):
        return result
    if name == THUMBNAIL and result[1] != "image/png":
        return "the thumbnail is not a PNG image"
    return result


def reference_target(href: str, part: str) -> str:
    """The package path an ``xlink:href`` written in ``part`` names (relative to the part's
    sub-document; ``./`` and percent-encoding resolved)."""
    base = posixpath.dirname(part)
    target = posixpath.normpath(posixpath.join(base, unquote(href)))
    return target.rstrip("/")


def folders(names: set[str]) -> set[str]:
    """Every folder that holds one of ``names`` (``Object 1``, ``Object 1/Pictures``...)."""
    found: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for end in range(1, len(parts) + 1):
            found.add("/".join(parts[:end]))
    return found
