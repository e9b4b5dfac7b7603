"""Damaged input gets a reason a person can act on, never an internal error.

A deterministic generator damages the project's own samples the way downloads, mailers and
attackers do - ZIP containers cut short or with flipped bytes in local headers, the central
directory, checksums, compression methods, flag bits and offsets; a .tar.gz with a broken
deflate stream; a TIFF whose IFD is damaged; an encrypted Office file whose EncryptionInfo is
malformed; the other images, a PDF, a 7z, a tar and an .xls cut short and with flipped bytes -
and each variant goes through the engine. None may end as ``converter_crashed`` or
``converter_report_invalid``; a blocked one carries a specific code, and the variants whose damage
is unambiguous carry the code and the sentence that damage deserves. A sample of them also goes
through ``gateway sanitize`` (the sandboxed path) to show the same outcome there."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import olefile
import pytest
from PIL import Image

from converters.base import Report
from converters.detect import BLOCKED_KINDS
from gateway.pipeline.report import parse_report
from tests.conftest import ROOT, run_engine

INTERNAL = frozenset({"converter_crashed", "converter_report_invalid", "converter_error", "internal_error"})
# what a blocked damaged input may say: the damage itself, or a policy the damage did not hide
SPECIFIC = frozenset({"corrupt_file", "unsupported_compression", "encrypted_archive", "password_protected",
                      "archive_all_members_blocked", "unsupported_type", "decompression_bomb",
                      "xml_dtd_forbidden"})

BLOCKED_CODES = frozenset(code for code, _ in BLOCKED_KINDS.values())  # a kind the damage turned it into
CENTRAL = b"PK\x01\x02"
END = b"PK\x05\x06"


# --- the generator ---------------------------------------------------------------------------------

def _end_record(data: bytes) -> int:
    at = data.rfind(END)
    if at < 0:
        raise ValueError("not a ZIP archive")
    return at


def central_entries(data: bytes) -> list[int]:
    """Offsets of the central directory's entries, walked from the end record."""
    end = _end_record(data)
    count, _size, start = struct.unpack_from("<HII", data, end + 10)
    entries, at = [], start
    for _ in range(count):
        if data[at:at + 4] != CENTRAL:
            raise ValueError("central directory not where the end record says")
        entries.append(at)
        name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name + extra + comment
    return entries


def local_headers(data: bytes) -> list[int]:
    return [struct.unpack_from("<I", data, entry + 42)[0] for entry in central_entries(data)]


def _patched(data: bytes, edits: Iterator[tuple[int, bytes]]) -> bytes:
    out = bytearray(data)
    for offset, value in edits:
        out[offset:offset + len(value)] = value
    return bytes(out)


def _with_u16(data: bytes, offsets: list[int], field: int, value: Callable[[int], int]) -> bytes:
    return _patched(data, ((at + field, struct.pack("<H", value(struct.unpack_from("<H", data, at + field)[0])))
                           for at in offsets))


def _with_u32(data: bytes, offsets: list[int], field: int, value: Callable[[int], int]) -> bytes:
    return _patched(data, ((at + field, struct.pack("<I", value(struct.unpack_from("<I", data, at + field)[0])))
                           for at in offsets))


def _largest_member(data: bytes) -> tuple[int, int]:
    """(start, length) of the stored data of the member with the most compressed bytes."""
    best = (0, 0)
    for entry in central_entries(data):
        size, = struct.unpack_from("<I", data, entry + 20)
        local, = struct.unpack_from("<I", data, entry + 42)
        name, extra = struct.unpack_from("<HH", data, local + 26)
        if size > best[1]:
            best = (local + 30 + name + extra, size)
    return best


def truncations(data: bytes) -> list[tuple[str, bytes]]:
    """Cut at several offsets: early, the middle, late, inside the last record and the last byte."""
    cuts = {"cut-10pct": len(data) // 10, "cut-50pct": len(data) // 2, "cut-90pct": len(data) * 9 // 10,
            "cut-end30": len(data) - 30, "cut-end1": len(data) - 1}
    return [(name, data[:cut]) for name, cut in cuts.items()]


