"""`gateway mail` on mails written the way real mailers write them: exact Japanese text, no active
content, a correct notice; hostile structures give the best safe text or a rejection."""

from __future__ import annotations

import email
import email.policy
import io
import json
import subprocess
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from oletools.olevba import VBA_Parser

from converters.formats.charset import encode_iso2022jp
from gateway.messages import REASONS

BODY = "お世話になっております。\n見積書①を添付します。㈱サンプル 髙橋\nﾃｽﾄ ～ 以上です。"
CONTRACT_FIELDS = {"input", "sha256", "message_id", "outcome", "subject", "from", "attachments", "findings", "reason"}


def run_mail(samples: Path, tmp_path: Path, name: str) -> tuple[dict[str, Any], EmailMessage | None]:
    out = tmp_path / f"{name}.out.eml"
    result = subprocess.run([sys.executable, "-m", "gateway", "mail", str(samples / name), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert CONTRACT_FIELDS <= set(summary)
    if not out.exists():
        return summary, None
    parsed = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return summary, parsed


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def attachments_of(message: EmailMessage, tmp_path: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for part in message.iter_attachments():
        name = str(part.get_filename())
        path = tmp_path / f"attached-{len(found)}-{name}"
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        path.write_bytes(data)
        found[name] = path
    return found


def test_outlook_iso2022jp_with_nec_characters_and_macro_attachment(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-outlook-iso2022jp.eml")
    assert message is not None and summary["outcome"] == "delivered"
    assert summary["subject"] == message["Subject"] == "【見積】①㈱サンプル御中 ﾃｽﾄ"
    assert message["From"].addresses[0].display_name == "髙橋 太郎"
    assert body_of(message).startswith(BODY)
    [attachment] = summary["attachments"]
    assert (attachment["input"], attachment["outcome"]) == ("見積書①.xlsm", "sanitized")
    attached = attachments_of(message, tmp_path)
    assert list(attached) == ["見積書①.xlsx"]
    assert not VBA_Parser(str(attached["見積書①.xlsx"])).detect_vba_macros()
    body = body_of(message)
    assert "見積書①.xlsm" in body and "無害化して添付" in body and "disarmed and attached" in body
    assert summary["reference"] in body
    assert "attachments-rebuilt" in message["X-Sanitized"]
    assert message["Authentication-Results"] and message["X-Mailer"] is None


def test_thunderbird_rfc2231_continuation_and_pdf_javascript(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-thunderbird-rfc2231.eml")
    assert message is not None and message["Subject"] == "事業計画書の送付"
    assert body_of(message).startswith("計画書を送付します。①～⑩")
    attached = attachments_of(message, tmp_path)
    assert list(attached) == ["令和8年度_事業計画書（案）.pdf"]
    javascript = subprocess.run(["pdfinfo", "-js", str(attached["令和8年度_事業計画書（案）.pdf"])],
                                capture_output=True, text=True, check=True).stdout
    assert "app.alert" not in javascript
    assert summary["attachments"][0]["verified"] is True


def test_alternative_prefers_plain_and_html_only_becomes_text(samples: Path, tmp_path: Path) -> None:
    _, alternative = run_mail(samples, tmp_path, "mail-gmail-alternative.eml")
    assert alternative is not None and body_of(alternative).startswith("ご案内 (プレーンテキスト版)")
    _, html = run_mail(samples, tmp_path, "mail-html-only.eml")
    assert html is not None
    text = body_of(html)
    assert "ご案内" in text and "こちら (hxxps://www[.]example[.]jp/info)" in text and "[画像: ロゴ]" in text
    assert "alert" not in text and "hidden" not in text and "<" not in text.split("---")[0]
    assert "html-to-text" in html["X-Sanitized"]


def test_shift_jis_label_and_raw_8bit_headers(samples: Path, tmp_path: Path) -> None:
    _, message = run_mail(samples, tmp_path, "mail-sjis-raw8bit.eml")
    assert message is not None and message["Subject"] == "古いメーラー ①"
    assert body_of(message).startswith(BODY)
    attached = attachments_of(message, tmp_path)
    assert list(attached) == ["資料.txt"]
    assert attached["資料.txt"].read_text(encoding="utf-8") == "添付の本文 ①\n"


def test_forwarded_mail_is_followed_and_its_executable_removed(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-forwarded.eml")
    assert message is not None
    body = body_of(message)
    assert "転送メッセージ / Forwarded message" in body and "Please run the attached." in body
    assert [(a["input"], a["outcome"], a["reason_code"]) for a in summary["attachments"]] == [
        ("invoice.exe", "blocked", "executable")]
    assert "invoice.exe" in body and f"削除しました: {REASONS['executable'][0]}" in body
    assert attachments_of(message, tmp_path) == {}


def test_signatures_are_dropped_and_encrypted_bodies_never_pass(samples: Path, tmp_path: Path) -> None:
    summary, signed = run_mail(samples, tmp_path, "mail-smime-signed.eml")
    assert signed is not None and body_of(signed).startswith("署名付き本文")
    assert summary["attachments"][0]["reason_code"] == "signature_removed"
    summary, encrypted = run_mail(samples, tmp_path, "mail-smime-encrypted.eml")
    assert encrypted is not None and attachments_of(encrypted, tmp_path) == {}
    assert REASONS["encrypted_body"][0] in body_of(encrypted)
    assert summary["attachments"][0]["reason_code"] == "encrypted_body"


def test_spoofed_sender_gets_a_visible_warning(samples: Path, tmp_path: Path) -> None:
    _, message = run_mail(samples, tmp_path, "mail-spoofed.eml")
    assert message is not None
    body = body_of(message)
    assert body.startswith("【注意】送信元の認証 (DMARC/SPF) に失敗しました")
    assert "collect@evil.example" in body.split("-" * 60)[0]
    assert message["DKIM-Signature"] is None and "dmarc=fail" in str(message["Authentication-Results"])
    assert "至急振り込んでください。" in body


def test_calendar_is_summarised(samples: Path, tmp_path: Path) -> None:
    _, message = run_mail(samples, tmp_path, "mail-calendar.eml")
    assert message is not None
    body = body_of(message)
    assert "件名/Summary: 定例会議" in body and "場所/Location: 本庁舎 3階" in body and "BEGIN:" not in body


@pytest.mark.parametrize(("sample", "finding", "text"), [
    ("mail-mime-bomb.eml", "mail_structure_truncated", ""),
    ("mail-broken.eml", "mail_header_truncated", "本文が読めること"),
    ("mail-huge-header.eml", "mail_header_truncated", "長いヘッダーの後の本文"),
])
def test_hostile_structures_still_give_safe_text(samples: Path, tmp_path: Path, sample: str, finding: str,
                                                 text: str) -> None:
    summary, message = run_mail(samples, tmp_path, sample)
    assert message is not None and summary["outcome"] == "delivered"
    assert finding in {f["code"] for f in summary["findings"]}
    assert text in body_of(message)
    if sample == "mail-huge-header.eml":
        assert summary["subject"].startswith("件名件名")  # cut, not garbled


def test_not_a_mail_is_rejected_and_nothing_written(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-not-a-mail.eml")
    assert message is None and summary["outcome"] == "rejected" and summary["reason"]


@pytest.mark.skipif(not Path("/usr/share/clamav-testfiles/clam.tnef").exists(), reason="clamav-testfiles")
def test_winmail_dat_is_unpacked_and_its_executable_removed(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-winmail-dat.eml")
    assert message is not None and "tnef_unpacked" in {f["code"] for f in summary["findings"]}
    assert [(a["input"], a["reason_code"]) for a in summary["attachments"]] == [("clam.exe", "executable")]
    assert "ClamAV test file" in body_of(message) and attachments_of(message, tmp_path) == {}


@pytest.mark.parametrize(("sample", "subject", "text", "finding"), [
    ("mail-eucjp.eml", "EUC-JP の件名", "EUC-JP の本文です。ｶﾅ", None),
    ("mail-mislabelled.eml", "mislabelled", "ラベルは JIS、中身は CP932 ①", "mail_charset_mislabelled"),
])
def test_eucjp_and_mislabelled_bodies(samples: Path, tmp_path: Path, sample: str, subject: str, text: str,
                                      finding: str | None) -> None:
    summary, message = run_mail(samples, tmp_path, sample)
    assert message is not None and message["Subject"] == subject
    body = body_of(message)
    if finding:  # the reader is told the text was guessed, above it
        assert finding in {f["code"] for f in summary["findings"]}
        warning, _, rest = body.partition("-" * 60 + "\n\n")
        assert warning.startswith("【注意】本文の文字コード") and "[Warning] The body's character set" in warning
        assert rest.startswith(text)
    else:
        assert body.startswith(text)


def run_with_config(samples: Path, tmp_path: Path, name: str, config: str) -> tuple[dict[str, Any], bytes]:
    settings = tmp_path / "gateway.toml"
    settings.write_text(config, encoding="utf-8")
    out = tmp_path / "out.eml"
    result = subprocess.run([sys.executable, "-m", "gateway", "mail", str(samples / name), "--out", str(out),
                             "--config", str(settings)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out.read_bytes()


def test_remove_policy_lists_but_never_attaches(samples: Path, tmp_path: Path) -> None:
    summary, raw = run_with_config(samples, tmp_path, "mail-outlook-iso2022jp.eml", '[mail]\nattachments = "remove"\n')
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage) and attachments_of(message, tmp_path) == {}
    assert summary["attachments"][0]["reason_code"] == "removed_by_policy"
    assert "見積書①.xlsm" in body_of(message)


def test_text_policy_puts_document_text_in_the_body(samples: Path, tmp_path: Path) -> None:
    _, raw = run_with_config(samples, tmp_path, "mail-outlook-iso2022jp.eml", '[mail]\nattachments = "text"\n')
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage) and attachments_of(message, tmp_path) == {}
    body = body_of(message)
    assert "attachment text: 見積書①.xlsx" in body and "令和8年度 予算要求書 ①㈱ 髙橋" in body


def test_iso2022jp_output_keeps_nec_characters_and_widens_kana(samples: Path, tmp_path: Path) -> None:
    from converters.formats.charset import decode_iso2022jp
    from converters.mail.headers import decode_header_value

    _, raw = run_with_config(samples, tmp_path, "mail-outlook-iso2022jp.eml",
                             '[mail]\ncharset = "iso-2022-jp"\nsubject_tag = "[外部]"\n')
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert decode_header_value(message.get("Subject")) == "[外部] 【見積】①㈱サンプル御中 テスト"
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert part.get_content_charset() == "iso-2022-jp"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes) and max(payload) < 0x80  # 7-bit, as ISO-2022-JP must be
    assert decode_iso2022jp(payload).replace("\r\n", "\n").startswith(BODY.replace("ﾃｽﾄ", "テスト"))
    [attached] = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    assert attached.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = attached.get_param("name")
    assert isinstance(name, str) and name.startswith("=?ISO-2022-JP?B?")
    assert decode_header_value(name) == "見積書①.xlsx"


def test_attachment_names_are_given_both_ways_japanese_clients_read(samples: Path, tmp_path: Path) -> None:
    """RFC 2231 in Content-Disposition (standard), and an RFC 2047 name in Content-Type as
    Outlook writes it (what older clients and webmails read); the MIME type stays intact."""
    from converters.mail.headers import decode_header_value

    _, message = run_mail(samples, tmp_path, "mail-outlook-iso2022jp.eml")
    assert message is not None
    raw = email.message_from_bytes((tmp_path / "mail-outlook-iso2022jp.eml.out.eml").read_bytes(),
                                   policy=email.policy.compat32)
    [attached] = [p for p in raw.walk() if p.get_content_disposition() == "attachment"]
    assert attached.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert attached.get_filename() == "見積書①.xlsx"
    name = attached.get_param("name")
    assert isinstance(name, str) and name.startswith("=?UTF-8?B?") and decode_header_value(name) == "見積書①.xlsx"


def test_hostile_headers_cannot_forge_senders_or_smuggle_files(samples: Path, tmp_path: Path) -> None:
    summary, message = run_mail(samples, tmp_path, "mail-hostile-headers.eml")
    assert message is not None and summary["outcome"] == "delivered"
    assert [a.addr_spec for a in message["From"].addresses] == ["attacker@evil.example"]
    assert message["Message-ID"] is None  # not a well-formed ASCII msg-id: dropped, not re-encoded
    assert [str(v).strip() for v in message.get_all("Authentication-Results", [])] == [
        "mx.city.example.lg.jp; spf=fail smtp.mailfrom=evil.example; dmarc=fail"]  # the forged pass is gone
    body = body_of(message)
    assert "実際の差出人: attacker@evil.example" in body and "soumu@city.example.lg.jp" in body.split("-" * 60)[0]
    assert "begin 644" not in body and "=ybegin" not in body and "MZ" not in body
    assert {(a["input"], a["reason_code"]) for a in summary["attachments"]} == {
        ("invoice.exe", "encoded_file_removed"), ("tool.exe", "encoded_file_removed")}


def test_attachments_beyond_the_size_budget_are_removed_and_listed(tmp_path: Path) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.co.jp", "soumu@city.example.lg.jp", "名簿 2 件"
    mail.set_content("名簿を送ります。")
    rows = "".join(f"{n},髙橋 太郎,東京都千代田区①丁目\r\n" for n in range(17_000)).encode("cp932")
    assert 600_000 < len(rows) < 1_000_000
    for name in ("名簿1.csv", "名簿2.csv"):
        mail.add_attachment(rows, maintype="text", subtype="csv", filename=name)
    (tmp_path / "big.eml").write_bytes(mail.as_bytes())
    summary, raw = run_with_config(tmp_path, tmp_path, "big.eml", "[mail]\nmax_attachments_mb = 1\n")
    first, second = summary["attachments"]
    assert (first["outcome"], second["outcome"], second["reason_code"]) == ("passed", "blocked",
                                                                            "attachments_too_large")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert list(attachments_of(message, tmp_path)) == ["名簿1.csv"]
    assert "名簿2.csv" in body_of(message)


@pytest.mark.parametrize("findings", [["x"], [{"code": 5}], [{"code": "a", "detail": ["x"]}]])
def test_a_splitter_report_with_malformed_findings_is_refused(findings: list[Any]) -> None:
    from gateway.errors import ReportInvalid
    from gateway.pipeline.mail import MailSanitizer

    report: dict[str, object] = {"headers": {}, "attachments": [], "dropped": [], "authentication_results": [],
                                 "findings": findings}
    with pytest.raises(ReportInvalid):
        MailSanitizer._parse(report)


@pytest.mark.parametrize("charset", ["utf-8", "iso-2022-jp"])
def test_crlf_line_ends_give_clean_lines(tmp_path: Path, charset: str) -> None:
    """Mail arrives over SMTP with CRLF: no line of the text may keep a stray CR or space."""
    text = "一行目\r\n二行目 ①㈱\r\n\r\nthird line\r\n"
    raw = (f"From: a@example.jp\r\nTo: b@city.example.lg.jp\r\nSubject: crlf\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 7bit\r\n\r\n").encode()
    raw += encode_iso2022jp(text)[0] if charset == "iso-2022-jp" else text.encode("utf-8")
    (tmp_path / "crlf.eml").write_bytes(raw)
    _, message = run_mail(tmp_path, tmp_path, "crlf.eml")
    assert message is not None
    body = body_of(message)
    assert body.startswith("一行目\n二行目 ①㈱\n\nthird line\n"), body[:80]
    assert not [line for line in body.splitlines() if line != line.rstrip()]


def test_a_script_hidden_behind_a_long_or_invisible_name_is_still_blocked(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.jp", "b@city.example.lg.jp", "scripts"
    message.set_content("添付をご確認ください。")
    script = b'var shell = new ActiveXObject("WScript.Shell"); shell.Run("calc");\n'
    for name in ("請" * 300 + ".js", "invoice.js\u200b", "short.js"):
        message.add_attachment(script, maintype="text", subtype="plain", filename=name)
    (tmp_path / "scripts.eml").write_bytes(message.as_bytes())
    summary, delivered = run_mail(tmp_path, tmp_path, "scripts.eml")
    assert delivered is not None and list(delivered.iter_attachments()) == []
    assert [(a["outcome"], a.get("reason_code")) for a in summary["attachments"]] == [("blocked", "script")] * 3


@pytest.mark.parametrize(("name", "charset", "prefix"), [
    ("🙂" * 30 + ".docx", "utf-8", "=?UTF-8?B?"),            # 4-byte characters: words still under 75
    ("𠮷野家の見積書.xlsx", "iso-2022-jp", "=?UTF-8?B?"),      # not in ISO-2022-JP: UTF-8, not 〓
    ("見積書①㈱.xlsx", "iso-2022-jp", "=?ISO-2022-JP?B?"),     # NEC special characters fit
])
def test_encoded_names_are_short_words_that_give_the_name_back(name: str, charset: str, prefix: str) -> None:
    from converters.mail.headers import decode_header_value
    from gateway.pipeline.mail import encoded_words

    words = encoded_words(name, charset, exact=True)
    assert all(word.startswith(prefix) and len(word) <= 75 for word in words)
    assert decode_header_value(" ".join(words)) == name


# --- every leaf of the MIME tree ends as text, an attachment or a line in the notice ---------------

def iso(text: str) -> str:
    """An RFC 2047 word in ISO-2022-JP, as Japanese mailers write subjects and file names."""
    import base64

    return f"=?ISO-2022-JP?B?{base64.b64encode(encode_iso2022jp(text)[0]).decode('ascii')}?="


def b64(data: bytes) -> str:
    import base64

    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def write_mail(tmp_path: Path, name: str, subject: str, body: str) -> str:
    """Headers as a Japanese mailer writes them, then ``body`` (the MIME structure), CRLF."""
    head = (f"From: {iso('田中 一郎')} <tanaka@example.co.jp>\r\nTo: soumu@city.example.lg.jp\r\n"
            f"Subject: {iso(subject)}\r\nDate: Mon, 1 Dec 2025 10:00:00 +0900\r\n"
            f"Message-ID: <{name}@example.co.jp>\r\nMIME-Version: 1.0\r\n")
    (tmp_path / name).write_bytes((head + body).encode("ascii"))
    return name


def jis(text: str) -> str:
    return encode_iso2022jp(text)[0].decode("ascii")


def notice_of(message: EmailMessage) -> str:
    return body_of(message).split("【無害化ゲートウェイからのお知らせ】", 1)[1]


def test_iphone_attachment_inside_multipart_alternative_is_delivered(samples: Path, tmp_path: Path) -> None:
    """iOS Mail puts a file placed in the text into the HTML branch of multipart/alternative
    (text/plain | mixed[html, pdf, html]); the plain text is the body, the PDF used to vanish."""
    pdf = (samples / "pdf-clean.pdf").read_bytes()
    html = "<html><body><div>見積書を送ります。</div></body></html>".encode()
    name = write_mail(tmp_path, "iphone.eml", "見積書の送付", (
        "X-Mailer: iPhone Mail (21A329)\r\nContent-Type: multipart/alternative; boundary=Apple-Mail-A1\r\n\r\n"
        "--Apple-Mail-A1\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        f"{jis('お世話になっております。見積書を送ります。')}\r\n"
        "--Apple-Mail-A1\r\nContent-Type: multipart/mixed; boundary=Apple-Mail-B2\r\n\r\n"
        "--Apple-Mail-B2\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(html)}"
        f"--Apple-Mail-B2\r\nContent-Type: application/pdf; name=\"{iso('見積書.pdf')}\"\r\n"
        f"Content-Disposition: inline; filename=\"{iso('見積書.pdf')}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(pdf)}"
        "--Apple-Mail-B2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><br></body></html>\r\n"
        "--Apple-Mail-B2--\r\n--Apple-Mail-A1--\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None and message["Subject"] == "見積書の送付"
    assert body_of(message).startswith("お世話になっております。見積書を送ります。")
    assert [(a["input"], a["outcome"]) for a in summary["attachments"]] == [("見積書.pdf", "passed")]
    assert list(attachments_of(message, tmp_path)) == ["見積書.pdf"]
    notice = notice_of(message)
    assert "見積書.pdf" in notice and "本文の別形式 (text/html)" in notice and "other form (text/html)" in notice


def test_inline_image_of_the_html_branch_is_delivered(tmp_path: Path) -> None:
    """Thunderbird and Apple Mail: alternative[text/plain, related[text/html, image]]; a pasted
    screenshot lives only in the HTML branch."""
    from PIL import Image

    html = '<html><body><p>画面の不具合です。</p><img src="cid:part1.abc@example.co.jp"></body></html>'.encode()
    png_name = "=?UTF-8?B?44K544Kv44Oq44O844Oz44K344On44OD44OILnBuZw==?="
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(picture, "PNG")
    name = write_mail(tmp_path, "thunderbird.eml", "画面の不具合について", (
        "User-Agent: Mozilla Thunderbird\r\nContent-Type: multipart/alternative; boundary=\"------------alt\"\r\n\r\n"
        "--------------alt\r\nContent-Type: text/plain; charset=ISO-2022-JP; format=flowed\r\n"
        f"Content-Transfer-Encoding: 7bit\r\n\r\n{jis('画面の不具合です。スクリーンショットを貼ります。')}\r\n\r\n"
        "--------------alt\r\nContent-Type: multipart/related; boundary=\"------------rel\"\r\n\r\n"
        "--------------rel\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(html)}--------------rel\r\nContent-Type: image/png; name=\"{png_name}\"\r\n"
        "Content-Disposition: inline; filename*=UTF-8''%E3%82%B9%E3%82%AF%E3%83%AA%E3%83%BC%E3%83%B3%E3%82%B7"
        "%E3%83%A7%E3%83%83%E3%83%88.png\r\nContent-Id: <part1.abc@example.co.jp>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(picture.getvalue())}"
        "--------------rel--\r\n\r\n--------------alt--\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None and message["Subject"] == "画面の不具合について"
    assert body_of(message).startswith("画面の不具合です。スクリーンショットを貼ります。")
    assert list(attachments_of(message, tmp_path)) == ["スクリーンショット.png"]
    assert summary["attachments"][0]["outcome"] in ("passed", "sanitized")


def test_base64_forwarded_message_and_delivery_report_become_text(tmp_path: Path) -> None:
    """A message/rfc822 part sent base64-encoded (Exchange does) and a bounce's
    message/delivery-status fields (multipart/report) are read, not lost or shown encoded."""
    inner = (f"From: {iso('佐藤')} <sato@example.co.jp>\r\nSubject: {iso('会議の件')}\r\nMIME-Version: 1.0\r\n"
             f"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n{jis('明日の会議は10時からです。')}\r\n").encode()
    name = write_mail(tmp_path, "report.eml", "転送と不達通知", (
        "Content-Type: multipart/mixed; boundary=\"_000_outer\"\r\n\r\n"
        f"--_000_outer\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n{jis('以下をご確認ください。')}\r\n"
        "--_000_outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fw.eml\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(inner)}"
        "--_000_outer\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"rpt\"\r\n\r\n"
        f"--rpt\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n{jis('配信できませんでした。')}\r\n"
        "--rpt\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.co.jp\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.co.jp\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--rpt--\r\n--_000_outer--\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None
    body = body_of(message)
    assert "Subject: 会議の件" in body and "明日の会議は10時からです。" in body
    assert "RnJvbT" not in body  # "From" in base64: the encoded text is never shown as the message
    assert "Final-Recipient: rfc822; nobody@example.co.jp" in body and "Status: 5.1.1" in body
    assert "配信できませんでした。" in body and summary["attachments"] == []


def test_parts_that_cannot_be_delivered_are_named_in_the_notice(tmp_path: Path) -> None:
    """message/external-body (content elsewhere), message/partial (a piece of a message), an
    opaque S/MIME signature, an Outlook invitation in the alternative: none disappears."""
    calendar = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:定例会議\r\nLOCATION:本庁舎 3階\r\n"
                "DTSTART:20251202T010000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    name = write_mail(tmp_path, "odd-parts.eml", "各種の部分", (
        "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
        "--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
        f"--alt\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n{jis('会議のご案内です。')}\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>meeting</p>\r\n"
        "--alt\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64(calendar)}--alt--\r\n"
        "--mix\r\nContent-Type: message/external-body; access-type=URL; URL=\"http://example.com/x.exe\"\r\n\r\n"
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
        "--mix\r\nContent-Type: message/partial; id=\"a@b\"; number=1; total=2\r\n\r\n"
        "Subject: part\r\n\r\nfirst piece\r\n"
        "--mix\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExADCABgkqhkiG9w0BBwEAAA==\r\n--mix--\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None
    body = body_of(message)
    assert body.startswith("会議のご案内です。") and "件名/Summary: 定例会議" in body
    codes = [(a["input"], a["reason_code"]) for a in summary["attachments"]]
    assert codes == [("message/external-body (URL)", "external_body"), ("message/partial (1/2)", "message_partial"),
                     ("smime.p7m", "signed_opaque")]
    notice = notice_of(message)
    assert REASONS["external_body"][0] in notice and "is not fetched" in notice
    assert REASONS["message_partial"][0] in notice and REASONS["signed_opaque"][0] in notice
    assert "example.com/x.exe" not in body and "first piece" not in body


def test_a_structure_over_the_limits_is_named_in_the_notice(tmp_path: Path) -> None:
    from converters.mail.split import MailLimits, split_mail

    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\n{n}\r\n" for n in range(6))
    raw = f"From: a@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--"
    split = split_mail(raw.encode(), tmp_path, MailLimits(max_parts=4))
    assert [d["reason_code"] for d in split["dropped"]] == ["mail_structure_truncated"]
    assert (tmp_path / "body.txt").read_text(encoding="utf-8") == "0\n1\n2"


def test_the_notice_lists_each_member_an_archive_lost(samples: Path, tmp_path: Path) -> None:
    """Staff need the names: per archive attachment, each member removed (nested ones with their
    path) and why, in Japanese and in English."""
    import make_samples

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("ツール.exe", make_samples.INERT_PE)
        archive.writestr("メモ.txt", "内側のメモ\n".encode())
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("書類/申請書.txt", "申請書の本文\n".encode())
        archive.writestr("書類/setup.exe", make_samples.INERT_PE)
        archive.writestr("実行.js", "WScript.Echo(1);\n")
        archive.writestr("書類/内側.zip", inner.getvalue())
    name = write_mail(tmp_path, "archive.eml", "提出書類の送付", (
        "Content-Type: multipart/mixed; boundary=\"_002_\"\r\n\r\n"
        f"--_002_\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n{jis('提出書類を送ります。')}\r\n"
        f"--_002_\r\nContent-Type: application/x-zip-compressed; name=\"{iso('提出書類.zip')}\"\r\n"
        "Content-Disposition: attachment; filename*=iso-2022-jp''"
        + "".join(f"%{b:02X}" for b in encode_iso2022jp("提出書類.zip")[0])
        + f"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(data.getvalue())}--_002_--\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None
    [archive_report] = summary["attachments"]
    assert (archive_report["input"], archive_report["outcome"]) == ("提出書類.zip", "sanitized")
    japanese, english = notice_of(message).split("[Gateway notice]")
    assert "提出書類.zip" in japanese and "    除外したファイル:" in japanese
    executable, script = REASONS["executable"][0], REASONS["script"][0]
    for line in (f"    - 書類/setup.exe: {executable}", f"    - 実行.js: {script}",
                 f"    - 書類/内側.zip/ツール.exe: {executable}"):
        assert line in japanese.splitlines()
    assert "    removed from it:" in english
    assert f"    - 書類/setup.exe: {REASONS['executable'][1]}" in english.splitlines()  # the catalogue's words
    assert "書類/内側.zip/ツール.exe" in english and "申請書" not in japanese.split("除外したファイル:")[1]
    with zipfile.ZipFile(attachments_of(message, tmp_path)["提出書類.zip"]) as delivered:
        assert sorted(delivered.namelist()) == ["書類/内側/メモ.txt", "書類/申請書.txt"]


def test_notice_member_lists_are_capped_and_counted() -> None:
    from gateway.pipeline.mail_notice import MAX_MEMBER_LINES, build_notice

    members = [{"input": f"フォルダ/{n}.exe", "outcome": "blocked", "reason_code": "executable",
                "reason": "blocked: Windows executable program"} for n in range(MAX_MEMBER_LINES + 7)]
    item = {"input": "大量.zip", "outcome": "sanitized", "size": 10, "outputs": [], "members": members,
            "findings": [{"code": "archive_link_skipped", "detail": "リンク"}]}
    notice = build_notice([item], "GW-0")
    assert notice.count(REASONS["executable"][0]) == MAX_MEMBER_LINES - 1
    assert f"    - リンク: {REASONS['archive_link_skipped'][0]}" in notice
    assert "ほか 8 件" in notice and "8 more" in notice


# --- structures too deep or too long for the email package's recursion ------------------------

def deep_mail(tmp_path: Path, kind: str) -> str:
    """2,000 levels of multipart (or of forwarded messages) after a first text part in ISO-2022-JP."""
    first = f"--top\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n{jis('至急ご確認ください。①㈱')}\r\n"
    if kind == "multipart":
        nested = "".join(f"--{'top' if n == 0 else f'b{n - 1}'}\r\nContent-Type: multipart/mixed; boundary=b{n}"
                         "\r\n\r\n" for n in range(2000)) + "".join(f"--b{n}--\r\n" for n in range(1999, -1, -1))
    else:
        nested = ("--top\r\nContent-Type: message/rfc822\r\n\r\n"
                  + "Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n" * 2000 + "Subject: end\r\n\r\nend\r\n")
    return write_mail(tmp_path, f"deep-{kind}.eml", "深い入れ子",
                      f"Content-Type: multipart/mixed; boundary=top\r\n\r\n{first}{nested}--top--\r\n")


@pytest.mark.parametrize("kind", ["multipart", "rfc822"])
def test_mail_nested_2000_levels_delivers_its_first_text_with_a_truncation_notice(tmp_path: Path, kind: str) -> None:
    summary, message = run_mail(tmp_path, tmp_path, deep_mail(tmp_path, kind))
    assert message is not None and summary["outcome"] == "delivered" and message["Subject"] == "深い入れ子"
    assert body_of(message).startswith("至急ご確認ください。①㈱")
    assert [(a["input"], a["reason_code"]) for a in summary["attachments"]] == [
        ("(以降の部分 / the remaining parts)", "mail_structure_truncated")]
    assert "入れ子が深すぎるか部分が多すぎるため" in notice_of(message)
    assert "mail_structure_truncated" in {f["code"] for f in summary["findings"]}


def test_a_header_repeated_2000_times_is_read_up_to_a_limit(tmp_path: Path) -> None:
    name = write_mail(tmp_path, "repeated.eml", "繰り返し", (
        "Authentication-Results: mx.example.jp; spf=pass smtp.mailfrom=example.co.jp\r\n"
        + "Authentication-Results: forged.example; dkim=pass\r\n" * 2000
        + "Received: from relay.example by mx.example.jp\r\n" * 2000
        + f"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n{jis('本文です。')}\r\n"))
    summary, message = run_mail(tmp_path, tmp_path, name)
    assert message is not None and body_of(message).startswith("本文です。")
    assert message.get_all("Authentication-Results") == ["mx.example.jp; spf=pass smtp.mailfrom=example.co.jp"]
    assert {"code": "mail_header_truncated", "detail": "authentication-results: 2001 copies, the first 50 read"} \
        in summary["findings"]


def test_damaged_parameters_deliver_the_mail_and_name_each_attachment(samples: Path, tmp_path: Path) -> None:
    """A file name in RFC 2231 pieces numbered and unnumbered (``filename*2`` with no ``*0``), and a
    forwarded message whose 8-bit body has a NUL in its charset label: the email package raised
    out of them and the whole mail was rejected (converter_crashed). Now the body, the forwarded
    text and the attachment arrive; the attachment is listed in the notice under the name read
    from its whole (unnumbered) piece, and the damage is a finding."""
    pdf = (samples / "pdf-clean.pdf").read_bytes()
    inner = (f"From: {iso('佐藤')} <sato@example.co.jp>\r\nSubject: {iso('会議の件')}\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=\"shift_jis\x00\"\r\n\r\n").encode()
    inner += "明日の会議は10時からです。\r\n".encode("cp932")
    head = write_mail(tmp_path, "damaged-params.eml", "壊れた名前", (
        "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
        f"--mix\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n{jis('資料を送ります。')}\r\n"
        "--mix\r\nContent-Type: application/pdf; name*1=zz; name*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf; filename*2=.exe\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(pdf)}"
        "--mix\r\nContent-Type: message/rfc822\r\n\r\n"))
    path = tmp_path / head
    path.write_bytes(path.read_bytes() + inner + b"--mix--\r\n")
    summary, message = run_mail(tmp_path, tmp_path, head)
    assert message is not None and summary["outcome"] == "delivered"
    body = body_of(message)
    assert "資料を送ります。" in body and "Subject: 会議の件" in body and "明日の会議は10時からです。" in body
    assert body.startswith("【注意】本文の文字コードが正しく示されていなかったため")  # the forwarded text's label
    assert [(a["input"], a["outcome"]) for a in summary["attachments"]] == [("見積書.pdf", "passed")]
    assert list(attachments_of(message, tmp_path)) == ["見積書.pdf"] and "見積書.pdf" in notice_of(message)
    assert {"code": "mail_defects", "detail": "damaged RFC 2231 parameter: content-disposition: filename"} \
        in summary["findings"]
