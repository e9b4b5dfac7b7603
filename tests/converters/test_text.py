"""Text, CSV and HTML contract: exact Japanese text in UTF-8, formulas neutralised, no markup."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

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
