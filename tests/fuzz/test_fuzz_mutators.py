"""The structure-aware mutators do what the fuzz campaign relies on them for."""

from __future__ import annotations

import email
import io
import random
import struct
import zipfile
import zlib

from tests.fuzz.mutate_formats import fix_png_crcs, fix_tar_checksums
from tests.fuzz.mutate_mime import MimeMutator
from tests.fuzz.mutate_xml import XmlMutator
from tests.fuzz.mutate_zip import CDH, LFH, ZipMutator, raw_field, read_entries
from tests.fuzz.oracle import unencodable_field
from tests.fuzz.seeds import archives, mails, minimal_docx, small_images
from tests.fuzz.targets import TARGETS, Lineage, SmartMutator


def rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311


def test_member_data_mutation_keeps_a_readable_package_and_changes_an_xml_part() -> None:
    original = minimal_docx()
    before = dict((i.filename, d) for i, d in read_entries(original) or [])
    mutator = ZipMutator(XmlMutator())
    changed = 0
    for seed in range(40):
        mutated = mutator._member_data(read_entries(original) or [], rng(seed), original)
        after = dict((i.filename, d) for i, d in read_entries(mutated) or [])
        assert set(after) == set(before)  # CRCs and sizes agree: zipfile reads every member
        changed += sum(after[name] != before[name] for name in before)
    assert changed >= 30


def test_raw_field_mutation_changes_one_header_field_only() -> None:
    original = archives()["two.zip"]
    differing = set()
    for seed in range(50):
        mutated = raw_field(original, rng(seed))
        assert len(mutated) == len(original)
        diff = [i for i in range(len(original)) if original[i] != mutated[i]]
        if diff:
            assert diff[-1] - diff[0] < 4  # one field of at most four bytes
            differing.add(diff[0])
    starts = [original.find(LFH), original.find(CDH)]
    assert any(start <= at < start + 46 for at in differing for start in starts)


def test_xml_namespace_swap_reaches_strict_and_char_refs_encode() -> None:
    xml = minimal_docx()
    document = dict((i.filename, d) for i, d in read_entries(xml) or [])["word/document.xml"]
    swapped = XmlMutator.namespace_swap(document.decode(), rng(1))
    assert "http://purl.oclc.org/ooxml/wordprocessingml/main" in swapped
    referenced = XmlMutator.char_refs(document.decode(), rng(3))
    assert "&#" in referenced


def test_mime_nesting_builds_the_requested_depth() -> None:
    source = mails()["plain.eml"]
    for seed in range(30):
        mutated = MimeMutator.nesting(source, rng(seed))
        depth = mutated.count(b"Content-Type: multipart/mixed") + mutated.count(b"Content-Type: message/rfc822")
        assert depth in (2, 19, 20, 21, 25, 60, 300, 1000, 2000)
        if depth == 2:
            message = email.message_from_bytes(mutated)
            assert message.is_multipart()
            assert "hello" in mutated.decode()


def test_mime_boundary_and_encoding_mutations_change_the_structure() -> None:
    source = mails()["multipart.eml"]
    outputs = {MimeMutator.boundary(source, rng(seed)) for seed in range(20)}
    assert len(outputs) > 5 and source not in outputs
    encoded = MimeMutator.transfer_encoding(source, rng(2))
    assert encoded.count(b"Content-Transfer-Encoding:") >= 1 and encoded != source


def test_png_crc_fixup_makes_every_chunk_valid() -> None:
    png = bytearray(small_images()["s.png"])
    png[20] ^= 0xFF  # inside IHDR
    fixed = fix_png_crcs(bytes(png))
    at = 8
    while at < len(fixed):
        (length,) = struct.unpack_from(">I", fixed, at)
        body = fixed[at + 4:at + 8 + length]
        assert struct.unpack_from(">I", fixed, at + 8 + length)[0] == zlib.crc32(body) & 0xFFFFFFFF
        at += 12 + length


def test_tar_checksum_fixup_is_accepted_by_tarfile() -> None:
    import tarfile

    tar = bytearray(archives()["small.tar"])
    tar[0:5] = b"AAAAA"
    fixed = fix_tar_checksums(bytes(tar))
    with tarfile.open(fileobj=io.BytesIO(fixed)) as archive:
        assert archive.getnames()[0].startswith("AAAAA")


def test_smart_mutator_keeps_lineage_and_stays_within_size() -> None:
    lineage = Lineage()
    seed = minimal_docx()
    lineage.seed(seed, "tiny.docx")
    mutator = SmartMutator(TARGETS["ooxml"], lambda data, size: data[:size][::-1], lineage)
    data = seed
    for step in range(20):
        data = mutator(data, 128 * 1024, step)
        assert len(data) <= 128 * 1024
        origin, ops = lineage.of(data)
        assert origin == "tiny.docx" and ops
    assert mutator.errors == 0
    assert zipfile.is_zipfile(io.BytesIO(seed))


def test_unencodable_field_names_the_report_field() -> None:
    report = {"headers": {"subject": "ok"}, "attachments": [{"name": "a\udcff"}]}
    assert unencodable_field(report) == ".attachments[].name"
    assert unencodable_field({"a": "fine"}) == ""
