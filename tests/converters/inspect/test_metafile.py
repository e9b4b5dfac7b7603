"""The inspector's own reading of EMF and WMF pictures (converters/inspect/metafile.py): what the
metafile rewrite writes passes; an output that still carries an escape, a comment (EMF+), a
colour profile or colour space, OpenGL, an unknown record, a JPEG/PNG or lying bitmap, or counts
beyond its record is flagged - alone, inside a docx and inside an odt."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from converters.formats.metafile import rewrite_emf, rewrite_wmf
from converters.inspect.metafile import emf_problems, wmf_problems
from converters.inspect.odf_parts import picture_problems
from converters.inspect.outputs import inspect_file
from tests.converters.formats.test_metafile import (
    EMF_PLUS_RED_FILL,
    PIXELS,
    TILE,
    WMF_ESCAPES,
    benign_emf_records,
    benign_wmf_records,
    colour_space,
    dib,
    docx_with_picture,
    emf,
    emf_plus,
    emf_plus_header,
    escapes_emf,
    icm_profile,
    jpeg_stretch,
    lying_height_stretch,
    polygon16,
    rec,
    rectangle,
    rewritten,
    stretch_dibits,
    text,
    wmf,
    wmf_stretch_dib,
    wrec,
)


def test_what_the_rewrite_writes_passes() -> None:
    hostile_emf = emf([emf_plus_header(dual=True), icm_profile(), *colour_space(), *escapes_emf(), jpeg_stretch(),
                       lying_height_stretch(), *benign_emf_records()])
    assert emf_problems(rewritten(rewrite_emf(hostile_emf, PIXELS)).data) == []
    assert wmf_problems(rewritten(rewrite_wmf(wmf(WMF_ESCAPES + benign_wmf_records()), PIXELS)).data) == []
    assert emf_problems(emf(benign_emf_records())) == [] and wmf_problems(wmf(benign_wmf_records())) == []


@pytest.mark.parametrize(("records", "problem"), [
    ([emf_plus_header(dual=True), emf_plus(EMF_PLUS_RED_FILL)], "metafile comment (GDI comment or EMF+)"),
    (escapes_emf()[:1], "metafile escape (EMR_EXTESCAPE)"),
    (escapes_emf()[1:2], "metafile escape (EMR_DRAWESCAPE)"),
    (escapes_emf()[2:], "metafile escape (EMR_NAMEDESCAPE)"),
    ([icm_profile()], "metafile colour profile record (file name)"),
    (colour_space()[:1], "metafile colour space record (file name)"),
    ([rec(121, struct.pack("<IIII", 1, 0, 8, 0) + bytes(8))], "metafile colour match record (file name)"),
    ([rec(102, struct.pack("<I", 8) + bytes(8))], "metafile OpenGL record"),
    ([rec(104, bytes(40))], "metafile pixel format record"),
    ([rec(119, struct.pack("<II", 1, 0))], "metafile font mapping record"),
    ([rec(117, bytes(8))], "metafile record type 117 not allowed"),
    ([rec(43, bytes(8))], "metafile record type 43 shorter than its type"),
    ([jpeg_stretch()], "metafile bitmap holding a JPEG or PNG"),
    ([lying_height_stretch()], "metafile bitmap bits shorter than its size"),
    ([polygon16([(0, 0), (9, 9), (0, 9)], count=5000)], "metafile point count beyond its record"),
])
def test_an_emf_output_still_carrying_a_record_is_flagged(records: list[bytes], problem: str) -> None:
    assert emf_problems(emf([rectangle(0, 0, 9, 9), *records])) == [problem]


def test_emf_bitmaps_and_text_must_fit_their_records() -> None:
    info, bits = dib(4, 4, TILE)
    v4 = struct.pack("<I", 108) + info[4:] + bytes(68)  # a V4 header: colour space fields, a linked profile
    beyond = bytearray(stretch_dibits((0, 0, 9, 9), info, bits))
    struct.pack_into("<I", beyond, 60, 10_000)  # cbBitsSrc past the record
    words = bytearray(text(0, 0, "abc"))
    struct.pack_into("<I", words, 44, 400)  # 400 characters in a record holding 3
    assert emf_problems(emf([stretch_dibits((0, 0, 9, 9), v4, bits)])) == ["metafile bitmap header of 108 bytes"]
    assert emf_problems(emf([bytes(beyond)])) == ["metafile bitmap beyond its record"]
    assert emf_problems(emf([bytes(words)])) == ["metafile text beyond its record"]


def test_an_emf_without_its_end_or_with_data_after_it_is_flagged() -> None:
    good = emf(benign_emf_records())
    assert emf_problems(good[:-20]) == ["metafile without its end record"]
    assert emf_problems(good + b"<html>") == ["data after the image"]
    assert emf_problems(good[:40] + b"XEMF" + good[44:]) == ["bytes are not EMF"]


@pytest.mark.parametrize(("records", "problem"), [
    (WMF_ESCAPES[:1], "metafile abort procedure (SETABORTPROC)"),
    (WMF_ESCAPES[1:2], "metafile escape record"),
    ([wrec(0x06FF, bytes(22))], "metafile record function 0x06FF not allowed"),
    ([wrec(0x0922, bytes(20))], "metafile record function 0x0922 not allowed"),
    ([wrec(0x041B, bytes(4))], "metafile record function 0x041B shorter than its function"),
    ([wrec(0x0538, struct.pack("<HHH", 1, 900, 0))], "metafile point count beyond its record"),
    ([wmf_stretch_dib(dib(4, 4, TILE)[0][:16] + struct.pack("<I", 5) + dib(4, 4, TILE)[0][20:], bytes(20),
                      (0, 0, 9, 9))], "metafile bitmap holding a JPEG or PNG"),
    ([wmf_stretch_dib(dib(4, 4, TILE)[0], bytes(20), (0, 0, 9, 9))], "metafile bitmap bits shorter than its size"),
])
def test_a_wmf_output_still_carrying_a_record_is_flagged(records: list[bytes], problem: str) -> None:
    assert wmf_problems(wmf([wrec(0x041B, struct.pack("<hhhh", 9, 9, 0, 0)), *records])) == [problem]


def test_a_wmf_placeable_header_must_add_up() -> None:
    good = bytearray(wmf(benign_wmf_records()))
    assert wmf_problems(bytes(good)) == []
    good[20] ^= 1
    assert wmf_problems(bytes(good)) == ["metafile placeable header checksum wrong"]


def test_a_document_output_with_a_hostile_metafile_is_not_clean(tmp_path: Path) -> None:
    hostile = emf([emf_plus_header(dual=True), icm_profile(), *benign_emf_records()])
    verdict = inspect_file(docx_with_picture(tmp_path / "hostile.docx", hostile, "emf"), tmp_path)
    assert not verdict.clean
    assert any("metafile comment" in problem for problem in verdict.problems)
    assert any("colour profile" in problem for problem in verdict.problems)
    clean = rewritten(rewrite_emf(hostile, PIXELS)).data
    assert inspect_file(docx_with_picture(tmp_path / "clean.docx", clean, "emf"), tmp_path).clean
    with zipfile.ZipFile(tmp_path / "clean.docx") as package:
        assert package.read("word/media/image1.emf") == clean


def test_the_odf_inspector_reads_metafile_pictures_the_same_way() -> None:
    hostile = wmf(WMF_ESCAPES + benign_wmf_records())
    assert picture_problems("Pictures/a.wmf", hostile) == [
        "metafile abort procedure (SETABORTPROC) in Pictures/a.wmf", "metafile escape record in Pictures/a.wmf"]
    assert picture_problems("Pictures/a.wmf", rewritten(rewrite_wmf(hostile, PIXELS)).data) == []
    assert picture_problems("Pictures/b.emf", emf(escapes_emf()[:1] + benign_emf_records())) == [
        "metafile escape (EMR_EXTESCAPE) in Pictures/b.emf"]
