"""Japanese-aware charset detection and decoding.

Python's codecs get everyday Japanese text wrong in two places this module fixes:
- ``shift_jis`` rejects the Windows (CP932) characters every Japanese PC writes (①, ㈱, ～);
  Shift_JIS labels are therefore decoded as CP932.
- ``iso2022_jp`` rejects NEC row 13 (①, ㈱) and IBM extensions that Outlook writes; ISO-2022-JP
  is decoded here by mapping each JIS X 0208 pair to CP932 (as Windows' CP50220/CP50221 do),
  including JIS X 0201 kana switched by ``ESC ( I`` or by SO/SI.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

ESC = 0x1B
NOT_CHARSETS = frozenset({"idna", "punycode", "undefined"})  # codecs for host names, or that never decode
SO, SI = 0x0E, 0x0F

CHARSET_ALIASES: dict[str, str] = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "windows-31j": "cp932", "ms932": "cp932", "ms_kanji": "cp932", "csshiftjis": "cp932",
    "cp932": "cp932", "x-ms-cp932": "cp932",
    "iso-2022-jp": "iso-2022-jp", "iso-2022-jp-1": "iso-2022-jp", "iso-2022-jp-2": "iso-2022-jp",
    "iso-2022-jp-3": "iso-2022-jp", "csiso2022jp": "iso-2022-jp", "cp50220": "iso-2022-jp",
    "cp50221": "iso-2022-jp", "cp50222": "iso-2022-jp", "jis": "iso-2022-jp",
    "euc-jp": "euc-jp", "eucjp": "euc-jp", "x-euc-jp": "euc-jp", "cseucpkdfmtjapanese": "euc-jp",
    "euc-jis-2004": "euc-jp", "utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
}

_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uff66-\uff9f\u3000-\u303f\uff01-\uff5e]")
_ISO2022_ESCAPES = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b(I", b"\x1b$(D", b"\x1b$(Q", b"\x1b$(O")


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str
    replaced: bool  # some bytes could not be decoded and were replaced


def _jis_pair_to_sjis(first: int, second: int) -> bytes:
    """Map one JIS X 0208 code (two 7-bit bytes) to its Shift_JIS/CP932 bytes."""
    lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
    if first & 1:
        trail = second + (0x1F if second <= 0x5F else 0x20)
    else:
        trail = second + 0x7E
    return bytes((lead, trail))


def decode_iso2022jp(data: bytes, errors: str = "strict") -> str:
    """Decode ISO-2022-JP including the CP5022x vendor extensions, via CP932."""
    out: list[str] = []
    mode = "ascii"
    shifted = False
    position = 0
    length = len(data)
    while position < length:
        byte = data[position]
        if byte == ESC:
            sequence = data[position:position + 4]
            if sequence.startswith((b"\x1b$B", b"\x1b$@")):
                mode, position = "jis0208", position + 3
            elif sequence.startswith((b"\x1b$(D", b"\x1b$(Q", b"\x1b$(O")):
                mode, position = "jis0212", position + 4
            elif sequence.startswith((b"\x1b(B", b"\x1b(J", b"\x1b(H")):
                mode, position = "ascii", position + 3
            elif sequence.startswith(b"\x1b(I"):
                mode, position = "kana", position + 3
            else:
                if errors == "strict":
                    raise UnicodeDecodeError("iso-2022-jp", data, position, position + 1,
                                             "unknown escape sequence")
                out.append("\ufffd")
                position += 1
            continue
        if byte == SO:
            shifted, position = True, position + 1
            continue
        if byte == SI:
            shifted, position = False, position + 1
            continue
        if byte in (0x0A, 0x0D):
            out.append(chr(byte))
            position += 1
            continue
        if (mode == "kana" or shifted) and 0x21 <= byte <= 0x5F:
            out.append(bytes((byte + 0x80,)).decode("cp932"))
            position += 1
            continue
        if mode in ("jis0208", "jis0212") and 0x21 <= byte <= 0x7E:
            if position + 1 >= length or not 0x21 <= data[position + 1] <= 0x7E:
                if errors == "strict":
                    raise UnicodeDecodeError("iso-2022-jp", data, position, position + 1,
                                             "truncated double-byte character")
                out.append("\ufffd")
                position += 1
                continue
            pair = data[position:position + 2]
            if mode == "jis0212":
                out.append((b"\x8f" + bytes(b | 0x80 for b in pair)).decode("euc_jp", errors))
            else:
                out.append(_jis_pair_to_sjis(pair[0], pair[1]).decode("cp932", errors))
            position += 2
            continue
        if byte >= 0x80:
            if errors == "strict":
                raise UnicodeDecodeError("iso-2022-jp", data, position, position + 1,
                                         "8-bit byte in a 7-bit charset")
            out.append("\ufffd")
            position += 1
            continue
        out.append(chr(byte))
        position += 1
    return "".join(out)


def decode_euc_jp(data: bytes, errors: str = "strict") -> str:
    try:
        return data.decode("euc_jp")
    except UnicodeDecodeError:
        return data.decode("euc_jis_2004", errors)


def decode_as(data: bytes, charset: str, errors: str = "strict") -> str:
    """Decode with a (possibly mislabelled) charset name, using the Japanese-aware codecs."""
    name = normalise_charset(charset)
    if name == "iso-2022-jp":
        return decode_iso2022jp(data, errors)
    if name == "euc-jp":
        return decode_euc_jp(data, errors)
    return data.decode(name, errors)


def normalise_charset(label: str) -> str:
    key = label.strip().strip('"').lower()
    if key in CHARSET_ALIASES:
        return CHARSET_ALIASES[key]
    try:
        name = codecs.lookup(key).name  # ValueError: a NUL or a lone surrogate (an 8-bit byte) in the label
    except (LookupError, ValueError):
        return "unknown"
    try:
        b"a".decode(name)  # LookupError for codecs that are not text encodings (base64, zlib, rot13 ...)
    except LookupError:
        return "unknown"
    except UnicodeError:
        pass
    return "unknown" if name in NOT_CHARSETS else name


def _japanese_score(text: str) -> float:
    if not text:
        return 0.0
    return len(_JAPANESE.findall(text)) / len(text)


def detect_and_decode(data: bytes) -> Decoded:
    """Decode bytes of unknown charset: BOMs, ISO-2022-JP, UTF-8, CP932 or EUC-JP."""
    if data.startswith(codecs.BOM_UTF8):
        return Decoded(data[3:].decode("utf-8", "replace"), "utf-8", False)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", "replace")
        return Decoded(text, "utf-16", "\ufffd" in text)
    if not any(byte >= 0x80 for byte in data):
        if any(escape in data for escape in _ISO2022_ESCAPES) or (SO in data and SI in data):
            try:
                return Decoded(decode_iso2022jp(data), "iso-2022-jp", False)
            except UnicodeDecodeError:
                return Decoded(decode_iso2022jp(data, "replace"), "iso-2022-jp", True)
        return Decoded(data.decode("ascii"), "ascii", False)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", False)
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:  # cut mid-character
            return Decoded(data[: exc.start].decode("utf-8") + "\ufffd", "utf-8", True)
    candidates: list[tuple[float, str, str]] = []
    for charset in ("cp932", "euc-jp"):
        try:
            text = decode_as(data, charset)
        except UnicodeDecodeError:
            continue
        candidates.append((_japanese_score(text), charset, text))
    if candidates:
        _, charset, text = max(candidates, key=lambda item: item[0])
        return Decoded(text, charset, False)
    scored = []
    for charset in ("utf-8", "cp932", "euc-jp"):
        text = decode_as(data, charset, "replace")
        scored.append((text.count("\ufffd"), charset, text))
    _, charset, text = min(scored, key=lambda item: item[0])
    return Decoded(text, charset, True)


def sjis_to_jis_pair(lead: int, trail: int) -> bytes:
    """Inverse of ``_jis_pair_to_sjis``: CP932 double-byte code to a JIS X 0208 row/cell pair."""
    row = (lead - (0x70 if lead <= 0x9F else 0xB0)) * 2
    if trail < 0x9F:
        row -= 1
        cell = trail - (0x1F if trail < 0x80 else 0x20)
    else:
        cell = trail - 0x7E
    return bytes((row, cell))


@lru_cache(maxsize=1)
def _nec_selected_ibm() -> dict[str, bytes]:
    """Characters of the IBM extensions (CP932 FA40-FC4B) at their NEC-selected places (ED40-EEFC),
    which have JIS rows 89-92 and so can travel in ISO-2022-JP, as Windows' CP50220 sends them."""
    table: dict[str, bytes] = {}
    for lead in (0xED, 0xEE):
        for trail in range(0x40, 0xFD):
            try:
                table.setdefault(bytes((lead, trail)).decode("cp932"), bytes((lead, trail)))
            except UnicodeDecodeError:
                continue
    return table


