"""What a kept link may carry, once its scheme is allowed (http, https, mailto: Office,
OpenDocument, PDF, mail text).

A web link may not name a user before its host (``https://www.city.example.lg.jp@attacker.example/``
goes to attacker.example while it reads as the city's site: a phishing form; no real link needs
it). A ``mailto:`` link carries addressees and the fields a message is written with (RFC 6068:
to, cc, bcc, subject, body). Any other field goes with the link:
several mail programs read ``?attach=`` (``attachment=``, ...) as a file of the reader's own computer
to attach, so one click mails it away; a control character (an encoded line break) in an address or
a field other than the body could add mail headers of its own."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

MAIL_FIELDS = frozenset({b"to", b"cc", b"bcc", b"subject", b"body"})
CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
WEB = re.compile(r"(?i)^(?:https?|ftp):[/\\]*([^/\\?#]*)")


def link_safe(link: str) -> bool:
    """True unless ``link`` is a web link naming a user before its host, or a mailto link with a
    field other than the message's own or a control character outside its body (percent-decoded,
    as mail programs read it). Other schemes are judged by the caller's allowlist."""
    stripped = link.strip()
    web = WEB.match(stripped)
    if web:
        return "@" not in unquote_to_bytes(web.group(1)).decode("latin-1")
    if stripped[:7].lower() != "mailto:":
        return True
    address, _, query = stripped[7:].partition("?")
    if CONTROL.search(unquote_to_bytes(address)):
        return False
    for field in query.split("&") if query else []:
        if not field:
            continue  # "?subject=x&": an empty field fills in nothing
        name, _, content = field.partition("=")
        field_name = unquote_to_bytes(name).strip().lower()
        if field_name not in MAIL_FIELDS:
            return False
        if field_name != b"body" and CONTROL.search(unquote_to_bytes(content)):
            return False
    return True
