"""The email package's own MIME parser, stopped at a nesting depth.

``email``'s FeedParser descends into every multipart and message/* part by recursion (one nested
generator per level), so a mail nested ~1,000 levels deep raises RecursionError and a deeper one
would exhaust the C stack if the recursion limit were raised. A part deeper than ``max_depth`` is
therefore not descended into: it is read the way the parser reads a headers-only message (its
whole body, up to the enclosing part's boundary, as one string payload) and listed in ``cut``.
The structure around it is exactly what the unlimited parser finds: the boundaries of the
enclosing parts still end it, because the same parser code reads them.

Why not pre-scan the raw bytes and cut them: a second MIME reader that disagrees with the real
one on a boundary is how content is smuggled past a filter. Why not raise the recursion limit in
the sandboxed child: a 64 MB mail can be nested a million levels deep; no stack is enough.

Relies on FeedParser's internals (``_new_message``, ``_parse_headers``, ``_msgstack``,
``_headersonly``), unchanged from Python 3.3 to 3.13; tests/converters/test_mime_parser.py
checks the behaviour, so a change there fails the tests instead of the mail.
"""

from __future__ import annotations

from email.feedparser import FeedParser
from email.message import Message
from email.policy import compat32


class DepthLimitedParser(FeedParser):
    """FeedParser (compat32) that does not descend below ``max_depth`` (the root is depth 0)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(policy=compat32)
        self.max_depth = max_depth
        self.cut: list[Message] = []

    def _new_message(self) -> None:
        self._headersonly = False  # set below for one over-deep part only, never for its siblings
        super()._new_message()  # type: ignore[misc]

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        if len(self._msgstack) - 1 > self.max_depth:  # type: ignore[attr-defined]
            self._headersonly = True
            self.cut.append(self._cur)  # type: ignore[attr-defined]


def parse_limited(raw: bytes, max_depth: int) -> tuple[Message, list[Message]]:
    """The message as ``email.message_from_bytes(raw, policy=compat32)`` reads it, but for the
    parts deeper than ``max_depth``, which hold their undivided body (returned in the list)."""
    parser = DepthLimitedParser(max_depth)
    parser.feed(raw.decode("ascii", "surrogateescape"))  # as BytesParser does
    message = parser.close()
    return message, parser.cut
