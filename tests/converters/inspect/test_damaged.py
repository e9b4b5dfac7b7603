"""The inspector on a damaged, encrypted or unsupported ZIP output: a problem (not clean), never an
exception (in the gateway an inspector that crashes is an answer refused, not a verdict)."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from converters.inspect.damaged_zip import ZipUnreadable, zip_reading
from converters.inspect.outputs import inspect_file

REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"
# inputs fuzzing found (tests/fuzz/regressions/manifest.json, target "inspect"): file -> output name
FOUND = {
    "18132b9df9c2": "tiny.docx", "18bc478ff53a": "tiny.xlsx", "2d7ba38a1d65": "tiny.docx",
    "3f9e79e19ff7": "odt-clean.odt", "57c7be927e76": "tiny.odt", "b89fad85694c": "tiny.odt",
    "c13944e56af6": "tiny.ods", "45ebd00f8cca": "tiny.odt", "5ef41a839a8b": "tiny.odt",
    "756990b92a32": "tiny.odt", "e12d1f877332": "tiny.odt",
}
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
ODF_TEXT = "application/vnd.oasis.opendocument.text"
OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
BODY = "市役所からのお知らせ。住民票の写しは窓口で受け取れます。" * 20


def _docx(method: int) -> dict[str, tuple[bytes, int]]:
    types = ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
             'wordprocessingml.document.main+xml"/></Types>')
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}" Target="word/document.xml"/></Relationships>')
    document = f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>{BODY}</w:t></w:r></w:p></w:body></w:document>'
    return {"[Content_Types].xml": (types.encode(), method), "_rels/.rels": (rels.encode(), method),
            "word/document.xml": (document.encode(), method)}


def _odt(method: int) -> dict[str, tuple[bytes, int]]:
    manifest = ('<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                f'manifest:media-type="{ODF_TEXT}"/><manifest:file-entry manifest:full-path="content.xml" '
                'manifest:media-type="text/xml"/></manifest:manifest>')
    content = (f'<office:document-content xmlns:office="{OFFICE_NS}" xmlns:text="{TEXT_NS}" office:version="1.2">'
               f'<office:body><office:text><text:p>{BODY}</text:p></office:text></office:body>'
               '</office:document-content>')
    return {"mimetype": (ODF_TEXT.encode(), zipfile.ZIP_STORED),
            "META-INF/manifest.xml": (manifest.encode(), method), "content.xml": (content.encode(), method)}


def _zip(method: int) -> dict[str, tuple[bytes, int]]:
    return {"お知らせ.txt": (BODY.encode(), method)}


BUILDERS = {".docx": _docx, ".odt": _odt, ".zip": _zip}
# the member each kind of output is damaged in, and how the inspector reports an unreadable one
TARGETS = {".docx": ("[Content_Types].xml", "ooxml_package_unreadable"),
           ".odt": ("content.xml", "odf_unreadable"),
           ".zip": ("お知らせ.txt", "zip_unreadable")}

# what zipfile or its decompressor raises on each damage, as the problem names it
KINDS = {"bad_crc": "(BadZipFile)", "unsupported_method": "(NotImplementedError)", "encrypted_flag": "(RuntimeError)",
         "lzma_cut_short": "(BadZipFile)", "lzma_data": "(lzma.LZMAError)", "deflate_data": "(zlib.error)"}


def _write(path: Path, members: dict[str, tuple[bytes, int]]) -> bytes:
    with zipfile.ZipFile(path, "w") as package:
        for name, (data, method) in members.items():
            package.writestr(zipfile.ZipInfo(name, (2024, 4, 1, 9, 0, 0)), data, compress_type=method)
    return path.read_bytes()


def _headers(data: bytes, name: str) -> tuple[int, int]:
    """Offsets of ``name``'s local header and central directory entry."""
    encoded = name.encode("utf-8")
    end = data.rindex(b"PK\x05\x06")
    count, _, central = struct.unpack_from("<HII", data, end + 10)
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, central + 28)
        if data[central + 46:central + 46 + name_length] == encoded:
            return struct.unpack_from("<I", data, central + 42)[0], central
        central += 46 + name_length + extra_length + comment_length
    raise AssertionError(f"no member {name}")


def _set(data: bytearray, name: str, local_field: int, central_field: int, fmt: str, value: int) -> None:
    local, central = _headers(bytes(data), name)
    struct.pack_into(fmt, data, local + local_field, value)
    struct.pack_into(fmt, data, central + central_field, value)


def _data_start(data: bytearray, local: int) -> int:
    name_length: int
    extra_length: int
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + name_length + extra_length


