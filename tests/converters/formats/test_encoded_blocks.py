"""Encoded files in text (uuencode, begin-base64, yEnc, BinHex 4.0) are found anywhere: any line end,
with or without an end line, far into the text, inside Japanese text; prose saying "begin" is not one.

The payloads are executable-looking (PE and ELF headers) and encoded here by independent encoders:
binascii for uuencode and base64, small yEnc and BinHex 4.0 encoders written from the formats."""

from __future__ import annotations

import base64
import binascii
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from converters.formats import encoded_blocks
from converters.formats.encoded_blocks import EncodedBlock, binhex_name, find_blocks, first_in_file, remove_blocks
from converters.mail.split import split_mail

PROSE_JA = "令和8年度 予算要求について ①㈱ 髙橋 ﾃｽﾄ\n各課は begin 前に確認してください。\n"
PROSE_EN = "Dear colleagues,\nPlease begin the review before Friday.\n"


def pe_payload() -> bytes:
    """An executable-looking file: DOS header, stub message, PE signature and section names."""
    dos = bytearray(b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(46))
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    body = bytes(dos) + stub
    body += bytes(0x80 - len(body)) + b"PE\x00\x00\x4c\x01\x03\x00" + bytes(240) + b".text\x00\x00\x00"
    return body + bytes(range(256)) * 3 + b"\x90\x90\x90\x90" * 8


def elf_payload() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(44) + bytes(range(255, -1, -1)) * 2


def uuencode(data: bytes, name: str, eol: str = "\n", end: bool = True) -> str:
    lines = [f"begin 644 {name}"]
    lines += [binascii.b2a_uu(data[i:i + 45]).decode("ascii").rstrip("\n") for i in range(0, len(data), 45)]
    if end:
        lines += ["`", "end"]
    return eol.join(lines) + eol


