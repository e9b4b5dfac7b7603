"""Sample mails written byte for byte the way real mailers write them: Outlook (ISO-2022-JP with
NEC special characters, RFC 2047 file names in quotes), Thunderbird (UTF-8, RFC 2231 file-name
continuations), Gmail (multipart/alternative), old Japanese mailers (Shift_JIS label on CP932,
raw 8-bit headers and file names), plus forwarded, signed, encrypted, spoofed, calendar and
hostile structures. Attachments are the harmless samples made by make_samples."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

from converters.formats.charset import sjis_to_jis_pair

BODY = "お世話になっております。\n見積書①を添付します。㈱サンプル 髙橋\nﾃｽﾄ ～ 以上です。\n"


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def _iso2022jp(text: str) -> bytes:
    """ISO-2022-JP as Outlook writes it: NEC row 13 in JIS X 0208 mode, half-width kana by ESC ( I.

    Deliberately not ``converters.formats.charset.encode_iso2022jp``: that one widens kana (for old LGWAN
    clients), and test input for the decoder must not come from the product's own encoder."""
    out, mode = bytearray(), "ascii"
    for char in text:
        if ord(char) < 0x80:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out += char.encode("ascii")
            continue
        sjis = char.encode("cp932")
        if len(sjis) == 1:  # half-width katakana
            if mode != "kana":
                out += b"\x1b(I"
                mode = "kana"
            out.append(sjis[0] - 0x80)
            continue
        if mode != "jis":
            out += b"\x1b$B"
            mode = "jis"
        out += sjis_to_jis_pair(sjis[0], sjis[1])
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


def _split_encoded_words(text: str, charset: str, encoded: bytes, pieces: int = 2) -> str:
    """RFC 2047 B words, cut mid-character the way some mailers do."""
    size = -(-len(encoded) // pieces)
    words = [base64.b64encode(encoded[i:i + size]).decode() for i in range(0, len(encoded), size)]
    return "\n ".join(f"=?{charset}?B?{word}?=" for word in words)


def make_mail(out: Path) -> None:
    xlsm = (out / "xlsm-macro.xlsm").read_bytes()
    pdf_js = (out / "pdf-javascript.pdf").read_bytes()
    exe = (out / "exe-stub.exe").read_bytes()

    subject = _split_encoded_words("", "ISO-2022-JP", _iso2022jp("【見積】①㈱サンプル御中 ﾃｽﾄ"), pieces=3)
    sender = _split_encoded_words("", "ISO-2022-JP", _iso2022jp("髙橋 太郎"))
    filename = _split_encoded_words("", "ISO-2022-JP", _iso2022jp("見積書①.xlsm"))
    outlook = (
        f"From: {sender} <takahashi@example.co.jp>\nTo: soumu@city.example.lg.jp\nSubject: {subject}\n"
        "Date: Mon, 16 Nov 2026 10:00:00 +0900\nMessage-ID: <outlook-1@example.co.jp>\nMIME-Version: 1.0\n"
        "Authentication-Results: mx.city.example.lg.jp; spf=pass smtp.mailfrom=example.co.jp; dkim=pass\n"
        "X-Mailer: Microsoft Outlook 16.0\nContent-Type: multipart/mixed; boundary=\"----=_NextPart_000\"\n\n"
        "------=_NextPart_000\nContent-Type: text/plain; charset=\"iso-2022-jp\"\nContent-Transfer-Encoding: 7bit\n\n"
    ).encode() + _iso2022jp(BODY) + (
        "\n------=_NextPart_000\nContent-Type: application/vnd.ms-excel.sheet.macroEnabled.12;\n"
        f"\tname=\"{filename}\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment;\n"
        f"\tfilename=\"{filename}\"\n\n{_b64(xlsm)}\n------=_NextPart_000--\n").encode()
    (out / "mail-outlook-iso2022jp.eml").write_bytes(outlook)

    quoted = urllib.parse.quote("令和8年度_事業計画書（案）.pdf".encode())
    half = quoted.index("%", len(quoted) // 2)  # a segment boundary inside a character, as mailers cut
    thunderbird = (
        "From: =?UTF-8?B?5bGx55SwIOiKseWtkA==?= <yamada@example.jp>\nTo: soumu@city.example.lg.jp\n"
        "Subject: =?UTF-8?Q?=E4=BA=8B=E6=A5=AD=E8=A8=88=E7=94=BB=E6=9B=B8=E3=81=AE?=\n"
        " =?UTF-8?Q?=E9=80=81=E4=BB=98?=\nDate: Tue, 17 Nov 2026 09:30:00 +0900\n"
        "Message-ID: <tb-2@example.jp>\nMIME-Version: 1.0\nUser-Agent: Mozilla Thunderbird\n"
        "Content-Type: multipart/mixed; boundary=\"------------tb\"\n\n--------------tb\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: quoted-printable\n\n"
        + "".join(f"={b:02X}" if b >= 0x80 else chr(b) for b in "計画書を送付します。①～⑩\n".encode())
        + "\n--------------tb\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment;\n filename*0*=UTF-8''{quoted[:half]};\n filename*1*={quoted[half:]}\n\n"
        f"{_b64(pdf_js)}\n--------------tb--\n").encode()
    (out / "mail-thunderbird-rfc2231.eml").write_bytes(thunderbird)

    html = ("<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
            "<p>ご案内</p><p>詳細は<a href=\"https://www.example.jp/info\">こちら</a></p>"
            "<img src=\"cid:logo\" alt=\"ロゴ\"><div style=\"display:none\">hidden</div></body></html>")
    plain_b64 = _b64("ご案内 (プレーンテキスト版)\n".encode())
    gmail = (
        "From: Sato <sato@gmail.example>\nTo: soumu@city.example.lg.jp\nSubject: =?UTF-8?B?44GU5qGI5YaF?=\n"
        "Date: Wed, 18 Nov 2026 12:00:00 +0000\nMessage-ID: <CA+gm@mail.gmail.example>\nMIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"000000000000abc\"\n\n--000000000000abc\n"
        "Content-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: base64\n\n"
        f"{plain_b64}\n--000000000000abc\n"
        "Content-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: base64\n\n"
        f"{_b64(html.encode())}\n--000000000000abc--\n").encode()
    (out / "mail-gmail-alternative.eml").write_bytes(gmail)
    html_only = (
        b"From: news@example.jp\nTo: soumu@city.example.lg.jp\nSubject: HTML only\nMIME-Version: 1.0\n"
        b"Message-ID: <html-3@example.jp>\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
    ) + html.encode()
    (out / "mail-html-only.eml").write_bytes(html_only)

    sjis = (
        b"From: old@example.jp\nTo: soumu@city.example.lg.jp\n"
        + "Subject: 古いメーラー ①\n".encode("cp932")
        + b"Message-ID: <old-4@example.jp>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
        b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n" + BODY.encode("cp932")
        + b"\n--b1\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\""
        + "資料.txt".encode("cp932") + b"\"\nContent-Transfer-Encoding: base64\n\n"
        + _b64("添付の本文 ①\n".encode("cp932")).encode() + b"\n--b1--\n")
    (out / "mail-sjis-raw8bit.eml").write_bytes(sjis)

    inner = ("From: attacker@evil.example\nTo: someone@example.jp\nSubject: invoice\n"
             "Date: Thu, 19 Nov 2026 08:00:00 +0000\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"in\"\n\n--in\nContent-Type: text/plain; charset=us-ascii\n\n"
             "Please run the attached.\n--in\nContent-Type: application/octet-stream\n"
             "Content-Disposition: attachment; filename=\"invoice.exe\"\nContent-Transfer-Encoding: base64\n\n"
             f"{_b64(exe)}\n--in--\n")
    forwarded = ("From: colleague@example.jp\nTo: soumu@city.example.lg.jp\nSubject: Fwd: invoice\n"
                 "Message-ID: <fwd-5@example.jp>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"out\"\n\n"
                 "--out\nContent-Type: text/plain; charset=us-ascii\n\nFYI, see below.\n--out\n"
                 f"Content-Type: message/rfc822\n\n{inner}\n--out--\n")
    (out / "mail-forwarded.eml").write_text(forwarded, encoding="ascii")

    signed = ("From: signer@example.jp\nTo: soumu@city.example.lg.jp\nSubject: signed\nMessage-ID: <s-6@example.jp>\n"
              "MIME-Version: 1.0\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
              "micalg=sha-256; boundary=\"sig\"\n\n--sig\nContent-Type: text/plain; charset=UTF-8\n\n署名付き本文\n--sig\n"
              "Content-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n"
              "Content-Disposition: attachment; filename=smime.p7s\n\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n--sig--\n")
    (out / "mail-smime-signed.eml").write_text(signed, encoding="utf-8")
    encrypted = ("From: secret@example.jp\nTo: soumu@city.example.lg.jp\nSubject: encrypted\n"
                 "Message-ID: <e-7@example.jp>\nMIME-Version: 1.0\n"
                 "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n"
                 "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=smime.p7m\n\n"
                 "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\n")
    (out / "mail-smime-encrypted.eml").write_text(encrypted, encoding="ascii")

    spoofed = ("From: =?UTF-8?B?5biC6ZW3?= <mayor@city.example.lg.jp>\nReply-To: collect@evil.example\n"
               "To: soumu@city.example.lg.jp\nSubject: urgent\nMessage-ID: <spoof-8@evil.example>\n"
               "Authentication-Results: mx.city.example.lg.jp; spf=fail smtp.mailfrom=evil.example; dkim=none; "
               "dmarc=fail header.from=city.example.lg.jp\nDKIM-Signature: v=1; a=rsa-sha256; d=evil.example; b=AAAA\n"
               "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n至急振り込んでください。\n")
    (out / "mail-spoofed.eml").write_text(spoofed, encoding="utf-8")

    calendar = ("From: org@example.jp\nTo: soumu@city.example.lg.jp\nSubject: meeting\nMessage-ID: <cal-9@example.jp>\n"
                "MIME-Version: 1.0\nContent-Type: text/calendar; method=REQUEST; charset=UTF-8\n\nBEGIN:VCALENDAR\n"
                "BEGIN:VEVENT\nSUMMARY:定例会議\nDTSTART:20261125T010000Z\nDTEND:20261125T020000Z\n"
                "LOCATION:本庁舎 3階\nEND:VEVENT\nEND:VCALENDAR\n")
    (out / "mail-calendar.eml").write_text(calendar, encoding="utf-8")

    nested = "".join(f"Content-Type: multipart/mixed; boundary=\"n{i}\"\n\n--n{i}\n" for i in range(200))
    bomb = ("From: bomb@evil.example\nTo: soumu@city.example.lg.jp\nSubject: nested\nMIME-Version: 1.0\n"
            + nested + "Content-Type: text/plain\n\ndeep\n")
    (out / "mail-mime-bomb.eml").write_text(bomb, encoding="ascii")
    broken = ("From: broken@example.jp\nTo: soumu@city.example.lg.jp\nSubject: " + "x" * 200_000 + "\n"
              "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"never\"\n\n--never\n"
              "Content-Type: text/plain; charset=x-no-such-charset\n\n本文が読めること\n")
    (out / "mail-broken.eml").write_bytes(broken.encode("utf-8"))
    (out / "mail-not-a-mail.eml").write_bytes(bytes(range(256)) * 4)
    uu_payload = "".join(chr(32 + ((b >> 2) & 63)) for b in b"MZ\x90\x00This program cannot be run in DOS mode")
    hostile = (
        "Received: from evil.example\n"
        "Authentication-Results: mx.city.example.lg.jp; spf=fail smtp.mailfrom=evil.example; dmarc=fail\n"
        "From: =?utf-8?q?soumu=40city.example.lg.jp_=3Csoumu=40city.example.lg.jp=3E=2C?= <attacker@evil.example>\n"
        "Reply-To: attacker@evil.example, soumu@city.example.lg.jp\nTo: soumu@city.example.lg.jp\n"
        "Subject: =?iso-8859-1?q?caf=85_invoice?=\nMessage-ID: =?utf-8?b?44GC?=\n"
        "Authentication-Results: mx.city.example.lg.jp; spf=pass; dkim=pass; dmarc=pass\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nPlease see the attached invoice.\n\n"
        f"begin 644 invoice.exe\nM{uu_payload}\n`\nend\n\n=ybegin line=128 size=10 name=tool.exe\nxxxx\n=yend size=10\n")
    (out / "mail-hostile-headers.eml").write_text(hostile, encoding="utf-8")
    huge = ("From: huge@example.jp\nTo: soumu@city.example.lg.jp\nSubject: " + "件名" * 50_000 + "\nX-Padding: "
            + "x" * 10_000_000 + "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n長いヘッダーの後の本文\n")
    (out / "mail-huge-header.eml").write_bytes(huge.encode())

    clam_tnef = Path("/usr/share/clamav-testfiles/clam.tnef")  # ClamAV's harmless test file in a winmail.dat
    if clam_tnef.exists():
        tnef = ("From: outlook@example.jp\nTo: soumu@city.example.lg.jp\nSubject: winmail\nMessage-ID: <t-10@example.jp>\n"
                "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"t\"\n\n--t\nContent-Type: text/plain\n\n"
                "See attached.\n--t\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\n"
                "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"winmail.dat\"\n\n"
                f"{_b64(clam_tnef.read_bytes())}\n--t--\n")
        (out / "mail-winmail-dat.eml").write_text(tnef, encoding="ascii")
    euc = ("From: unix@example.jp\nTo: soumu@city.example.lg.jp\nSubject: =?EUC-JP?B?"
           + base64.b64encode("EUC-JP の件名".encode("euc_jp")).decode() + "?=\nMessage-ID: <euc-11@example.jp>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=EUC-JP\nContent-Transfer-Encoding: 8bit\n\n").encode()
    (out / "mail-eucjp.eml").write_bytes(euc + "EUC-JP の本文です。ｶﾅ\n".encode("euc_jp"))
    mislabelled = (b"From: wrong@example.jp\nTo: soumu@city.example.lg.jp\nSubject: mislabelled\n"
                   b"Message-ID: <m-12@example.jp>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-2022-jp\n"
                   b"Content-Transfer-Encoding: 8bit\n\n" + "ラベルは JIS、中身は CP932 ①\n".encode("cp932"))
    (out / "mail-mislabelled.eml").write_bytes(mislabelled)
