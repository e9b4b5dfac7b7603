"""The mail split (converters/mail/split.py): what the body text may carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.mail.split import split_mail

HEAD = "From: a@example.jp\r\nTo: b@city.example.lg.jp\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


@pytest.mark.parametrize("ctype", ["text/plain", "text/html"])
def test_shares_and_file_urls_in_the_body_text_are_not_links(tmp_path: Path, ctype: str) -> None:
    """Outlook turns "\\\\host\\share" and "file://" in plain text into links (a click opens the share,
    sending the user's credentials); they stay readable but are no longer written that way."""
    raw = (HEAD + f"Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "資料は \\\\198.51.100.7\\共有\\請求書.exe と file://198.51.100.7/s/a.lnk です\r\n").encode("utf-8")
    for defang in (True, False):
        split_mail(raw, tmp_path, defang=defang)
        body = (tmp_path / "body.txt").read_text(encoding="utf-8")
        assert "資料は ＼＼198.51.100.7\\共有\\請求書.exe と file[:]//198.51.100.7/s/a.lnk です" in body


def test_web_addresses_in_a_plain_text_body_are_defanged_as_html_links_are(tmp_path: Path) -> None:
    """defang_links covers what a mail client links in plain text too: a URL with its scheme, or from www."""
    raw = (HEAD + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "詳細は https://www.city.example.lg.jp/info/a.html をご覧ください。www.example.jp/申請 も。\r\n"
           "連絡先 taro@example.jp\r\n").encode("utf-8")
    split_mail(raw, tmp_path, defang=True)
    body = (tmp_path / "body.txt").read_text(encoding="utf-8")
    assert "詳細は hxxps://www[.]city[.]example[.]lg[.]jp/info/a.html をご覧ください。" in body
    assert "www[.]example[.]jp/申請 も。" in body and "taro@example.jp" in body
    split_mail(raw, tmp_path, defang=False)
    assert "https://www.city.example.lg.jp/info/a.html" in (tmp_path / "body.txt").read_text(encoding="utf-8")