def zip_variants(data: bytes) -> list[tuple[str, bytes]]:
    """Deterministic damage to a ZIP container (every header field changed in every entry, so
    whichever member a reader opens first meets the damage)."""
    central, local = central_entries(data), local_headers(data)
    end = _end_record(data)
    variants = truncations(data)
    variants += [
        ("local-magic", _patched(data, ((at, b"PK\x07\x09") for at in local))),
        ("crc-both", _with_u32(_with_u32(data, central, 16, lambda v: v ^ 0x5A5A5A5A), local, 14,
                               lambda v: v ^ 0x5A5A5A5A)),
        ("crc-central", _with_u32(data, central, 16, lambda v: v ^ 1)),
        ("name-local", _patched(data, ((at + 30, b"#") for at in local))),
        ("method-shrink", _with_u16(_with_u16(data, central, 10, lambda _: 1), local, 8, lambda _: 1)),
        ("method-aes", _with_u16(_with_u16(data, central, 10, lambda _: 99), local, 8, lambda _: 99)),
        ("method-lzma-on-deflate", _with_u16(_with_u16(data, central, 10, lambda v: 14 if v == 8 else v),
                                             local, 8, lambda v: 14 if v == 8 else v)),
        ("method-bzip2-on-deflate", _with_u16(_with_u16(data, central, 10, lambda v: 12 if v == 8 else v),
                                              local, 8, lambda v: 12 if v == 8 else v)),
        ("flag-encrypted", _with_u16(_with_u16(data, central, 8, lambda v: v | 0x1), local, 6, lambda v: v | 0x1)),
        ("flag-strong-encryption", _with_u16(_with_u16(data, central, 8, lambda v: v | 0x40), local, 6,
                                             lambda v: v | 0x40)),
        ("flag-patched", _with_u16(_with_u16(data, central, 8, lambda v: v | 0x20), local, 6, lambda v: v | 0x20)),
        ("version-needed", _with_u16(data, central, 6, lambda _: 99)),
        ("local-offset", _with_u32(data, central, 42, lambda v: v + 7)),
        ("compressed-size", _with_u32(data, central, 20, lambda v: v // 2)),
        ("central-magic", _patched(data, ((at, b"PK\x01\x09") for at in central))),
        ("central-offset-large", _with_u32(data, [end], 16, lambda v: v + 0x10000)),
        ("central-offset-small", _with_u32(data, [end], 16, lambda v: max(v - 5, 0))),
        ("central-size", _with_u32(data, [end], 12, lambda v: v + 0x7FFF0000)),
        ("entry-count", _with_u16(_with_u16(data, [end], 8, lambda v: v + 3), [end], 10, lambda v: v + 3)),
        ("extra-length", _with_u16(data, central, 30, lambda _: 0xFFF0)),
        ("local-extra-length", _with_u16(data, local, 28, lambda _: 0xFFF0)),
    ]
    start, length = _largest_member(data)
    variants += [  # compressed data damaged (a deflate stream breaks, stored data fails its checksum)
        ("member-data-middle", _patched(data, iter([(start + length // 3, b"\xff\x00\xff\x00\xff")]))),
        ("member-data-head", _patched(data, iter([(start, b"\x07")]))),
    ]
    return variants


def gzip_variants(data: bytes) -> list[tuple[str, bytes]]:
    """A .tar.gz damaged in its deflate stream, its trailer and its header."""
    variants = truncations(data)
    body = 10 + len(data[10:].split(b"\0", 1)[0]) + 1 if data[3] & 0x08 else 10  # after the name, if any
    variants += [
        ("deflate-early", _patched(data, iter([(body + 4, b"\xff\xff\xff\xff")]))),
        ("deflate-middle", _patched(data, iter([(len(data) // 2, b"\x00\xff\x00\xff\x13")]))),
        ("deflate-reserved-block", _patched(data, iter([(body, bytes([data[body] | 0x06]))]))),
        ("trailer-crc", _patched(data, iter([(len(data) - 8, bytes([data[-8] ^ 0xFF]))]))),
        ("trailer-size", _patched(data, iter([(len(data) - 4, bytes([data[-4] ^ 0xFF]))]))),
        ("header-method", _patched(data, iter([(2, b"\x07")]))),
        ("header-flags", _patched(data, iter([(3, b"\xe0")]))),
        ("trailing-garbage", data + b"\x1f\x8b\x08\x00garbage"),
    ]
    return variants


def tiff_variants(data: bytes) -> list[tuple[str, bytes]]:
    """A TIFF whose first IFD is damaged: entry count, tag numbers, types, counts and offsets."""
    fmt = "<" if data[:2] == b"II" else ">"
    ifd, = struct.unpack_from(fmt + "I", data, 4)
    count, = struct.unpack_from(fmt + "H", data, ifd)
    entries = [ifd + 2 + 12 * i for i in range(count)]

    def tag_of(entry: int) -> int:
        return int(struct.unpack_from(fmt + "H", data, entry)[0])

    def edit(pick: Callable[[int], bool], field: int, value: bytes) -> bytes:
        return _patched(data, ((at + field, value) for at in entries if pick(tag_of(at))))

    width_height = {256, 257}
    strips = {273, 279, 324, 325}
    variants = truncations(data)
    variants += [
        ("ifd-offset", _patched(data, iter([(4, struct.pack(fmt + "I", len(data) + 100))]))),
        ("ifd-count-zero", _patched(data, iter([(ifd, struct.pack(fmt + "H", 0))]))),
        ("ifd-count-huge", _patched(data, iter([(ifd, struct.pack(fmt + "H", 0xFFFF))]))),
        ("no-dimensions", edit(lambda tag: tag in width_height, 0, struct.pack(fmt + "H", 0xC350))),
        ("dimension-type", edit(lambda tag: tag in width_height, 2, struct.pack(fmt + "H", 0x00FF))),
        ("dimension-count", edit(lambda tag: tag in width_height, 4, struct.pack(fmt + "I", 0))),
        ("strip-offsets", edit(lambda tag: tag in strips, 8, struct.pack(fmt + "I", 0x7FFFFFF0))),
        ("strip-count", edit(lambda tag: tag in strips, 4, struct.pack(fmt + "I", 0x3FFFFFFF))),
        ("bits-per-sample", edit(lambda tag: tag == 258, 8, struct.pack(fmt + "I", 0x00630063))),
        ("compression", edit(lambda tag: tag == 259, 8, struct.pack(fmt + "H", 0x7777) + b"\0\0")),
        ("photometric", edit(lambda tag: tag == 262, 8, struct.pack(fmt + "H", 0x0099) + b"\0\0")),
        ("all-types", edit(lambda _tag: True, 2, struct.pack(fmt + "H", 0x000D))),
    ]
    return variants


def _encryption_info(source: Path, target: Path, change: Callable[[bytes], bytes]) -> None:
    """``source`` with its EncryptionInfo stream replaced (same length, as the OLE layout needs)."""
    shutil.copyfile(source, target)
    with olefile.OleFileIO(str(target), write_mode=True) as ole:
        info = ole.openstream("EncryptionInfo").read()
        changed = change(info)[:len(info)]
        ole.write_stream("EncryptionInfo", changed + b"\0" * (len(info) - len(changed)))


def encryption_info_changes() -> list[tuple[str, Callable[[bytes], bytes]]]:
    """Malformed EncryptionInfo streams of an agile-encrypted (Office 2010+) file."""
    def xml(data: bytes) -> bytes:
        return data[8:]

    return [
        ("version-unknown", lambda d: b"\x09\x00\x07\x00" + d[4:]),
        ("version-extensible", lambda d: b"\x04\x00\x03\x00" + d[4:]),
        ("version-standard", lambda d: b"\x04\x00\x02\x00" + d[4:]),
        ("xml-broken", lambda d: d[:8] + xml(d).replace(b"<keyData", b"<keyD<ta", 1)),
        ("xml-cut", lambda d: d[:8] + xml(d)[:200]),
        ("xml-no-keydata", lambda d: d[:8] + xml(d).replace(b"<keyData", b"<keyDatx", 1)),
        ("xml-bad-base64", lambda d: d[:8] + re.sub(rb'saltValue="..', b'saltValue="%%', xml(d), count=1)),
        ("xml-bad-spin", lambda d: d[:8] + re.sub(rb'spinCount="\d', b'spinCount="x', xml(d), count=1)),
        ("xml-bad-hash", lambda d: d[:8] + xml(d).replace(b'hashAlgorithm="SHA512"', b'hashAlgorithm="MD5123"')),
        ("xml-bad-keybits", lambda d: d[:8] + xml(d).replace(b'keyBits="256"', b'keyBits="999"')),
        ("empty", lambda d: b""),
        ("header-only", lambda d: d[:6]),
    ]


def byte_flips(data: bytes) -> list[tuple[str, bytes]]:
    """Four bytes inverted near the start (headers) and at fractions of the file (body)."""
    places = {"flip-head8": 8, "flip-head24": 24, "flip-6pct": len(data) // 16, "flip-25pct": len(data) // 4,
              "flip-50pct": len(data) // 2, "flip-75pct": len(data) * 3 // 4}
    return [(name, _patched(data, iter([(at, bytes(b ^ 0xFF for b in data[at:at + 4]))])))
            for name, at in places.items()]


# --- the cases -------------------------------------------------------------------------------------

ZIP_SAMPLES = ("docx-clean.docx", "xlsx-clean.xlsx", "pptx-clean.pptx", "odt-clean.odt", "zip-mixed.zip",
               "zip-nested.zip")
GZIP_SAMPLES = ("tar-gz-clean.tar.gz",)
TIFF_SAMPLES = ("tiff-multipage.tif", "tiff-photoshop.tif")
ENCRYPTED_SAMPLE = "xlsx-default-password.xlsx"
# cut short and with flipped bytes
OTHER_SAMPLES = ("png-clean.png", "jpeg-exif.jpg", "gif-animated.gif", "bmp-clean.bmp", "webp-clean.webp",
                 "pdf-clean.pdf", "7z-clean.7z", "tar-symlink.tar", "xls-macro.xls")
Case = tuple[str, str]  # (sample, variant)


def _cases() -> list[Case]:
    """The variant names are fixed by the generators (the bytes are made from the samples at run
    time); small model inputs of each kind list them before the samples exist."""
    cases: list[Case] = [(sample, name) for sample in ZIP_SAMPLES for name, _ in zip_variants(_model_zip())]
    cases += [("tar-gz-clean.tar.gz", name) for name, _ in gzip_variants(_model_gzip())]
    cases += [(sample, name) for sample in TIFF_SAMPLES for name, _ in tiff_variants(_model_tiff())]
    cases += [(ENCRYPTED_SAMPLE, name) for name, _ in encryption_info_changes()]
    cases += [(sample, name) for sample in OTHER_SAMPLES for name, _ in _others(_model_gzip())]
    return cases


def _others(data: bytes) -> list[tuple[str, bytes]]:
    return truncations(data) + byte_flips(data)


def _model_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", " ".join(str(n * n) for n in range(200)))
    return buffer.getvalue()


def _model_gzip() -> bytes:
    return gzip.compress(b"x" * 400)


def _model_tiff() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, "TIFF")
    return buffer.getvalue()


def damaged(samples: Path, sample: str, variant: str, into: Path) -> Path:
    """Write the named variant of ``sample`` under ``into`` and return its path."""
    source = samples / sample
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{variant}-{sample}"
    if sample == ENCRYPTED_SAMPLE:
        _encryption_info(source, target, dict(encryption_info_changes())[variant])
        return target
    data = source.read_bytes()
    generator = (zip_variants if sample in ZIP_SAMPLES else gzip_variants if sample in GZIP_SAMPLES
                 else tiff_variants if sample in TIFF_SAMPLES else _others)
    made = generator(data)
    target.write_bytes(dict(made)[variant])
    return target


CASES = _cases()
# the damage each of these variants carries has one right answer: (code, words the reason must hold)
EXPECTED: dict[Case, tuple[str, str]] = {
    ("docx-clean.docx", "cut-50pct"): ("corrupt_file", "cut short"),
    ("zip-mixed.zip", "cut-90pct"): ("corrupt_file", "cut short"),
    ("zip-mixed.zip", "crc-central"): ("corrupt_file", "checksum does not match"),
    ("docx-clean.docx", "crc-both"): ("corrupt_file", "checksum does not match"),
    ("odt-clean.odt", "crc-central"): ("corrupt_file", "checksum does not match"),
    ("odt-clean.odt", "name-local"): ("corrupt_file", "differs between the directory and its header"),
    ("xlsx-clean.xlsx", "local-magic"): ("corrupt_file", "header"),
    ("odt-clean.odt", "central-offset-large"): ("corrupt_file", "points outside the file"),
    ("pptx-clean.pptx", "central-offset-large"): ("corrupt_file", "points outside the file"),
    ("odt-clean.odt", "local-extra-length"): ("corrupt_file", "cut short"),
    ("odt-clean.odt", "member-data-middle"): ("corrupt_file", "compressed data"),
    ("xlsx-clean.xlsx", "member-data-head"): ("corrupt_file", "compressed data"),
    ("xlsx-clean.xlsx", "method-shrink"): ("unsupported_compression", "compression method"),
    ("odt-clean.odt", "method-aes"): ("unsupported_compression", "compression method"),
    ("zip-mixed.zip", "method-aes"): ("unsupported_compression", "compression method"),
    ("pptx-clean.pptx", "version-needed"): ("unsupported_compression", "newer ZIP reader"),
    ("zip-nested.zip", "version-needed"): ("unsupported_compression", "newer ZIP reader"),
    ("docx-clean.docx", "flag-encrypted"): ("encrypted_archive", "encrypted member"),
    ("odt-clean.odt", "flag-encrypted"): ("encrypted_archive", "encrypted member"),
    ("docx-clean.docx", "flag-strong-encryption"): ("encrypted_archive", "strong encryption"),
    ("zip-mixed.zip", "flag-strong-encryption"): ("encrypted_archive", "encrypted"),
    ("tar-gz-clean.tar.gz", "cut-50pct"): ("corrupt_file", "cut short"),
    ("tar-gz-clean.tar.gz", "deflate-early"): ("corrupt_file", "compressed data is damaged"),
    ("tar-gz-clean.tar.gz", "deflate-reserved-block"): ("corrupt_file", "compressed data is damaged"),
    ("tar-gz-clean.tar.gz", "trailer-crc"): ("corrupt_file", "checksum does not match"),
    ("tar-gz-clean.tar.gz", "header-method"): ("unsupported_compression", "compression method"),
    ("tiff-multipage.tif", "cut-10pct"): ("corrupt_file", "damaged"),
    ("tiff-multipage.tif", "no-dimensions"): ("corrupt_file", "damaged"),
    ("tar-symlink.tar", "flip-head8"): ("corrupt_file", "checksum"),
    ("xls-macro.xls", "cut-10pct"): ("corrupt_file", "OLE"),
    **{(ENCRYPTED_SAMPLE, name): ("corrupt_file", "encryption information") for name in (
        "version-unknown", "version-extensible", "xml-broken", "xml-cut", "xml-no-keydata", "xml-bad-hash",
        "empty", "header-only")},
    (ENCRYPTED_SAMPLE, "xml-bad-base64"): ("corrupt_file", "decrypted document"),
}


def _reports(report: Report) -> Iterator[Report]:
    yield report
    for member in report.members or []:
        yield from _reports(member)


def assert_specific(report: Report, out: Path) -> None:
    """No internal error anywhere in the report, every blocked file says a specific code, and the
    report is one the gateway accepts from the sandbox (else it would be converter_report_invalid)."""
    for each in _reports(report):
        assert each.reason_code not in INTERNAL, (each.input, each.reason_code, each.reason)
        if each.outcome == "blocked":
            assert each.reason_code in SPECIFIC or each.reason_code in BLOCKED_CODES, (each.input, each.reason_code)
            assert each.reason, each.input
    parse_report(json.dumps(report.to_dict()).encode(), out, "rebuild")


@pytest.mark.parametrize(("sample", "variant"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_damaged_input_gets_a_specific_outcome(samples: Path, tmp_path: Path, sample: str, variant: str) -> None:
    source = damaged(samples, sample, variant, tmp_path / "in")
    report = run_engine(source, tmp_path / "out")
    assert_specific(report, tmp_path / "out")
    if (sample, variant) in EXPECTED:
        code, words = EXPECTED[(sample, variant)]
        assert (report.outcome, report.reason_code) == ("blocked", code), report.reason
        assert words in (report.reason or ""), report.reason


def test_expected_outcomes_name_real_cases() -> None:
    assert set(EXPECTED) <= set(CASES)


def test_odf_with_a_malformed_mimetype_is_corrupt_not_an_invalid_report(samples: Path, tmp_path: Path) -> None:
    source = tmp_path / "letter.odt"
    with zipfile.ZipFile(samples / "odt-clean.odt") as original, zipfile.ZipFile(source, "w") as damaged_odt:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "mimetype":
                data = b"application/vnd.oasis.opendocument.te\x93t"
            damaged_odt.writestr(info, data)
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "mimetype" in (report.reason or "")
    assert_specific(report, tmp_path / "out")


def test_zip_member_without_a_name_is_corrupt(tmp_path: Path) -> None:
    source = tmp_path / "files.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("請求書.txt", "請求書です")
        archive.writestr(zipfile.ZipInfo(""), "no name")
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "has no name" in (report.reason or "")


def test_gif_cut_inside_an_extension_block_is_corrupt(samples: Path, tmp_path: Path) -> None:
    data = (samples / "gif-animated.gif").read_bytes()
    second = data.index(b"!\xf9", data.index(b"!\xf9") + 1)  # the second frame's graphic control block
    source = tmp_path / "anim.gif"
    source.write_bytes(data[:second + 1])
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")


def test_gif_graphic_control_block_too_short_is_corrupt(samples: Path, tmp_path: Path) -> None:
    data = bytearray((samples / "gif-animated.gif").read_bytes())
    second = data.index(b"!\xf9", data.index(b"!\xf9") + 1)
    data[second + 2:second + 4] = b"\x01\x00"  # a one-byte block where the delay (two bytes) should follow
    source = tmp_path / "anim.gif"
    source.write_bytes(bytes(data))
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")


def test_gif_frame_declaring_too_many_pixels_is_a_bomb(samples: Path, tmp_path: Path) -> None:
    data = bytearray((samples / "gif-animated.gif").read_bytes())
    second = data.index(b"!\xf9", data.index(b"!\xf9") + 1)
    descriptor = data.index(b",", second)
    data[descriptor + 5:descriptor + 9] = struct.pack("<HH", 0xFFFF, 0xFFFF)  # second frame 65535 x 65535
    source = tmp_path / "anim.gif"
    source.write_bytes(bytes(data))
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code) == ("blocked", "decompression_bomb")


# one variant of each kind of damage, through the sandbox
SANDBOXED: list[Case] = [
    ("docx-clean.docx", "cut-50pct"), ("docx-clean.docx", "crc-both"), ("xlsx-clean.xlsx", "method-shrink"),
    ("pptx-clean.pptx", "version-needed"), ("docx-clean.docx", "flag-strong-encryption"),
    ("odt-clean.odt", "flag-encrypted"), ("odt-clean.odt", "central-offset-large"),
    ("odt-clean.odt", "member-data-middle"), ("zip-mixed.zip", "name-local"), ("zip-nested.zip", "method-aes"),
    ("tar-gz-clean.tar.gz", "deflate-early"), ("tar-gz-clean.tar.gz", "trailer-size"),
    ("tiff-multipage.tif", "cut-10pct"), ("tiff-photoshop.tif", "dimension-count"),
    (ENCRYPTED_SAMPLE, "xml-broken"), (ENCRYPTED_SAMPLE, "version-unknown"), (ENCRYPTED_SAMPLE, "xml-no-keydata"),
    ("xls-macro.xls", "cut-10pct"), ("tar-symlink.tar", "flip-head8"), ("gif-animated.gif", "cut-50pct"),
]


def test_the_sandboxed_path_gives_the_same_outcomes(samples: Path, tmp_path: Path) -> None:
    assert set(SANDBOXED) <= set(CASES)
    inputs = [damaged(samples, sample, variant, tmp_path / "in") for sample, variant in SANDBOXED]
    expected = {}
    for index, source in enumerate(inputs):
        report = run_engine(source, tmp_path / f"engine-{index}")
        expected[source.name] = (report.outcome, report.reason_code)
    completed = subprocess.run(
        [sys.executable, "-m", "gateway", "sanitize", *map(str, inputs), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    sandboxed = {Path(line["input"]).name: (line["outcome"], line["reason_code"]) for line in lines}
    assert sandboxed == expected
    assert not {code for _, code in sandboxed.values()} & INTERNAL


def test_every_converter_code_is_in_the_contract_and_the_notice() -> None:
    from converters import errors
    from gateway.messages import REASONS

    contract = (ROOT / "docs/CONTRACT.md").read_text(encoding="utf-8")
    codes = {value.code for value in vars(errors).values()
             if isinstance(value, type) and issubclass(value, errors.ConverterError)}
    assert "unsupported_compression" in codes
    assert {code for code in codes if f"`{code}`" not in contract} == set()
    assert codes - set(REASONS) == set()  # the one catalogue the notice and the console read