def encode_iso2022jp(text: str) -> tuple[bytes, int]:
    """Encode for old LGWAN mail clients: ISO-2022-JP with the NEC special characters (①, ㈱) as
    Outlook writes them, half-width katakana widened, anything else unencodable as 〓. Returns
    the bytes and how many characters had to be replaced."""
    import unicodedata

    out, mode, replaced = bytearray(), "ascii", 0
    for char in text:
        if "\uff61" <= char <= "\uff9f":  # half-width katakana: widen (ISO-2022-JP has no kana set)
            char = unicodedata.normalize("NFKC", char)
        if ord(char) < 0x80:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out += char.encode("ascii")
            continue
        try:
            sjis = char.encode("cp932")
        except UnicodeEncodeError:
            sjis, replaced = "〓".encode("cp932"), replaced + 1
        if len(sjis) == 2 and sjis[0] >= 0xFA:
            sjis = _nec_selected_ibm().get(char, b"")
        if len(sjis) != 2 or sjis[0] >= 0xEF:  # user-defined area and unplaceable characters
            sjis, replaced = "〓".encode("cp932"), replaced + 1
        if mode != "jis":
            out += b"\x1b$B"
            mode = "jis"
        out += sjis_to_jis_pair(sjis[0], sjis[1])
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out), replaced
