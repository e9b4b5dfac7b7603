from __future__ import annotations

import pytest

from converters.formats.charset import decode_as, decode_iso2022jp, detect_and_decode, normalise_charset

# ISO-2022-JP as Outlook writes it: NEC row 13 (①=2D21, ㈱=2D6A) inside ESC $ B.
OUTLOOK_ISO2022JP = b"\x1b$B$3$s$K$A$O\x2d\x21\x2d\x6a\x1b(B"


def test_iso2022jp_keeps_nec_special_characters() -> None:
    assert decode_iso2022jp(OUTLOOK_ISO2022JP) == "こんにちは①㈱"
    with pytest.raises(UnicodeDecodeError):
        OUTLOOK_ISO2022JP.decode("iso2022_jp")  # what the standard library does


def test_iso2022jp_half_width_kana_by_escape_and_by_shift() -> None:
    assert decode_iso2022jp(b"\x1b(I\x36\x40\x36\x45\x1b(B") == "ｶﾀｶﾅ"
    assert decode_iso2022jp(b"abc\x0e\x36\x40\x0fdef") == "abcｶﾀdef"


def test_iso2022jp_jis_x_0212_and_errors() -> None:
    assert decode_iso2022jp(b"\x1b$(D\x30\x21\x1b(B") == "\u4e02"
    with pytest.raises(UnicodeDecodeError):
        decode_iso2022jp(b"\x1b$B\x30")
    assert decode_iso2022jp(b"\x1b$B\x30", "replace") == "\ufffd"


@pytest.mark.parametrize("label", ["Shift_JIS", "shift-jis", "x-sjis", "Windows-31J", "MS932", "SJIS"])
def test_shift_jis_labels_decode_cp932_extensions(label: str) -> None:
    data = "①㈱～髙".encode("cp932")
    assert normalise_charset(label) == "cp932"
    assert decode_as(data, label) == "①㈱～髙"


@pytest.mark.parametrize(("text", "encoding", "expected"), [
    ("令和8年度 ①㈱ ﾃｽﾄ 髙橋", "cp932", "cp932"),
    ("令和8年度 情報セキュリティ 高橋", "euc_jp", "euc-jp"),
    ("令和8年度 ①㈱ 髙橋", "utf-8", "utf-8"),
])
def test_detects_japanese_charsets(text: str, encoding: str, expected: str) -> None:
    decoded = detect_and_decode(text.encode(encoding))
    assert (decoded.text, decoded.charset, decoded.replaced) == (text, expected, False)


def test_boms_and_undecodable_bytes() -> None:
    assert detect_and_decode("\ufeffテスト".encode("utf-8")).text == "テスト"
    assert detect_and_decode("テスト".encode("utf-16")).text == "テスト"
    broken = detect_and_decode(b"\x82\xa0\x81\x20\x81")
    assert broken.replaced


def test_utf8_cut_mid_character_is_still_utf8() -> None:
    data = "日本語のテキスト".encode()[:-1]
    decoded = detect_and_decode(data)
    assert (decoded.charset, decoded.text) == ("utf-8", "日本語のテキス\ufffd")
