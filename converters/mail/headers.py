"""Japanese-correct decoding of mail header values and attachment file names.

- RFC 2047 encoded words are joined with their neighbours of the same charset *before* decoding,
  because mailers split ISO-2022-JP and UTF-8 mid-character across words.
- Charset labels go through ``converters.formats.charset`` (Shift_JIS means CP932, ISO-2022-JP keeps ①㈱);
  unknown labels fall back to detection.
- Raw 8-bit header bytes (old Japanese mailers) are detected, not assumed to be Latin-1.
- File names: RFC 2231 (with continuations and charsets), RFC 2047 inside quotes (as Outlook
  writes), or raw 8-bit.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.message import Message

from converters.formats.charset import decode_as, detect_and_decode, normalise_charset

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
FOLDING = re.compile(r"\r?\n[ \t]")


def _raw_bytes(value: str) -> bytes:
    """Header text as the bytes that arrived (compat32 keeps 8-bit bytes as surrogates)."""
    return value.encode("utf-8", "surrogateescape")


def _decode_bytes(data: bytes, charset: str) -> str:
    label = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?ISO-2022-JP*ja?B?...
    if normalise_charset(label) == "unknown":
        return detect_and_decode(data).text
    try:
        return decode_as(data, label)
    except UnicodeDecodeError:
        return detect_and_decode(data).text


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding.lower() == "b":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    data = payload.replace("_", " ").encode("ascii", "replace")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes((int(m.group(1), 16),)), data)


def _plain(text: str) -> str:
    data = _raw_bytes(text)
    if any(byte >= 0x80 for byte in data):
        return detect_and_decode(data).text
    return text


def decode_header_value(value: str | None) -> str:
    """Decode a header value to text: unfold, join split encoded words, decode charsets."""
    if not value:
        return ""
    text = FOLDING.sub(" ", str(value))
    out: list[str] = []
    pending: tuple[str, bytearray] | None = None
    position = 0
    for match in ENCODED_WORD.finditer(text):
        gap = text[position:match.start()]
        if gap and (pending is None or gap.strip()):
            if pending is not None:
                out.append(_decode_bytes(bytes(pending[1]), pending[0]))
                pending = None
            out.append(_plain(gap))
        charset, encoding, payload = match.groups()
        chunk = _word_bytes(encoding, payload)
        if pending is not None and pending[0].lower() == charset.lower():
            pending[1].extend(chunk)
        else:
            if pending is not None:
                out.append(_decode_bytes(bytes(pending[1]), pending[0]))
            pending = (charset, bytearray(chunk))
        position = match.end()
    if pending is not None:
        out.append(_decode_bytes(bytes(pending[1]), pending[0]))
    out.append(_plain(text[position:]))
    return "".join(out)


def raw_header(message: Message, name: str) -> str | None:
    """A header's value as it arrived (8-bit bytes kept as surrogates), not a Header object."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _has_8bit(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def attachment_filename(part: Message) -> str:
    """The attachment's file name as the sender wrote it, or "" when it has none."""
    for header, parameter in (("content-disposition", "filename"), ("content-type", "name")):
        raw = raw_header(part, header)
        if raw is None:
            continue
        if _has_8bit(raw):  # raw 8-bit parameter (old Japanese mailers): no RFC 2231/2047 to decode
            found = re.search(rf'\b{parameter}\s*=\s*(?:"([^"]*)"|([^;\s]+))', raw, re.IGNORECASE)
            if found:
                return _plain(found.group(1) or found.group(2))
            continue
        value = part.get_param(parameter, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded latin-1 text)
            charset, _, raw = value
            data = str(raw).encode("latin-1", "surrogateescape")
            return _decode_bytes(data, charset or "utf-8") if charset else detect_and_decode(data).text
        return decode_header_value(str(value).strip('"'))
    return ""
