"""Text, CSV and HTML contract: exact Japanese text in UTF-8, formulas neutralised, no markup."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest

from converters.detect import detect
from converters.inspect import inspect_file
from converters.text import neutralise_cell
from tests.conftest import run_engine

EXPECTED = "令和8年度 情報セキュリティ対策基準 ①㈱ 髙橋 ～ ﾃｽﾄ\r\n住所: 東京都千代田区 ㈱サンプル ①②③\r\n"


@pytest.mark.parametrize("sample", ["txt-utf8.txt", "txt-cp932.txt"])
def test_text_is_written_as_exact_utf8(samples: Path, tmp_path: Path, sample: str) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert report.outcome == "passed"
    assert (tmp_path / report.outputs[0].path).read_bytes().decode("utf-8") == EXPECTED


def test_iso2022jp_and_eucjp_text(samples: Path, tmp_path: Path) -> None:
    iso = run_engine(samples / "txt-iso2022jp.txt", tmp_path / "iso")
    assert (tmp_path / "iso" / iso.outputs[0].path).read_text(encoding="utf-8") == "お知らせ①㈱ (NEC) ﾃﾄ\n"
    euc = run_engine(samples / "txt-eucjp.txt", tmp_path / "euc")
    assert (tmp_path / "euc" / euc.outputs[0].path).read_text(encoding="utf-8") == (
        "令和8年度 情報セキュリティ 高橋 テスト ｶﾅ\n")
    assert {f.detail for f in euc.findings} == {"euc-jp to UTF-8"}


def test_csv_formulas_are_neutralised_and_bom_written(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "csv-formula.csv", tmp_path)
    assert report.outcome == "sanitized"
    data = (tmp_path / report.outputs[0].path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    assert rows[0] == ["氏名", "金額", "メモ"]
    assert rows[1] == ["山田", "-12.5", "通常"]
    assert rows[2][1].startswith("'=HYPERLINK") and rows[2][2].startswith("'+cmd")
    assert rows[3] == ["'@SUM(1+1)", "'-2+3", "'＝1+1"]
    assert inspect_file(tmp_path / report.outputs[0].path, tmp_path).clean


@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+1", "'=1+1"), ("-5", "-5"), ("+81", "+81"), ("-A1", "'-A1"), ("\t=x", "'\t=x"), ("abc", "abc"),
])
def test_neutralise_cell(cell: str, expected: str) -> None:
    assert neutralise_cell(cell)[0] == expected


def test_html_disguised_as_text_becomes_plain_text(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "html-disguised.txt", tmp_path)
    assert report.type == "text/html" and report.outcome == "sanitized"
    text = (tmp_path / report.outputs[0].path).read_text(encoding="utf-8")
    assert "<" not in text and "alert" not in text
    assert "ご案内" in text and "ログイン (hxxps://example[.]com/login)" in text


@pytest.mark.parametrize("sample", ["js-script.js", "vbs-script.vbs", "ps1-script.ps1", "bat-script.bat",
                                    "hta-script.hta", "sh-script.txt"])
def test_scripts_are_blocked(samples: Path, tmp_path: Path, sample: str) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "script")


@pytest.mark.parametrize("name", ["請求書.js.", "invoice.vbs ", "setup.settingcontent-ms", "x.js\u200b",
                                  "a" * 300 + ".js", "dir/" + "b" * 250 + ".vbs"])
def test_script_names_windows_would_run_are_blocked(samples: Path, tmp_path: Path, name: str) -> None:
    """Windows drops trailing dots and spaces, so "x.js." runs as a script; long extensions count too."""
    report = run_engine(samples / "csv-formula.csv", tmp_path, name=name)
    assert (report.outcome, report.reason_code) == ("blocked", "script")


ENCODED_TEXT_CASES = ["uuencode", "uuencode-base64", "yenc", "binhex"]


def _encoded(kind: str, eol: str) -> str:
    from tests.converters.test_encoded_blocks import binhex, pe_payload, uuencode, uuencode_base64, yenc

    payload = pe_payload()
    if kind == "binhex":
        return binhex(payload, "invoice.exe", eol)
    encoder = {"uuencode": uuencode, "uuencode-base64": uuencode_base64, "yenc": yenc}[kind]
    return str(encoder(payload, "invoice.exe", eol=eol, end=False))


def _assert_nothing_of_it_written(out: Path, encoded: str) -> None:
    from tests.converters.test_encoded_blocks import encoded_lines, pe_payload

    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert pe_payload()[:64] not in written and b"This program cannot be run" not in written
    assert not any(line.encode("latin-1") in written for line in encoded_lines(encoded))


@pytest.mark.parametrize("kind", ENCODED_TEXT_CASES)
@pytest.mark.parametrize(("codec", "eol"), [("cp932", "\r\n"), ("iso2022_jp", "\n"), ("utf-8", "\r")])
def test_text_carrying_an_encoded_file_past_64_kib_is_blocked(tmp_path: Path, kind: str, codec: str,
                                                             eol: str) -> None:
    """The old check read only the first 64 KiB, LF only: CRLF, no end line, yEnc and BinHex got through."""
    prose = f"令和8年度 予算要求について。各課は begin 前に確認してください。{eol}" * 2000
    encoded = _encoded(kind, eol)
    data = prose.encode(codec) + encoded.encode("latin-1") + "以上".encode(codec) + eol.encode()
    assert len(prose.encode(codec)) > 65536
    source = tmp_path / "お知らせ.txt"
    source.write_bytes(data)
    assert detect(source).type == {"uuencode": "text/x-uuencode", "uuencode-base64": "text/x-uuencode",
                                   "yenc": "text/x-yenc", "binhex": "application/mac-binhex40"}[kind]
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.reason_code, report.outputs) == ("blocked", "encoded_attachment", [])
    _assert_nothing_of_it_written(tmp_path / "out", encoded)


@pytest.mark.parametrize("kind", ["uuencode", "binhex"])
def test_encoded_file_only_visible_after_decoding_is_blocked(tmp_path: Path, kind: str) -> None:
    """UTF-16 text hides "begin" from a byte search; HTML and control characters can make one."""
    encoded = _encoded(kind, "\r\n")
    cases = {
        "utf16.txt": codecs.BOM_UTF16_LE + ("お知らせ\r\n" + encoded + "以上\r\n").encode("utf-16-le"),
        "page.html": ("<html><body><p>お知らせ</p><pre>" + encoded + "</pre></body></html>").encode(),
        "split.txt": ("お知らせ\r\n" + encoded.replace("begin", "be\x08gin").replace("(This", "(\x1bThis")
                      .replace("\r\n:", "\r\n\x0b:") + "以上\r\n").encode(),
    }
    for name, data in cases.items():
        source = tmp_path / name
        source.write_bytes(data)
        out = tmp_path / f"out-{name}"
        report = run_engine(source, out)
        assert (report.outcome, report.reason_code) == ("blocked", "encoded_attachment"), name
        _assert_nothing_of_it_written(out, encoded)


def test_prose_saying_begin_far_into_a_file_still_passes(tmp_path: Path) -> None:
    text = "議事録\r\n" + "本日の会議を始めます。\r\n" * 8000
    text += "begin 2024 年度の計画\r\n4月から開始します。\r\nend\r\n"
    source = tmp_path / "議事録.txt"
    source.write_bytes(text.encode("cp932"))
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "passed"
    assert (tmp_path / "out" / report.outputs[0].path).read_bytes().decode("utf-8") == text
