"""Split an internet mail into its text and its attachments (the sandboxed half of ``gateway mail``).

The message is parsed from raw bytes under limits (size, nesting, parts, header length). The
body becomes text (text/plain preferred; HTML-only mail through ``html_text``; calendars
summarised), forwarded messages are followed, signatures dropped and encrypted bodies reported
(never passed). Attachments are written as files for the trusted side to disarm one by one.
Nothing here builds the outgoing message: the trusted side does, from validated pieces.

Every leaf of the MIME tree, wherever it stands, ends as body text, an attachment, or an entry
the notice names: ``dropped`` (with a stable code and a reason) or ``omitted`` (another form of
the body in multipart/alternative; files and pictures in the branches not chosen as the body are
still attachments).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from converters.formats.charset import decode_as, detect_and_decode, normalise_charset
from converters.formats.encoded_blocks import EncodedBlock, find_blocks, removal_note, remove_blocks
from converters.formats.html_text import defang_text, html_to_text, neutralise_paths
from converters.mail.headers import attachment_filename, decode_header_value, raw_header
from converters.mail.mime_parser import ParamSafeMessage, parse_limited
from converters.mail.tnef import TNEF_ERRORS, read_tnef

ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
KEPT_HEADERS = ("from", "to", "cc", "date", "subject", "message-id", "in-reply-to", "references", "reply-to")
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                             "application/pgp-signature"})
SURROGATE = re.compile("[\ud800-\udfff]")
MAX_AUTHENTICATION_RESULTS = 50  # a header repeated thousands of times: the rest is not read
HEADER_START = re.compile(rb"^(From |[!-9;-~]{1,76}:[ \t]?\S)")
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
ENCRYPTED_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted"})
ENCRYPTED_REASON = "暗号化されているため検査できず、届けられません / encrypted: cannot be inspected, not delivered"
STATUS_REPORT_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status",
                                 "message/disposition-notification", "message/global-disposition-notification",
                                 "message/feedback-report"})


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
    omitted: list[dict[str, str]] = field(default_factory=list)  # other forms of the body (multipart/alternative)
    truncated: bool = False
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


def valid_text(value: str) -> str:
    """Text the answer can carry as UTF-8. compat32 keeps raw 8-bit header bytes as lone
    surrogates (an address, a charset label, a content type); they are decoded as raw header
    bytes are, any other lone surrogate replaced. Such a string used to fail the answer's
    encoding in the sandbox only (a split run in-process never encodes its report)."""
    if not SURROGATE.search(value):
        return value
    try:
        return detect_and_decode(value.encode("utf-8", "surrogateescape")).text
    except UnicodeEncodeError:  # a surrogate no byte stands for
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def valid_report(value: Any) -> Any:
    """``value`` (JSON-ready: dicts, lists, strings, numbers) with every string ``valid_text``."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(str(key)): valid_report(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [valid_report(item) for item in value]
    return value


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


def _body_alternative(children: list[Message]) -> Message | None:
    """The alternative that becomes the body: the first text/plain that is not a file, else the
    last one (the richest, by RFC 2046)."""
    for child in children:
        if child.get_content_type() == "text/plain" and not attachment_filename(child):
            return child
    return children[-1] if children else None


