"""The inspector's own reading of OpenDocument outputs: element names from its own list of the ODF
schemas (converters/inspect/odf_names.py), and only the parts an OpenDocument output may hold."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

from converters.inspect.odf import element_problem
from converters.inspect.odf_names import DEFINED
from converters.inspect.odf_package import check_odf

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
LOEXT = "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"
MIME = "application/vnd.oasis.opendocument.text"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def output(path: Path, body: str = "<text:p>本文</text:p>", parts: dict[str, bytes] | None = None,
           listed: list[str] | None = None) -> Path:
    """An output as the rebuild writes one, built by hand: mimetype, manifest, content.xml, extra parts."""
    parts = parts or {}
    content = (f'<office:document-content xmlns:office="{OFFICE}" xmlns:text="{TEXT}" xmlns:loext="{LOEXT}">'
               f"<office:body><office:text>{body}</office:text></office:body></office:document-content>")
    paths = ["content.xml", *parts] if listed is None else listed
    manifest = ('<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{MIME}"/>'
                + "".join(f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="text/xml"/>'
                          for p in paths) + "</manifest:manifest>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), MIME, compress_type=zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", manifest)
        package.writestr("content.xml", content)
        for name, data in parts.items():
            package.writestr(name, data)
    return path


def test_the_inspectors_own_list_holds_the_odf_namespaces() -> None:
    assert {"p", "h", "a", "span", "list", "list-item"} <= DEFINED[TEXT]
    assert "document-content" in DEFINED[OFFICE] and "table-cell" in DEFINED[
        "urn:oasis:names:tc:opendocument:xmlns:table:1.0"]
    assert sum(map(len, DEFINED.values())) > 550


def test_a_clean_hand_built_output_passes(tmp_path: Path) -> None:
    body = '<text:p>本文<loext:contentControl>入力欄</loext:contentControl></text:p>'
    styles = f'<office:document-styles xmlns:office="{OFFICE}"/>'.encode()
    assert check_odf(output(tmp_path / "clean.odt", body, {"Pictures/a.png": png(), "styles.xml": styles})) == []


def test_an_element_odf_does_not_define_is_flagged(tmp_path: Path) -> None:
    problems = check_odf(output(tmp_path / "unknown.odt", "<text:p>本文<text:autorun>calc.exe</text:autorun></text:p>"))
    assert f"element 'autorun' that '{TEXT}' does not define in content.xml" in problems
    assert element_problem("{urn:x-evil}script") == "element 'script' of namespace 'urn:x-evil'"
    assert element_problem("script") == "element 'script' without namespace"
    assert element_problem(f"{{{TEXT}}}p") is None and element_problem(f"{{{LOEXT}}}theme") is None


def test_a_part_of_no_allowed_kind_is_flagged(tmp_path: Path) -> None:
    for name in ("content.XML", "payload.bin", "META-INF/manifest.rdf", "layout-cache", "Configurations2/a.xml"):
        problems = check_odf(output(tmp_path / "part.odt", parts={name: b"MZ\x90\x00"}))
        assert f"part {name!r} is not a part an OpenDocument output may hold" in problems, (name, problems)


def test_the_manifest_must_list_exactly_the_parts(tmp_path: Path) -> None:
    problems = check_odf(output(tmp_path / "unlisted.odt", parts={"settings.xml": b"<x/>"},
                                listed=["content.xml", "meta.xml"]))
    assert "part 'settings.xml' not in the manifest" in problems
    assert "manifest lists 'meta.xml', which is not in the package" in problems


def test_a_picture_that_is_not_its_picture_is_flagged(tmp_path: Path) -> None:
    executable = b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode."
    problems = check_odf(output(tmp_path / "pictures.odt", parts={
        "Pictures/a.png": executable, "Pictures/b.png": png() + b"PK\x03\x04", "Thumbnails/thumbnail.png":
        b"\xff\xd8\xff\xe0" + bytes(20), "ObjectReplacements/Object 1": b"VCLMTF" + bytes(30)}))
    assert "Pictures/a.png is not a picture" in problems
    assert "data after the image in Pictures/b.png" in problems
    assert "Thumbnails/thumbnail.png is JPEG, not PNG" in problems
    assert "SVM header unreadable in ObjectReplacements/Object 1" in problems


def test_rdf_metadata_holds_only_package_statements(tmp_path: Path) -> None:
    rdf = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns:pkg="http://docs.oasis-open.org/ns/office/1.2/meta/pkg#">'
           '<rdf:Description rdf:about=""><pkg:hasPart rdf:resource="content.xml"/></rdf:Description>'
           '<rdf:Description rdf:about=""><pkg:hasPart rdf:resource="elsewhere.bin"/></rdf:Description>'
           '<rdf:Description rdf:about="content.xml"><x:run xmlns:x="urn:x">calc.exe</x:run></rdf:Description>'
           "</rdf:RDF>")
    problems = check_odf(output(tmp_path / "rdf.odt", parts={"manifest.rdf": rdf.encode()}))
    assert [p for p in problems if p.startswith("manifest.rdf")] == [
        "manifest.rdf: statement '{http://docs.oasis-open.org/ns/office/1.2/meta/pkg#}hasPart' about 'elsewhere.bin'",
        "manifest.rdf: literal or nested statement '{urn:x}run'"]


def test_an_output_without_a_manifest_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "bare.odt"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("mimetype", MIME)
        package.writestr("content.xml", f'<office:document-content xmlns:office="{OFFICE}"/>')
    assert "no manifest (META-INF/manifest.xml)" in check_odf(path)
