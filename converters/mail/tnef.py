"""What the split takes from a winmail.dat (Outlook's TNEF): the body, the HTML body, whether only
an RTF body is there, and the attached files - read with tnefparse, all at once."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# What tnefparse raises on a damaged stream (it checks little itself): struct.error and
# IndexError reading past the end, ValueError/UnicodeDecodeError on bad values, LookupError on an
# unknown code page, KeyError/TypeError on unexpected property types, UnboundLocalError when an
# attachment's attribute comes before the attachment starts.
TNEF_ERRORS = (ValueError, IndexError, KeyError, TypeError, LookupError, UnboundLocalError, struct.error)


@dataclass
class TnefContent:
    body: str | bytes | None
    html: str | bytes | None
    rtf_only: bool
    files: list[tuple[str | bytes, bytes]]


def read_tnef(data: bytes) -> TnefContent:
    """Everything the split needs from a winmail.dat, read at once: tnefparse decodes names and
    bodies lazily, so a damaged stream can fail on any attribute, not only when it is opened."""
    import tnefparse

    tnef = tnefparse.TNEF(data)
    files: list[tuple[str | bytes, bytes]] = [
        (attachment.long_filename() or attachment.name or "attachment", bytes(attachment.data or b""))
        for attachment in tnef.attachments]
    return TnefContent(tnef.body, tnef.htmlbody, not tnef.body and not tnef.htmlbody and bool(tnef.has_body()), files)
