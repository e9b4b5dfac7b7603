"""The inspector's own reading of a ``mailto:`` link in an output (Office and OpenDocument; the PDF
check reads its bytes itself). Shares nothing with the converters: a mail link passes only when
every ``?field=`` it fills in is one a message is written with (RFC 6068 to, cc, bcc, subject,
body) and no line break or other control character, once percent-decoded, stands in an address,
a field name or any field but the body. ``attach=`` and its kin name a file of the reader's
computer that some mail programs then send."""

from __future__ import annotations

from urllib.parse import unquote

WRITTEN_WITH = ("to", "cc", "bcc", "subject", "body")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def mail_link_ok(target: str) -> bool:
    """False for a mailto link that fills in anything but its message, True for anything else."""
    text = target.strip()
    if not text.lower().startswith("mailto:"):
        return True
    head, _, fields = text[len("mailto:"):].partition("?")
    if _has_control(unquote(head, errors="replace")):
        return False
    for pair in filter(None, fields.split("&")):
        key, _, value = (unquote(piece, errors="replace") for piece in pair.partition("="))
        key = key.strip().lower()
        if key not in WRITTEN_WITH or (key != "body" and _has_control(key + value)):
            return False
    return True