def _damaged(tmp_path: Path, suffix: str, damage: str) -> Path:
    method = zipfile.ZIP_LZMA if damage.startswith("lzma") else zipfile.ZIP_DEFLATED
    path = tmp_path / f"output{suffix}"
    data = bytearray(_write(path, BUILDERS[suffix](method)))
    name = TARGETS[suffix][0]
    local, central = _headers(bytes(data), name)
    if damage == "bad_crc":
        crc = struct.unpack_from("<I", data, central + 16)[0]
        _set(data, name, 14, 16, "<I", crc ^ 0xFFFFFFFF)
    elif damage == "unsupported_method":
        _set(data, name, 8, 10, "<H", 99)  # AE-x (WinZip AES): zipfile cannot read it
    elif damage == "encrypted_flag":
        flags = struct.unpack_from("<H", data, central + 8)[0]
        _set(data, name, 6, 8, "<H", flags | 0x1)
    elif damage == "lzma_cut_short":  # the directory and header say the member ends half way
        size = struct.unpack_from("<I", data, central + 20)[0]
        _set(data, name, 18, 20, "<I", size // 2)
    elif damage == "lzma_data":
        # after zipfile's 4-byte LZMA header and the 5 bytes of properties, a range coder starts with 0
        data[_data_start(data, local) + 9] = 0xFF
    elif damage == "deflate_data":
        data[_data_start(data, local)] = 0xFF  # a final block of the reserved type 3: not a deflate stream
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("suffix", sorted(BUILDERS))
def test_the_undamaged_outputs_are_clean(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"output{suffix}"
    _write(path, BUILDERS[suffix](zipfile.ZIP_DEFLATED))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert inspect_file(path, scratch).problems == []


@pytest.mark.parametrize("damage", sorted(KINDS))
@pytest.mark.parametrize("suffix", sorted(BUILDERS))
def test_a_damaged_output_is_a_problem_not_a_crash(tmp_path: Path, suffix: str, damage: str) -> None:
    path = _damaged(tmp_path, suffix, damage)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    verdict = inspect_file(path, scratch)
    assert not verdict.clean
    if damage == "encrypted_flag" and suffix == ".zip":  # the archive check names the member instead
        assert verdict.problems == ["zip_encrypted_member お知らせ.txt"]
    else:
        read_as = f"{TARGETS[suffix][1]}: "
        assert any(p.startswith(read_as) and p.endswith(KINDS[damage]) for p in verdict.problems), verdict.problems


def test_the_office_check_itself_reports_a_damaged_part(tmp_path: Path) -> None:
    # [Content_Types].xml intact, so the kind is read; the main document part is what cannot be
    path = tmp_path / "output.docx"
    data = bytearray(_write(path, _docx(zipfile.ZIP_DEFLATED)))
    _set(data, "word/document.xml", 8, 10, "<H", 99)
    path.write_bytes(bytes(data))
    verdict = inspect_file(path, tmp_path)
    assert verdict.type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert any(p.startswith("ooxml_unreadable: a compression method") for p in verdict.problems), verdict.problems


@pytest.mark.parametrize(("builder", "part", "problem"), [
    (_odt, "content.xml", "unreadable xml content.xml: unknown encoding"),
    (_docx, "word/document.xml", "xml unreadable (unknown encoding) in word/document.xml"),
])
def test_a_part_declaring_an_unknown_encoding_is_a_problem(
        tmp_path: Path, builder: Callable[[int], dict[str, tuple[bytes, int]]], part: str, problem: str) -> None:
    members = builder(zipfile.ZIP_DEFLATED)
    data, method = members[part]
    members[part] = (b'<?xml version="1.0" encoding="x-bogus"?>' + data, method)  # expat: LookupError
    path = tmp_path / f"output{'.odt' if builder is _odt else '.docx'}"
    _write(path, members)
    assert inspect_file(path, tmp_path).problems == [problem]


def test_an_image_pillow_cannot_read_in_an_office_output_is_a_problem(tmp_path: Path) -> None:
    # a PNG with its header and end but no image data, the end's CRC damaged: Pillow raises IndexError
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000110000000908020000005b8a505b"
                        "0000000049454e44ae426001")
    members = _docx(zipfile.ZIP_DEFLATED)
    types, method = members["[Content_Types].xml"]
    members["[Content_Types].xml"] = (types.replace(b"<Override", b'<Default Extension="png" '
                                                    b'ContentType="image/png"/><Override', 1), method)
    members["word/_rels/document.xml.rels"] = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        b'Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" '
        b'Target="media/image1.png"/></Relationships>', method)
    members["word/media/image1.png"] = (png, zipfile.ZIP_STORED)
    path = tmp_path / "output.docx"
    _write(path, members)
    assert inspect_file(path, tmp_path).problems == ["image unreadable (IndexError) in word/media/image1.png"]


def test_a_member_without_a_name_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "output.zip"
    members = _zip(zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, method) in members.items():
            archive.writestr(name, data, compress_type=method)
        archive.writestr(zipfile.ZipInfo("\x00"), BODY)  # zipfile cuts a name at its NUL: no name at all
    verdict = inspect_file(path, tmp_path)
    assert verdict.problems == ["zip_member_without_name"]


@pytest.mark.parametrize("key", sorted(FOUND))
def test_inputs_fuzzing_found_are_problems(tmp_path: Path, key: str) -> None:
    path = tmp_path / FOUND[key]
    path.write_bytes((REGRESSIONS / f"{key}-inspect.bin").read_bytes())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    verdict = inspect_file(path, scratch)
    assert not verdict.clean and verdict.problems


def test_only_what_the_package_causes_becomes_a_problem() -> None:
    with pytest.raises(ZipUnreadable, match=r"encrypted member \(RuntimeError\)"), zip_reading():
        raise RuntimeError("File 'a' is encrypted, password required for extraction")
    with pytest.raises(ZipUnreadable, match=r"damaged compressed data \(lzma\.LZMAError\)"), zip_reading():
        import lzma

        raise lzma.LZMAError("Corrupt input data")
    with pytest.raises(RecursionError), zip_reading():  # not about the package: left alone
        raise RecursionError("maximum recursion depth exceeded")
    with pytest.raises(KeyError), zip_reading():
        raise KeyError("a bug of the inspector is not read as damage")