def uuencode_base64(data: bytes, name: str, eol: str = "\n", end: bool = True) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    lines = [f"begin-base64 644 {name}"] + [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    if end:
        lines.append("====")
    return eol.join(lines) + eol


def yenc(data: bytes, name: str, eol: str = "\n", end: bool = True) -> str:
    """yEnc 1.3: each byte + 42, the critical characters (NUL, LF, CR, =) escaped; Latin-1 text."""
    out: list[str] = []
    line = ""
    for byte in data:
        value = (byte + 42) % 256
        line += f"={chr((value + 64) % 256)}" if value in (0, 10, 13, 61) else chr(value)
        if len(line) >= 128:
            out.append(line)
            line = ""
    if line:
        out.append(line)
    lines = [f"=ybegin line=128 size={len(data)} name={name}", *out]
    if end:
        lines.append(f"=yend size={len(data)} crc32={binascii.crc32(data):08x}")
    return eol.join(lines) + eol


def binhex(data: bytes, name: str, eol: str = "\n", comment: bool = True) -> str:
    """BinHex 4.0: header, data fork and empty resource fork with CRC-CCITT, 0x90 escaped, 6-bit text."""

    def crc(part: bytes) -> bytes:
        return struct.pack(">H", binascii.crc_hqx(part + b"\x00\x00", 0))

    raw_name = name.encode("mac_roman")
    header = bytes([len(raw_name)]) + raw_name + b"\x00" + b"APPL" + b"????" + b"\x00\x00"
    header += struct.pack(">II", len(data), 0)
    stream = header + crc(header) + data + crc(data) + crc(b"")
    stream = stream.replace(b"\x90", b"\x90\x00")
    bits = "".join(f"{byte:08b}" for byte in stream)
    bits += "0" * (-len(bits) % 6)
    chars = "".join(encoded_blocks.BINHEX_ALPHABET[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))
    text = ":" + chars + ":"
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    if comment:
        lines.insert(0, "(This file must be converted with BinHex 4.0)")
    return eol.join(lines) + eol


ENCODERS: dict[str, Callable[..., str]] = {"uuencode": uuencode, "uuencode-base64": uuencode_base64, "yenc": yenc}


def encoded_lines(encoded: str) -> list[str]:
    """The encoded data lines (not the short terminators) that must not survive."""
    return [line for line in encoded.splitlines() if len(line) > 8]


@pytest.mark.parametrize("kind", sorted(ENCODERS))
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("end", [True, False])
def test_blocks_are_found_with_any_line_end_with_or_without_end(kind: str, eol: str, end: bool) -> None:
    encoded = ENCODERS[kind](pe_payload(), "請求書.exe", eol=eol, end=end)
    before = PROSE_JA.replace("\n", eol) * 3
    after = "" if kind == "yenc" and not end else PROSE_EN.replace("\n", eol)
    text = before + encoded + after
    [block] = find_blocks(text)
    assert (block.kind, block.name) == (kind, "請求書.exe")
    assert text[block.start:block.end] == encoded
    cleaned = remove_blocks(text, [block], lambda b: "[removed]" + eol)
    assert cleaned == before + "[removed]" + eol + after
    assert not any(line in cleaned for line in encoded_lines(encoded))


def test_yenc_without_end_runs_to_the_end_of_the_text() -> None:
    encoded = yenc(elf_payload(), "tool", end=False)
    text = PROSE_JA + encoded + PROSE_EN
    [block] = find_blocks(text)
    assert (block.start, block.end, block.name) == (len(PROSE_JA), len(text), "tool")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("comment", [True, False])
def test_binhex_blocks_and_their_names(eol: str, comment: bool) -> None:
    encoded = binhex(pe_payload(), "invoice.exe", eol=eol, comment=comment)
    text = PROSE_EN.replace("\n", eol) + encoded + PROSE_JA.replace("\n", eol)
    [block] = find_blocks(text)
    assert (block.kind, block.name) == ("binhex", "invoice.exe")
    assert text[block.start:block.end] == encoded


def test_binhex_name_is_read_through_run_length_escapes() -> None:
    encoded = binhex(b"\x90" * 10, "\x90-file.exe".encode("latin-1").decode("mac_roman"), comment=False)
    assert binhex_name(encoded.strip().strip(":").replace("\n", "")) == "\x90-file.exe".encode(
        "latin-1").decode("mac_roman")


def test_full_uuencoded_lines_without_a_begin_line_are_a_block() -> None:
    encoded = uuencode(pe_payload(), "x.exe")
    headerless = encoded.split("\n", 1)[1]
    text = PROSE_JA + headerless + PROSE_EN
    [block] = find_blocks(text)
    assert (block.kind, block.name, text[block.start:block.end]) == ("uuencode", "", headerless)


def test_a_begin_line_followed_by_junk_then_data_still_loses_the_data() -> None:
    """Lenient decoders skip a junk line after the header; the full data lines are a block of their own."""
    encoded = uuencode(pe_payload(), "x.exe")
    header, rest = encoded.split("\n", 1)
    text = f"{header}\nnot data here\n{rest}"
    blocks = find_blocks(text)
    assert [b.kind for b in blocks] == ["uuencode"]
    assert not any(line in remove_blocks(text, blocks, lambda b: "") for line in encoded_lines(rest))


@pytest.mark.parametrize("text", [
    PROSE_JA + PROSE_EN,
    "begin 2024 年度の計画\n4月から開始します。\nend\n",
    "begin 100 tasks today\nthen we stop.\nend of story\n",
    "Let's begin.\nbegin\nbegin 644\n",
    ":) ありがとう\n::1 localhost\n:ABCD:\n",
    "=ybegin is the yEnc header word\n",
    "(This file must be converted with BinHex 4.0)\nno data follows, only prose\n",
    "MEETING NOTES\n" + "M" * 61 + "\nmore prose\n",
    "議事録\r\nbegin 755 の権限で作成\r\n以上\r\n",
])
def test_prose_is_not_an_encoded_file(text: str) -> None:
    assert find_blocks(text) == []


@pytest.mark.parametrize("chunk", [7, 64, 61, 62, 1000])
def test_chunk_boundaries_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    text = (PROSE_JA * 20 + uuencode(pe_payload(), "a.exe", "\r\n") + PROSE_EN + yenc(elf_payload(), "b")
            + PROSE_JA + binhex(elf_payload(), "c", "\r") + uuencode_base64(pe_payload(), "d", end=False)
            + "begin 2024 年度\r\n" + PROSE_EN)
    expected = find_blocks(text)
    assert [(b.kind, b.name) for b in expected] == [
        ("uuencode", "a.exe"), ("yenc", "b"), ("binhex", "c"), ("uuencode-base64", "d")]
    monkeypatch.setattr(encoded_blocks, "CHUNK_CHARS", chunk)
    assert find_blocks(text) == expected


@pytest.mark.parametrize("chunk", [4096, 1024 * 1024])
def test_a_block_far_into_a_file_is_found_by_streaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       chunk: int) -> None:
    monkeypatch.setattr(encoded_blocks, "CHUNK_CHARS", chunk)
    prose = (PROSE_JA * 4000).encode("cp932")
    assert len(prose) > 4 * 65536
    source = tmp_path / "note.txt"
    source.write_bytes(prose + uuencode(pe_payload(), "invoice.exe", "\r\n", end=False).encode() + prose)
    block = first_in_file(source)
    assert block is not None and (block.start, block.kind, block.name) == (len(prose), "uuencode", "invoice.exe")
    source.write_bytes(prose * 2)
    assert first_in_file(source) is None


