"""Split an internet mail into its text and its attachments (the sandboxed half of ``gateway mail``).

The message is parsed from raw bytes under limits (size, nesting, parts, header length). The
body becomes text (text/plain preferred; HTML-only mail through ``html_text``; calendars
summarised), forwarded messages are followed, signatures dropped and encrypted bodies reported
(never passed). Attachments are written as files for the trusted side to disarm one by one.
Nothing here builds the outgoing message: the trusted side does, from validated pieces.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from converters.charset import decode_as, detect_and_decode, normalise_charset
from converters.encoded_blocks import EncodedBlock, find_blocks, remove_blocks
from converters.html_text import html_to_text
from converters.mail_headers import attachment_filename, decode_header_value, raw_header

ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
KEPT_HEADERS = ("from", "to", "cc", "date", "subject", "message-id", "in-reply-to", "references", "reply-to")
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                             "application/pgp-signature"})
HEADER_START = re.compile(rb"^(From |[!-9;-~]{1,76}:[ \t]?\S)")
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
ENCRYPTED_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted"})


@dataclass(frozen=True)
class MailLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 20
    max_parts: int = 500
    max_header_chars: int = 16 * 1024
    max_body_chars: int = 8 * 1024 * 1024


@dataclass
class Split:
    headers: dict[str, str] = field(default_factory=dict)
    authentication_results: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)
    findings: dict[tuple[str, str], None] = field(default_factory=dict)
    html_converted: bool = False
    parts: int = 0
    addresses: dict[str, list[list[str]]] = field(default_factory=dict)

    def note(self, code: str, detail: str = "") -> None:
        self.findings[(code, detail[:200])] = None


class MailRejected(Exception):
    """The bytes are not a mail that can be handled at all (plain reason in ``args[0]``)."""


def decode_body(part: Message, split: Split) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    label = part.get_content_charset()
    if label and normalise_charset(label) != "unknown":
        try:
            return decode_as(data, label)
        except UnicodeDecodeError:
            split.note("mail_charset_mislabelled", label)
    elif label:
        split.note("mail_charset_unknown", label)
    decoded = detect_and_decode(data)
    if decoded.replaced:
        split.note("text_undecodable_bytes_replaced", decoded.charset)
    return decoded.text


def summarise_calendar(text: str) -> str:
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    wanted = {"SUMMARY": "件名/Summary", "DTSTART": "開始/Start", "DTEND": "終了/End", "LOCATION": "場所/Location",
              "ORGANIZER": "主催/Organizer"}
    lines = ["[予定 / Calendar]"]
    for line in unfolded.splitlines():
        key = line.split(":", 1)[0].split(";", 1)[0].upper()
        if key in wanted and ":" in line:
            lines.append(f"{wanted[key]}: {line.split(':', 1)[1].strip()}")
    return "\n".join(lines)


class MailSplitter:
    def __init__(self, out_dir: Path, limits: MailLimits, defang: bool = True) -> None:
        self.out_dir = out_dir
        self.defang = defang
        self.limits = limits
        self.split = Split()

    def run(self, raw: bytes) -> Split:
        if len(raw) > self.limits.max_bytes:
            raise MailRejected("the message is larger than the mail size limit")
        if not HEADER_START.match(raw.lstrip(b"\r\n")[:1000]):
            raise MailRejected("the data is not an internet mail message (no header at the start)")
        message = message_from_bytes(raw, policy=compat32)
        for name in KEPT_HEADERS:
            value = raw_header(message, name)
            if value is not None:
                self.split.headers[name] = self._header(value, name)
                if name in ADDRESS_HEADERS:  # parsed before decoding: an encoded name cannot add addresses
                    self.split.addresses[name] = [
                        [decode_header_value(display), address]
                        for display, address in getaddresses([value[: self.limits.max_header_chars]])[:100]]
        self.split.authentication_results = [
            self._header(str(v), "authentication-results") for k, v in message.raw_items()
            if k.lower() == "authentication-results"]
        if message.defects:
            self.split.note("mail_defects", ", ".join(sorted({type(d).__name__ for d in message.defects})))
        self._walk(message, 0, forwarded=False)
        return self.split

    def _header(self, value: str, name: str) -> str:
        if len(value) > self.limits.max_header_chars:
            self.split.note("mail_header_truncated", name)
            value = value[: self.limits.max_header_chars]
        return decode_header_value(value)

    def _walk(self, part: Message, depth: int, *, forwarded: bool) -> None:
        self.split.parts += 1
        if depth > self.limits.max_depth or self.split.parts > self.limits.max_parts:
            self.split.note("mail_structure_truncated", "nesting or part count over the limit")
            return
        ctype = part.get_content_type().lower()
        if ctype == "message/rfc822":  # compat32 shows it as a one-child multipart
            self._forwarded(part, depth)
            return
        if part.is_multipart():
            self._multipart(part, ctype, depth, forwarded)
            return
        filename = attachment_filename(part)
        disposition = (raw_header(part, "content-disposition") or "").split(";", 1)[0].strip().lower()
        if ctype in SIGNATURE_TYPES:
            self._drop(filename or "signature", ctype, "signature_removed",
                       "電子署名は無害化後は検証できないため外しました / signature removed (cannot be verified)")
        elif ctype in ENCRYPTED_TYPES:
            self._drop(filename or "encrypted", ctype, "encrypted_body",
                       "暗号化されているため検査できず、届けられません / encrypted: cannot be inspected, not delivered")
        elif ctype in TNEF_TYPES or filename.lower() == "winmail.dat":
            self._tnef(part, forwarded)
        elif filename or disposition == "attachment" or not ctype.startswith("text/"):
            self._attachment(part, filename, ctype, forwarded)
        elif ctype == "text/calendar":
            self.split.body.append(summarise_calendar(decode_body(part, self.split)))
        elif ctype == "text/html":
            self.split.body.append(html_to_text(decode_body(part, self.split), defang=self.defang))
            self.split.html_converted = True
        else:
            self.split.body.append(decode_body(part, self.split))

    def _multipart(self, part: Message, ctype: str, depth: int, forwarded: bool) -> None:
        children = part.get_payload()
        if not isinstance(children, list):
            return
        if ctype == "multipart/alternative":
            plain = [c for c in children if isinstance(c, Message) and c.get_content_type() == "text/plain"]
            chosen = plain[0] if plain else next((c for c in reversed(children) if isinstance(c, Message)), None)
            if chosen is not None:
                self._walk(chosen, depth + 1, forwarded=forwarded)
            return
        if ctype == "multipart/encrypted":
            self._drop("encrypted", ctype, "encrypted_body",
                       "暗号化されているため検査できず、届けられません / encrypted: cannot be inspected, not delivered")
            return
        for child in children:
            if isinstance(child, Message):
                self._walk(child, depth + 1, forwarded=forwarded)

    def _forwarded(self, part: Message, depth: int) -> None:
        inner = part.get_payload()
        message = inner[0] if isinstance(inner, list) and inner else None
        if not isinstance(message, Message):
            return
        self.split.note("forwarded_message_inlined", decode_header_value(raw_header(message, "subject")))
        heading = ["", "---------- 転送メッセージ / Forwarded message ----------"]
        for name, label in (("from", "From"), ("date", "Date"), ("subject", "Subject"), ("to", "To")):
            value = raw_header(message, name)
            if value:
                heading.append(f"{label}: {self._header(value, name)}")
        self.split.body.append("\n".join(heading) + "\n")
        self._walk(message, depth + 1, forwarded=True)

    def _attachment(self, part: Message, filename: str, ctype: str, forwarded: bool) -> None:
        payload = part.get_payload(decode=True)
        self._write_attachment(payload if isinstance(payload, bytes) else b"", filename, ctype, forwarded)

    def _write_attachment(self, data: bytes, filename: str, ctype: str, forwarded: bool) -> None:
        index = len(self.split.attachments) + 1
        name = filename or f"attachment-{index}.{ctype.split('/', 1)[-1][:10] or 'bin'}"
        (self.out_dir / f"att-{index}").write_bytes(data)
        self.split.attachments.append({"file": f"att-{index}", "name": name, "content_type": ctype,
                                       "size": len(data), "forwarded": forwarded})

    def _tnef(self, part: Message, forwarded: bool) -> None:
        """winmail.dat (Outlook's TNEF): its body becomes text, its files become attachments."""
        import tnefparse

        payload = part.get_payload(decode=True)
        try:
            tnef = tnefparse.TNEF(payload if isinstance(payload, bytes) else b"")
        except (ValueError, IndexError, KeyError, TypeError, struct.error) as exc:
            self.split.note("tnef_unreadable", type(exc).__name__)
            self._drop("winmail.dat", "application/ms-tnef", "corrupt_file",
                       "winmail.dat が壊れているため読めません / winmail.dat is damaged")
            return
        self.split.note("tnef_unpacked", f"{len(tnef.attachments)} file(s)")
        if tnef.body:
            body = tnef.body if isinstance(tnef.body, str) else detect_and_decode(tnef.body).text
            self.split.body.append(body)
        elif tnef.htmlbody:
            html = tnef.htmlbody if isinstance(tnef.htmlbody, str) else detect_and_decode(tnef.htmlbody).text
            self.split.body.append(html_to_text(html, defang=self.defang))
            self.split.html_converted = True
        for attachment in tnef.attachments:
            name = attachment.long_filename() or attachment.name or "attachment"
            if isinstance(name, bytes):
                name = detect_and_decode(name).text
            self._write_attachment(bytes(attachment.data or b""), str(name).strip("\x00"),
                                   "application/octet-stream", forwarded)

    def _drop(self, name: str, ctype: str, code: str, reason: str) -> None:
        self.split.note(code, ctype)
        self.split.dropped.append({"name": name, "content_type": ctype, "reason_code": code, "reason": reason})


def split_mail(raw: bytes, out_dir: Path, limits: MailLimits | None = None, *, defang: bool = True) -> dict[str, Any]:
    """Write body.txt and att-N files into ``out_dir``; return the JSON-ready description."""
    splitter = MailSplitter(out_dir, limits or MailLimits(), defang)
    try:
        split = splitter.run(raw)
    except MailRejected as exc:
        return {"rejected": True, "reason": str(exc)}
    body = "\n".join(text.rstrip("\n") for text in split.body)

    def encoded_file(block: EncodedBlock) -> str:  # uuencode, yEnc, BinHex anywhere, any line end
        name = block.name or block.kind
        split.note("encoded_file_removed", block.describe())
        split.dropped.append({
            "name": name, "content_type": "text/x-encoded-file", "reason_code": "encoded_file_removed",
            "reason": "本文に埋め込まれた符号化ファイルを削除しました / a file encoded in the text was removed"})
        return f"[符号化ファイルを削除しました / encoded file removed: {name}]\n"

    body = remove_blocks(body, find_blocks(body), encoded_file)
    if len(body) > splitter.limits.max_body_chars:
        body = body[: splitter.limits.max_body_chars]
        split.note("mail_body_truncated", "")
    (out_dir / "body.txt").write_text(body, encoding="utf-8")
    return {"rejected": False, "headers": split.headers, "addresses": split.addresses,
            "authentication_results": split.authentication_results,
            "body_file": "body.txt", "html_converted": split.html_converted, "attachments": split.attachments,
            "dropped": split.dropped, "findings": [{"code": c, "detail": d} for c, d in split.findings]}
