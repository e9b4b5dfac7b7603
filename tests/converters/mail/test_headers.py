from __future__ import annotations

import base64
from email import message_from_bytes
from email.policy import compat32

from converters.mail.headers import attachment_filename, decode_header_value


def test_encoded_words_split_mid_character_are_joined() -> None:
    data = "①㈱テスト".encode()
    words = [base64.b64encode(data[i:i + 4]).decode() for i in range(0, len(data), 4)]
    header = "\r\n ".join(f"=?UTF-8?B?{w}?=" for w in words)
    assert decode_header_value(header) == "①㈱テスト"


def test_shift_jis_label_and_unknown_labels() -> None:
    sjis = base64.b64encode("①㈱～".encode("cp932")).decode()
    assert decode_header_value(f"=?Shift_JIS?B?{sjis}?=") == "①㈱～"
    utf8 = base64.b64encode("日本語".encode()).decode()
    assert decode_header_value(f"=?x-unknown?B?{utf8}?=") == "日本語"
    assert decode_header_value("plain =?UTF-8?Q?=E6=97=A5?= text") == "plain 日 text"


def test_filenames_rfc2231_rfc2047_and_raw() -> None:
    raw = (b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0*=UTF-8''%E8%A6%8B%E7;"
           b"\r\n filename*1*=%A9%8D.pdf\r\n\r\nx")
    assert attachment_filename(message_from_bytes(raw, policy=compat32)) == "見積.pdf"
    encoded = base64.b64encode("見積書.xlsx".encode()).decode()
    outlook = f'Content-Type: application/octet-stream; name="=?UTF-8?B?{encoded}?="\r\n\r\nx'.encode()
    assert attachment_filename(message_from_bytes(outlook, policy=compat32)) == "見積書.xlsx"
    old = b'Content-Disposition: attachment; filename="' + "資料.txt".encode("cp932") + b'"\r\n\r\nx'
    assert attachment_filename(message_from_bytes(old, policy=compat32)) == "資料.txt"