def test_time_stays_linear_on_many_begin_lines_without_end() -> None:
    """The old mail regex scanned from every "begin" to the end of the text (quadratic)."""
    data = binascii.b2a_uu(bytes(range(45))).decode("ascii")
    text = ("begin 644 x\n" + data + "本文\n") * 40_000  # 40,000 blocks, no end line, ~3.4 MB
    started = time.monotonic()
    blocks = find_blocks(text)
    assert len(blocks) == 40_000 and all(isinstance(b, EncodedBlock) for b in blocks)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("end", [True, False])
def test_mail_bodies_lose_every_kind_of_encoded_file(tmp_path: Path, eol: str, end: bool) -> None:
    payload = pe_payload()
    encoded = {"uu": uuencode(payload, "invoice.exe", eol, end),
               "b64": uuencode_base64(payload, "tool.exe", eol, end),
               "bh": binhex(payload, "mac.exe", eol),
               "y": yenc(payload, "news.exe", eol, end)}
    text = eol.join(["お世話になっております。", encoded["uu"], "以上です。", encoded["b64"], encoded["bh"],
                     "よろしくお願いします。", encoded["y"]])
    raw = ("From: a@example.co.jp\r\nTo: b@city.example.lg.jp\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    result = split_mail(raw.encode("ascii") + text.replace("お世話になっております。", "Hello").replace(
        "以上です。", "Regards").replace("よろしくお願いします。", "Bye").encode("latin-1"), tmp_path)
    body = (tmp_path / "body.txt").read_text(encoding="utf-8")
    assert "Hello" in body and "Regards" in body and "Bye" in body
    for name, block in encoded.items():
        assert not any(line in body for line in encoded_lines(block)), name
    assert find_blocks(body) == []
    removed = sorted(d["name"] for d in result["dropped"] if d["reason_code"] == "encoded_file_removed")
    assert removed == ["invoice.exe", "mac.exe", "news.exe", "tool.exe"]
    assert {"code": "encoded_file_removed", "detail": "binhex: mac.exe"} in result["findings"]


@pytest.mark.parametrize("charset", ["iso-2022-jp", "shift_jis"])
def test_japanese_mail_body_with_crlf_uuencode_after_64_kib(tmp_path: Path, charset: str) -> None:
    encoded = uuencode(elf_payload(), "請求書.exe", "\r\n", end=False)
    prose = "お世話になっております。総務課の高橋です。\r\n" * 3000
    text = prose + encoded + "以上、よろしくお願いいたします。\r\n"
    codec = "cp932" if charset == "shift_jis" else "iso2022_jp"
    header = (f"From: a@example.co.jp\r\nTo: b@city.example.lg.jp\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
              f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    data = text.encode(codec)
    assert data.index(b"begin 644") > 65536
    result = split_mail(header.encode("ascii") + data, tmp_path)
    body = (tmp_path / "body.txt").read_text(encoding="utf-8")
    assert body.startswith("お世話になっております。") and "以上、よろしくお願いいたします。" in body
    assert not any(line in body for line in encoded_lines(encoded))
    assert [d["name"] for d in result["dropped"]] == ["請求書.exe"]
