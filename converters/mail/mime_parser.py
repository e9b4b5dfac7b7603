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
``_headersonly``), unchanged from Python 3.3 to 3.13; tests/converters/mail/test_mime_parser.py
checks the behaviour, so a change there fails the tests instead of the mail.

Every part is a ``ParamSafeMessage``: compat32's ``Message`` made total on two kinds of damage
that made it raise out of the parse or out of any later read of the part (the whole mail was
rejected): RFC 2231 pieces of one parameter numbered and unnumbered (``filename*2`` beside
``filename*``: ``email.utils.decode_params`` raises TypeError sorting them, even for the
parser's own ``get_boundary``), and a charset label ``bytes.decode`` refuses with ValueError or
TypeError instead of LookupError (a NUL byte in it; an RFC 2231 label, which is a tuple) when the
undecoded payload of a part holding 8-bit bytes is read.
"""

from __future__ import annotations

import re
from email import utils
from email.feedparser import FeedParser
from email.message import Message, _parseparam  # type: ignore[attr-defined]
from email.policy import Policy, compat32
from typing import Any

# Content-Transfer-Encoding as Thunderbird and Outlook read it: the first token, without the white
# space, comment or parameters after it (compat32 compares the whole value, so "base64 " with a
# trailing space was not decoded: the attachment arrived as its base64 text)
CTE_TOKEN = re.compile(r"\s*([^\s;(]+)")
RFC2231_PIECE = re.compile(r"^(?P<name>\w+)\*((?P<num>[0-9]+)\*?)?$", re.ASCII)  # as email.utils reads them


class ParamSafeMessage(Message):
    """compat32's ``Message``; a parameter whose RFC 2231 pieces are numbered and unnumbered is
    read from its unnumbered piece alone (a complete value by itself; continuations are
    meaningless without ``*0``) and named in ``damaged_parameters`` (``header: name``), and the
    undecoded payload is read under an unusable charset label as under an unknown one."""

    def __init__(self, policy: Policy = compat32) -> None:
        super().__init__(policy)
        self.damaged_parameters: list[str] = []

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        try:
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        except TypeError:  # decode_params: '<' not supported between 'NoneType' and 'int' (name* and name*N)
            pass
        params: list[tuple[str, str]] = []
        for piece in _parseparam(self.get(header, "")):
            name, _, value = piece.partition("=")
            params.append((name.strip(), value.strip()))
        pieces = [(found.group("name"), found.group("num")) for name, _ in params[1:]
                  if (found := RFC2231_PIECE.match(name))]
        damaged = {name for name, num in pieces if num is None} & {name for name, num in pieces if num is not None}
        for name in sorted(damaged):
            if f"{header.lower()}: {name}" not in self.damaged_parameters:
                self.damaged_parameters.append(f"{header.lower()}: {name}")
        kept = params[:1] + [(name, value) for name, value in params[1:]
                             if not ((found := RFC2231_PIECE.match(name)) and found.group("num") is not None
                                     and found.group("name") in damaged)]
        return utils.decode_params(kept)

    def get_payload(self, i: int | None = None, decode: bool = False) -> Any:
        try:
            return super().get_payload(i, decode)  # type: ignore[call-overload]
        except (ValueError, TypeError):
            # bytes.decode(label, "replace") in the undecoded read of a str payload holding 8-bit
            # bytes: the email package catches LookupError only
            payload = self._payload  # type: ignore[attr-defined]
            if i is not None or decode or not isinstance(payload, str):
                raise
            return payload.encode("ascii", "surrogateescape").decode("ascii", "replace")


class DepthLimitedParser(FeedParser):
    """FeedParser (compat32) that does not descend below ``max_depth`` (the root is depth 0) and
    counts the parts it makes (``parts``)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(ParamSafeMessage, policy=compat32)
        self.max_depth = max_depth
        self.cut: list[Message] = []
        self.parts = 0

    def _new_message(self) -> None:
        self._headersonly = False  # set below for one over-deep part only, never for its siblings
        super()._new_message()  # type: ignore[misc]
        self.parts += 1

    def _parse_headers(self, lines: list[str]) -> None:
        super()._parse_headers(lines)  # type: ignore[misc]
        current: Message = self._cur  # type: ignore[attr-defined]
        encoding = current.get("content-transfer-encoding")
        if isinstance(encoding, str):  # "base64 ", "BASE64 (comment)": read as the mail programs read it
            token = CTE_TOKEN.match(encoding)
            if token is not None and token.group(1) != encoding:
                current.replace_header("content-transfer-encoding", token.group(1))
        if len(self._msgstack) - 1 > self.max_depth:  # type: ignore[attr-defined]
            self._headersonly = True
            self.cut.append(self._cur)  # type: ignore[attr-defined]


FEED_CHARS = 64 * 1024  # the parser is fed this much at a time, so a part budget can stop it early


def parse_limited(raw: bytes, max_depth: int, max_parts: int | None = None) -> tuple[Message, list[Message]]:
    """The message as ``email.message_from_bytes(raw, policy=compat32)`` reads it, but for the
    parts deeper than ``max_depth``, which hold their undivided body (returned in the list).

    ``max_parts``: once the parser has made more parts than this, it reads no further (a 50 MB
    mail of a million tiny parts would otherwise cost minutes and gigabytes before anything could
    be cut). What was read is exactly what the unlimited parser makes of that prefix (FeedParser
    is incremental), and the part being read when it stopped is returned in the list, so the
    caller reports the truncation."""
    parser = DepthLimitedParser(max_depth)
    text = raw.decode("ascii", "surrogateescape")  # as BytesParser does
    for start in range(0, len(text), FEED_CHARS):
        parser.feed(text[start:start + FEED_CHARS])
        if max_parts is not None and parser.parts > max_parts:
            stopped = parser._cur  # type: ignore[attr-defined]
            message = parser.close()
            parser.cut.append(stopped if stopped is not None else message)
            return message, parser.cut
    return parser.close(), parser.cut