def _inner_message(part: Message, max_depth: int) -> Message | None:
    """The message inside a message/* part. Some mailers base64-encode it (RFC 2046 forbids
    that); compat32 then shows the encoded text as a message without headers. ``max_depth``:
    how much deeper the decoded message may still be read."""
    payload = part.get_payload()
    message = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(message, Message):
        return None
    encoding = (raw_header(part, "content-transfer-encoding") or "").strip().lower()
    encoded = message.get_payload()
    if encoding == "base64" and not message.keys() and isinstance(encoded, str):
        try:
            return parse_limited(base64.b64decode(encoded), max_depth)[0]
        except (binascii.Error, ValueError):
            return message
    return message


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
        # deeper parts are not parsed, nor parts beyond a budget well above what the walk reads: truncated
        message, cut = parse_limited(raw, self.limits.max_depth, max_parts=2 * self.limits.max_parts)
        for name in KEPT_HEADERS:
            value = raw_header(message, name)
            if value is not None:
                self.split.headers[name] = self._header(value, name)
                if name in ADDRESS_HEADERS:  # parsed before decoding: an encoded name cannot add addresses
                    self.split.addresses[name] = [
                        [decode_header_value(display), address]
                        for display, address in getaddresses([value[: self.limits.max_header_chars]])[:100]]
        results = [str(v) for k, v in message.raw_items() if k.lower() == "authentication-results"]
        if len(results) > MAX_AUTHENTICATION_RESULTS:  # the trusted ones are the topmost (added last)
            self.split.note("mail_header_truncated", f"authentication-results: {len(results)} copies, "
                                                     f"the first {MAX_AUTHENTICATION_RESULTS} read")
        self.split.authentication_results = [
            self._header(value, "authentication-results") for value in results[:MAX_AUTHENTICATION_RESULTS]]
        if message.defects:
            self.split.note("mail_defects", ", ".join(sorted({type(d).__name__ for d in message.defects})))
        self._walk(message, 0, forwarded=False)
        if cut:  # the walk stops above them; should one be out of its reach, the notice still says so
            self._truncated()
        return self.split

    def _header(self, value: str, name: str) -> str:
        if len(value) > self.limits.max_header_chars:
            self.split.note("mail_header_truncated", name)
            value = value[: self.limits.max_header_chars]
        return decode_header_value(value)

    def _walk(self, part: Message, depth: int, *, forwarded: bool, alternative: bool = False) -> None:
        """Every leaf ends as body text, an attachment, or an entry for the notice (``dropped``,
        or ``omitted`` for another form of the body). ``alternative``: the part is in a branch
        of multipart/alternative that was not chosen as the body; its text is another
        rendering of the body (omitted), anything else in it is still delivered or named."""
        self.split.parts += 1
        if depth > self.limits.max_depth or self.split.parts > self.limits.max_parts:
            self._truncated()
            return
        ctype = part.get_content_type().lower()
        if ctype in STATUS_REPORT_TYPES:
            self.split.body.append(self._status_report(part, ctype))
        elif ctype == "message/partial":
            self._drop(f"message/partial ({part.get_param('number') or '?'}/{part.get_param('total') or '?'})",
                       ctype, "message_partial",
                       "分割して送られたメッセージの一部のため、組み立てられず届けられません / one piece of a message "
                       "sent in pieces: it cannot be put together, not delivered")
        elif ctype == "message/external-body":
            self._drop(f"message/external-body ({part.get_param('access-type') or '?'})", ctype,
                       "external_body", "本文がメールの外(URL など)にあり、取りに行きません / the content is stored "
                       "outside the message (a URL or server) and is not fetched")
        elif ctype.startswith("message/"):  # rfc822, global, news ...: compat32 shows it as a one-child multipart
            self._forwarded(part, ctype, depth)
        elif part.is_multipart():
            self._multipart(part, ctype, depth, forwarded, alternative)
        else:
            self._leaf(part, ctype, forwarded, alternative)
        if isinstance(part, ParamSafeMessage) and part.damaged_parameters:  # found as the part was read
            self.split.note("mail_defects", "damaged RFC 2231 parameter: " + ", ".join(part.damaged_parameters))

    def _leaf(self, part: Message, ctype: str, forwarded: bool, alternative: bool) -> None:
        filename = attachment_filename(part)
        disposition = (raw_header(part, "content-disposition") or "").split(";", 1)[0].strip().lower()
        if ctype in SIGNATURE_TYPES:
            self._drop(filename or "signature", ctype, "signature_removed",
                       "電子署名は無害化後は検証できないため外しました / signature removed (cannot be verified)")
        elif ctype in ENCRYPTED_TYPES and str(part.get_param("smime-type") or "").lower() == "signed-data":
            self._drop(filename or "smime.p7m", ctype, "signed_opaque",
                       "署名の中に本文が包まれた形式(S/MIME)のため検査できず、届けられません / signed in a form that "
                       "wraps the content (opaque S/MIME): cannot be inspected, not delivered")
        elif ctype in ENCRYPTED_TYPES:
            self._drop(filename or "encrypted", ctype, "encrypted_body", ENCRYPTED_REASON)
        elif ctype in TNEF_TYPES or filename.lower() == "winmail.dat":
            self._tnef(part, forwarded)
        elif filename or disposition == "attachment" or not ctype.startswith("text/"):
            self._attachment(part, filename, ctype, forwarded)
        elif ctype == "text/calendar":  # in an alternative too: an invitation's plain text rarely holds it all
            self.split.body.append(summarise_calendar(decode_body(part, self.split)))
        elif alternative:
            self.split.note("alternative_omitted", ctype)
            self.split.omitted.append({"name": filename, "content_type": ctype})
        elif ctype == "text/html":
            self.split.body.append(html_to_text(decode_body(part, self.split), defang=self.defang))
            self.split.html_converted = True
        else:
            self.split.body.append(decode_body(part, self.split))

    def _multipart(self, part: Message, ctype: str, depth: int, forwarded: bool, alternative: bool) -> None:
        payload = part.get_payload()
        children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else []
        if ctype == "multipart/encrypted":
            self._drop("encrypted", ctype, "encrypted_body", ENCRYPTED_REASON)
            return
        chosen = _body_alternative(children) if ctype == "multipart/alternative" else None
        for child in children:  # unknown subtypes (report, digest, appledouble, parallel ...) as mixed
            self._walk(child, depth + 1, forwarded=forwarded,
                       alternative=alternative or (chosen is not None and child is not chosen))

    def _forwarded(self, part: Message, ctype: str, depth: int) -> None:
        message = _inner_message(part, self.limits.max_depth - depth - 1)
        if message is None:
            self._attachment(part, attachment_filename(part), ctype, True)
            return
        self.split.note("forwarded_message_inlined", decode_header_value(raw_header(message, "subject")))
        heading = ["", "---------- 転送メッセージ / Forwarded message ----------"]
        for name, label in (("from", "From"), ("date", "Date"), ("subject", "Subject"), ("to", "To")):
            value = raw_header(message, name)
            if value:
                heading.append(f"{label}: {self._header(value, name)}")
        self.split.body.append("\n".join(heading) + "\n")
        self._walk(message, depth + 1, forwarded=True)

    def _status_report(self, part: Message, ctype: str) -> str:
        """A delivery or read report's fields as text (compat32 gives one header block a child)."""
        lines = [f"[{ctype}]"]
        payload = part.get_payload()
        for block in payload if isinstance(payload, list) else []:
            if not isinstance(block, Message):
                continue
            lines += [f"{key}: {self._header(str(value), key.lower())}" for key, value in block.items()]
            text = block.get_payload()
            if isinstance(text, str) and text.strip():
                lines.append(text.strip())
            lines.append("")
        if not isinstance(payload, list):
            lines.append(decode_body(part, self.split))
        return "\n".join(lines).rstrip("\n")

    def _truncated(self) -> None:
        if self.split.truncated:
            return
        self.split.truncated = True
        self.split.note("mail_structure_truncated", "nesting or part count over the limit")
        self._drop("(以降の部分 / the remaining parts)", "multipart/mixed", "mail_structure_truncated",
                   "入れ子が深すぎるか部分が多すぎるため、以降の部分は読んでいません / nested too deeply or too many "
                   "parts: the rest of the message was not read")

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
        payload = part.get_payload(decode=True)
        try:
            tnef = read_tnef(payload if isinstance(payload, bytes) else b"")
        except TNEF_ERRORS as exc:
            self.split.note("tnef_unreadable", type(exc).__name__)
            self._drop("winmail.dat", "application/ms-tnef", "corrupt_file",
                       "winmail.dat が壊れているため読めません / winmail.dat is damaged")
            return
        self.split.note("tnef_unpacked", f"{len(tnef.files)} file(s)")
        if tnef.body:
            body = tnef.body if isinstance(tnef.body, str) else detect_and_decode(tnef.body).text
            self.split.body.append(body)
        elif tnef.html:
            html = tnef.html if isinstance(tnef.html, str) else detect_and_decode(tnef.html).text
            self.split.body.append(html_to_text(html, defang=self.defang))
            self.split.html_converted = True
        elif tnef.rtf_only:
            self._drop("winmail.dat (RTF)", "application/rtf", "tnef_rtf_body",
                       "Outlook のリッチテキスト形式の本文は読み取れないため届けられません / Outlook's rich-text "
                       "body inside winmail.dat cannot be read, not delivered")
        for name, data in tnef.files:
            text = detect_and_decode(name).text if isinstance(name, bytes) else str(name)
            self._write_attachment(data, text.strip("\x00"), "application/octet-stream", forwarded)

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
        return removal_note(block)

    body = remove_blocks(body, find_blocks(body), encoded_file)
    body = neutralise_paths(body)  # a file: URL or UNC path in the text is one Outlook makes clickable
    if splitter.defang:  # and a web address in a text/plain body as much as one in HTML
        body = defang_text(body)
    if len(body) > splitter.limits.max_body_chars:
        body = body[: splitter.limits.max_body_chars]
        split.note("mail_body_truncated", "")
        split.dropped.append({"name": "(本文の続き / the rest of the body)", "content_type": "text/plain",
                              "reason_code": "mail_body_truncated",
                              "reason": "本文が長すぎるため、続きを省きました / the body is too long: "
                                        "the rest was left out"})
    (out_dir / "body.txt").write_text(valid_text(body), encoding="utf-8")
    report: dict[str, Any] = {
        "rejected": False, "headers": split.headers, "addresses": split.addresses,
        "authentication_results": split.authentication_results,
        "body_file": "body.txt", "html_converted": split.html_converted, "attachments": split.attachments,
        "dropped": split.dropped, "omitted": split.omitted,
        "findings": [{"code": c, "detail": d} for c, d in split.findings]}
    return {key: valid_report(value) for key, value in report.items()}
