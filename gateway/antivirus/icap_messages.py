"""ICAP messages as the client reads them (RFC 3507): a response's status line and headers read
under limits, the Encapsulated header, and the threat names engines report in X-Infection-Found,
X-Violations-Found or X-Virus-ID."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

from gateway.antivirus.errors import EngineProtocolError, EngineUnavailable
from gateway.antivirus.verdict import printable

MAX_LINE = 16 * 1024
MAX_HEADERS = 200
_THREAT = re.compile(r"Threat=([^;]+)")


@dataclass(frozen=True)
class IcapResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]



def threat_names(response: IcapResponse) -> tuple[str, ...]:
    """Threat names from X-Infection-Found, X-Violations-Found and X-Virus-ID (in that order, once each)."""
    names: list[str] = []

    def add(name: str) -> None:
        clean = printable(name.strip())
        if clean and clean != "-" and clean not in names:
            names.append(clean)

    for value in response.get_all("X-Infection-Found"):
        for match in _THREAT.finditer(value):
            add(match.group(1))
    for value in response.get_all("X-Violations-Found"):
        lines = [line.strip() for line in value.split("\n")]
        count = header_int(lines[0]) if lines else None
        if count:
            for index in range(count):
                position = 1 + index * 4 + 1  # filename, threat, id, disposition
                if position < len(lines):
                    add(lines[position])
    for value in response.get_all("X-Virus-ID"):
        add(value)
    return tuple(names)


def parse_encapsulated(value: str, what: str) -> list[tuple[str, int]]:
    sections: list[tuple[str, int]] = []
    for item in value.split(","):
        kind, sep, offset = item.strip().partition("=")
        if not sep or not offset.strip().isdigit() or kind.strip() not in {
                "req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body"}:
            raise EngineProtocolError(f"{what} sent an Encapsulated header that cannot be read: {printable(value)!r}")
        sections.append((kind.strip(), int(offset)))
    if not sections or [o for _, o in sections] != sorted(o for _, o in sections):
        raise EngineProtocolError(f"{what} sent an Encapsulated header that cannot be read: {printable(value)!r}")
    return sections


def read_response(reader: BinaryIO, what: str) -> IcapResponse:
    """Status line and headers of one ICAP answer (continuation lines joined with a newline)."""
    line = reader.readline(MAX_LINE)
    if not line:
        raise EngineUnavailable(f"{what} closed the connection without an answer")
    text = line.decode("latin-1").rstrip("\r\n")
    parts = text.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("ICAP/") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise EngineProtocolError(f"{what} gave an answer that is not ICAP: {printable(text, 80)!r}")
    headers: list[tuple[str, str]] = []
    while True:
        raw = reader.readline(MAX_LINE)
        if not raw:
            raise EngineUnavailable(f"{what} closed the connection in the middle of its answer")
        if not raw.endswith(b"\n"):
            raise EngineProtocolError(f"{what} sent a header line over {MAX_LINE} bytes")
        header = raw.decode("latin-1").rstrip("\r\n")
        if not header:
            break
        if header[0] in " \t" and headers:
            key, value = headers[-1]
            headers[-1] = (key, f"{value}\n{header.strip()}")
            continue
        key, sep, value = header.partition(":")
        if not sep or not key or key != key.strip():
            raise EngineProtocolError(f"{what} sent a header that cannot be read: {printable(header, 80)!r}")
        headers.append((key, value.strip()))
        if len(headers) > MAX_HEADERS:
            raise EngineProtocolError(f"{what} sent more than {MAX_HEADERS} headers")
    return IcapResponse(int(parts[1]), parts[2] if len(parts) > 2 else "", tuple(headers))


def header_int(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isdigit() else None
