"""Text, CSV and HTML contract: exact Japanese text in UTF-8, formulas neutralised, no markup."""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
from pathlib import Path

import pytest

from converters.base import Report
from converters.detect import detect
from converters.formats.text import READINGS, _field_values, is_formula, neutralise_cell, neutralise_every_reading
from converters.inspect.outputs import inspect_file
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
    from tests.converters.formats.test_encoded_blocks import binhex, pe_payload, uuencode, uuencode_base64, yenc

    payload = pe_payload()
    if kind == "binhex":
        return binhex(payload, "invoice.exe", eol)
    encoder = {"uuencode": uuencode, "uuencode-base64": uuencode_base64, "yenc": yenc}[kind]
    return str(encoder(payload, "invoice.exe", eol=eol, end=False))


def _assert_nothing_of_it_written(out: Path, encoded: str) -> None:
    from tests.converters.formats.test_encoded_blocks import encoded_lines, pe_payload

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


REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"


def _convert(tmp_path: Path, name: str, data: bytes) -> tuple[Report, bytes]:
    source = tmp_path / "in" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    report = run_engine(source, tmp_path / "out")
    written = (tmp_path / "out" / report.outputs[0].path).read_bytes() if report.outputs else b""
    return report, written


def _formula_fields(text: str) -> list[tuple[str, str]]:
    return [(delimiter, cell) for delimiter in (",", "\t", ";")
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            for cell in row if is_formula(cell)]


@pytest.mark.parametrize(("data", "rows"), [
    (b";-\n@", [[";'-"], ["'@"]]),  # fuzz b81d0aca85ee: "-" starts a field when Excel splits at ";"
    (b"-5,abc\r\n", [["'-5", "abc"]]),  # "-5,abc" is one formula cell where the list separator is ";"
    (b"-5,1+cmd|' /C calc'!A0\r\n", [["'-5", "1+cmd|' /C calc'!A0"]]),  # "-5,1" is a number there
    (b"a\tb\r\n\tc\r\n", [["a", "b"], ["'", "c"]]),  # a tab-separated row with an empty first cell
])
def test_csv_fields_starting_a_formula_in_any_reading_are_neutralised(tmp_path: Path, data: bytes,
                                                                      rows: list[list[str]]) -> None:
    report, written = _convert(tmp_path, "data.csv", data)
    assert report.outcome == "sanitized"
    text = written.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    assert _formula_fields(text) == []
    delimiter = "\t" if b"\t" in data else ","
    assert list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)) == rows
    assert inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path).clean


def test_csv_cells_stay_where_excel_reads_them_when_a_cell_holds_semicolons(tmp_path: Path) -> None:
    """Semicolons inside cells once made the delimiter guess ";" and the file was written anew with it:
    a quoted cell followed by ",y" became one cell, and bare quotes moved. Only apostrophes are added now."""
    source = ('氏名,メモ\r\n"line1\n=cmd|\' /C calc\'!A0",y\r\n'
              'DDE("cmd";"/C calc";"!A0"),v\r\n山田;佐藤,=1+1\r\n')
    report, written = _convert(tmp_path, "list.csv", source.encode("cp932"))
    assert report.outcome == "sanitized"
    text = written.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    assert text == source.replace(",=1+1", ",'=1+1")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["氏名", "メモ"], ["line1\n=cmd|' /C calc'!A0", "y"], ['DDE("cmd";"/C calc";"!A0")', "v"],
        ["山田;佐藤", "'=1+1"]]
    assert _formula_fields(text) == []
    assert inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path).clean
    # "=1" starts no field in any reading (quoted, then ",y" joins it in the ";" reading): left alone
    plain, written = _convert(tmp_path / "plain", "plain.csv", '"x;=1",y\r\n山田,-12.5\r\n'.encode())
    assert plain.outcome == "passed" and written.decode("utf-8-sig") == '"x;=1",y\r\n山田,-12.5\r\n'


def test_csv_separator_named_on_the_first_line_is_a_reading_too(tmp_path: Path) -> None:
    """Excel splits a file whose first line is "sep=|" at "|": "a|=cmd..." is a formula in its second cell."""
    report, written = _convert(tmp_path, "sep.csv", b"sep=|\r\na|=cmd|' /C calc'!A0|b\r\n")
    text = written.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    assert report.outcome == "sanitized" and text == "sep=|\r\na|'=cmd|' /C calc'!A0|b\r\n"
    assert inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path).clean
    quote, _ = _convert(tmp_path / "quote", "q.csv", b'sep="\r\na"=1\r\n')
    assert (quote.outcome, quote.reason_code) == ("blocked", "corrupt_file")


def test_inspector_reads_a_csv_at_the_separator_its_first_line_names(tmp_path: Path) -> None:
    path = tmp_path / "sep.csv"
    path.write_bytes(b"\xef\xbb\xbfsep=|\r\na|=cmd|' /C calc'!A0\r\n")
    assert "csv_formula_cell" in inspect_file(path, tmp_path).problems


def test_field_values_are_read_where_csv_reader_reads_them() -> None:
    """The offsets the apostrophes go to come from a copy of csv.reader's state machine: compare."""
    rng = random.Random(15)  # noqa: S311 - reproducible test data
    alphabet = ["a", "-", "=", '"', ",", ";", "\t", "\r", "\n", "\r\n", "5", "@", " ", "＝", "'"]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for delimiter in READINGS:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
            if len(rows) == 1:
                fields = _field_values(text, delimiter)
                assert [value for _, value in fields] == rows[0], (text, delimiter)
                assert all(text[where] == value[0] or value[0] == '"' for where, value in fields if value)
        assert _formula_fields(neutralise_every_reading(text)[0]) == [], text


def test_a_csv_cell_past_the_reader_limit_is_blocked_not_crashed(tmp_path: Path) -> None:
    report, _ = _convert(tmp_path, "wide.csv", b'a,"' + b"x" * 200_000 + b'"\r\n')
    assert (report.outcome, report.reason_code) == ("blocked", "limit_exceeded")


@pytest.mark.parametrize(("name", "entry"), [("formula.csv", "b225d2448104-text.bin"),
                                             ("csv-formula.csv", "01239747b93c-text.bin")])
def test_markup_in_text_and_csv_is_written_as_fullwidth(tmp_path: Path, name: str, entry: str) -> None:
    """Past libmagic's first 4 KiB ("</script><script>") or "<ahref=" that makes libmagic say text/html."""
    report, written = _convert(tmp_path, name, (REGRESSIONS / entry).read_bytes())
    assert report.outcome == "sanitized" and "text_markup_neutralised" in {f.code for f in report.findings}
    assert re.search(r"<\s*[!?/A-Za-z]", written.decode("utf-8")) is None and "\uff1c" in written.decode("utf-8")
    assert inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path).clean


def test_plain_text_keeps_addresses_and_japanese_brackets(tmp_path: Path) -> None:
    text = "宛先: 山田 <taro@example.jp>\r\n<重要> 詳細は <https://www.example.jp/a> へ。a < b、改行は<br>\r\n"
    report, written = _convert(tmp_path, "memo.txt", text.encode("cp932"))
    assert report.type == "text/plain" and report.outcome == "sanitized"
    assert written.decode("utf-8") == ("宛先: 山田 <taro@example.jp>\r\n<重要> 詳細は <https://www.example.jp/a> へ。"
                                       "a ＜ b、改行は＜br>\r\n")


@pytest.mark.parametrize(("name", "data", "found"), [
    ("image.txt", b"\x1bGIF8", "image/gif"),  # fuzz 2f63e5d6b441: the escape removed, a GIF signature is left
    ("page.html", b"%<html><script>alert(1)</script></html>PDF-1.4\n%%EOF", "application/pdf"),  # fba14edb127c
    ("exe.txt", b"\x1bMZ hello\n", "application/x-dosexec"),  # as an input starting with "MZ" is
])
def test_text_that_reads_as_another_format_once_cleaned_is_blocked(tmp_path: Path, name: str, data: bytes,
                                                                   found: str) -> None:
    report, _ = _convert(tmp_path, name, data)
    assert (report.outcome, report.reason_code, report.outputs) == ("blocked", "corrupt_file", [])
    assert found in (report.reason or "")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("short.txt", b"8\x1b", b"8"),  # fuzz 4b2190bd0048: one byte, which libmagic cannot type
    ("bom.txt", b"\xef\xbb\xbf\xe6\xb8\x88", "済".encode()),
    ("page.html", b"<a href=>&#X1B", b"\n"),  # fuzz ed5f21a95349
    ("data.json", b'{"a": 1, "b": [1, 2]}\n', b'{"a": 1, "b": [1, 2]}\n'),  # libmagic: application/json
])
def test_short_and_json_text_outputs_pass_inspection(tmp_path: Path, name: str, data: bytes, expected: bytes) -> None:
    report, written = _convert(tmp_path, name, data)
    assert report.outcome in ("passed", "sanitized") and written == expected
    verdict = inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path)
    assert (verdict.clean, verdict.type) == (True, "text/plain")


def test_a_one_byte_output_that_is_not_clean_text_stays_untyped(tmp_path: Path) -> None:
    odd = tmp_path / "odd.txt"
    odd.write_bytes(b"\x0b")
    assert inspect_file(odd, tmp_path).type == "application/octet-stream"
    assert not inspect_file(odd, tmp_path).clean


def test_a_csv_field_past_the_reader_limit_is_an_inspector_problem_not_a_crash(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["12345"] * 30_000) + "\r\n", encoding="utf-8")  # one ";" field of 180,000 characters
    problems = inspect_file(wide, tmp_path).problems
    assert [p.split(":")[0] for p in problems] == ["csv_unreadable"]
