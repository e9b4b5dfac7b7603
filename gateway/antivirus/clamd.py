"""Client for ClamAV's daemon (clamd) over its Unix socket or TCP.

Files go to clamd with ``zINSTREAM`` only (never by path, so no file has to be readable by the
clamd user): 4-byte big-endian length prefixes, chunks read from the source one at a time
(constant memory), a zero-length terminator. Answers:

* ``stream: OK`` → clean;
* ``stream: <Name> FOUND`` (one line per match with AllMatchScans) → infected, names kept;
* ``INSTREAM size limit exceeded`` (clamd's StreamMaxLength) → too large, for the caller to decide;
* anything else, a timeout, a refused or dropped connection → unavailable with a plain reason.

``zVERSION`` gives the engine version and, when a daily database (daily.cvd/.cld) is loaded, its
number and build date (``ClamAV 1.4.6/27500/Mon Nov 30 09:00:00 2026``); with only custom databases
clamd answers ``ClamAV 1.4.6`` and the signature part is None. clamd prints the date in its own
local time, so it is read in ``signature_timezone`` (default: this host's local time).
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import BinaryIO

from gateway.antivirus.errors import EngineProtocolError, EngineUnavailable
from gateway.antivirus.source import DEFAULT_CHUNK, ScanSource, known_size, open_source, read_chunks
from gateway.antivirus.transport import (
    answer_waiting,
    connect_tcp,
    connect_unix,
    io_reason,
    recv_until_close,
)
from gateway.antivirus.verdict import EngineStatus, ScanResult, printable

log = logging.getLogger(__name__)

MAX_ANSWER = 8192  # clamd's answers are one short line per match
_FOUND = re.compile(r"stream: (.+) FOUND")
_VERSION = re.compile(r"ClamAV ([0-9][0-9A-Za-z.\-_+~]*)(?:/([0-9]+)/(.+))?")
_SIZE_LIMIT = "INSTREAM size limit exceeded"


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: a Unix socket path, or a TCP host and port."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None

    def __post_init__(self) -> None:
        if (self.unix_path is None) == (self.host is None or self.port is None):
            raise ValueError("a clamd address is either a Unix socket path or a TCP host and port")

    @staticmethod
    def parse(text: str) -> ClamdAddress:
        """``unix:/run/clamav/clamd.ctl``, ``/run/clamav/clamd.ctl``, ``tcp://127.0.0.1:3310`` or ``127.0.0.1:3310``."""
        value = text.strip()
        if value.startswith("unix:"):
            value = value[len("unix:"):]
            if value.startswith("//"):
                value = value[2:]
            return ClamdAddress(unix_path=value) if value.startswith("/") else _bad_address(text)
        if value.startswith("/"):
            return ClamdAddress(unix_path=value)
        if value.startswith("tcp://"):
            value = value[len("tcp://"):]
        host, sep, port = value.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            return _bad_address(text)
        return ClamdAddress(host=host, port=int(port))

    def __str__(self) -> str:
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        return f"tcp://{self.host}:{self.port}"


def _bad_address(text: str) -> ClamdAddress:
    raise ValueError(f"not a clamd address: {text!r} (use unix:/path/to/clamd.ctl or tcp://host:port)")


@dataclass(frozen=True)
class ClamdVersion:
    engine_version: str
    signature_version: int | None
    signature_date: datetime | None


def parse_version(answer: str, signature_timezone: tzinfo | None = None) -> ClamdVersion:
    """Read clamd's VERSION answer; raises :class:`EngineProtocolError` on anything else."""
    text = answer.strip("\0\r\n ")
    match = _VERSION.fullmatch(text)
    if match is None:
        raise EngineProtocolError(f"clamd's version answer cannot be read: {printable(text)!r}")
    engine, number, date_text = match.groups()
    if number is None:
        return ClamdVersion(engine, None, None)
    try:
        naive = datetime.strptime(date_text.strip(), "%a %b %d %H:%M:%S %Y")
    except ValueError as exc:
        raise EngineProtocolError(f"clamd's signature date cannot be read: {printable(date_text)!r}") from exc
    date = naive.replace(tzinfo=signature_timezone) if signature_timezone else naive.astimezone()
    return ClamdVersion(engine, int(number), date)


class ClamdClient:
    """One clamd daemon. Thread-safe: every call opens its own connection."""

    reports_signature_date = True

    def __init__(self, address: ClamdAddress | str, *, name: str = "clamd", timeout: float = 30.0,
                 chunk_size: int = DEFAULT_CHUNK, max_stream_bytes: int | None = None,
                 signature_timezone: tzinfo | None = None) -> None:
        """``max_stream_bytes``: clamd's StreamMaxLength when known, so a larger file is reported
        too large without being sent (clamd would refuse it after that many bytes anyway)."""
        if chunk_size <= 0 or timeout <= 0:
            raise ValueError("chunk_size and timeout must be positive")
        self.address = ClamdAddress.parse(address) if isinstance(address, str) else address
        self.name = name
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.max_stream_bytes = max_stream_bytes
        self.signature_timezone = signature_timezone
        self._what = f"{name} at {self.address}"

    # -- connection and simple commands ---------------------------------------------------------

    def _connect(self) -> socket.socket:
        if self.address.unix_path is not None:
            return connect_unix(self.address.unix_path, self.timeout, self._what)
        if self.address.host is None or self.address.port is None:
            raise ValueError(f"incomplete clamd address: {self.address}")
        return connect_tcp(self.address.host, self.address.port, self.timeout, self._what)

    def _command(self, command: str) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command.encode("ascii") + b"\0")
                raw = recv_until_close(sock, MAX_ANSWER)
            except OSError as exc:
                raise EngineUnavailable(io_reason(self._what, exc, self.timeout, f"answering {command}")) from exc
        if not raw:
            raise EngineUnavailable(f"{self._what} closed the connection without answering {command}")
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def ping(self) -> None:
        """Raises :class:`EngineUnavailable` unless clamd answers PONG."""
        answer = self._command("PING")
        if answer.strip() != "PONG":
            raise EngineProtocolError(f"{self._what} answered PING with {printable(answer)!r}")

    def version(self) -> ClamdVersion:
        return parse_version(self._command("VERSION"), self.signature_timezone)

    def status(self, now: datetime | None = None) -> EngineStatus:
        """The engine's health; never raises (an unreachable engine is ``available=False``)."""
        checked = now or datetime.now(UTC)
        try:
            version = self.version()
        except EngineUnavailable as exc:
            return EngineStatus(self.name, False, exc.reason, checked_at=checked)
        age = None
        if version.signature_date is not None:
            age = (checked - version.signature_date).total_seconds() / 3600
        return EngineStatus(
            self.name, True, "", f"ClamAV {version.engine_version}",
            None if version.signature_version is None else str(version.signature_version),
            version.signature_date, age, checked_at=checked,
        )

    # -- scanning -------------------------------------------------------------------------------

    def scan(self, source: ScanSource) -> ScanResult:
        """Stream ``source`` to clamd and return its verdict (never raises for engine problems).

        Raises :class:`~gateway.antivirus.errors.ScanSourceError` only when the source itself cannot be read.
        """
        started = time.monotonic()
        with open_source(source) as handle:
            size = known_size(handle)
            if self.max_stream_bytes is not None and size is not None and size > self.max_stream_bytes:
                return self._finish(ScanResult.make_too_large(
                    self.name, f"the file ({size} bytes) is larger than {self.name}'s stream limit "
                    f"({self.max_stream_bytes} bytes)", 0, _ms(started)))
            try:
                sock = self._connect()
            except EngineUnavailable as exc:
                return self._finish(ScanResult.make_unavailable(self.name, exc.reason, _ms(started)))
            with sock:
                return self._finish(self._instream(sock, handle, started))

    def _instream(self, sock: socket.socket, handle: BinaryIO, started: float) -> ScanResult:
        sent = 0
        send_error: OSError | None = None
        try:
            sock.sendall(b"zINSTREAM\0")
            for chunk in read_chunks(handle, self.chunk_size):
                if answer_waiting(sock):
                    break  # clamd answered before the end: its limit, or an error; read it below
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sent += len(chunk)
            else:
                sock.sendall(b"\0\0\0\0")
        except TimeoutError as exc:
            return ScanResult.make_unavailable(
                self.name, io_reason(self._what, exc, self.timeout, "taking the file"), _ms(started))
        except OSError as exc:
            send_error = exc  # clamd may have closed after a limit: its answer can still be waiting
        try:
            raw = recv_until_close(sock, MAX_ANSWER)
        except OSError as exc:
            failure = send_error or exc
            doing = "taking the file" if send_error else "scanning"
            return ScanResult.make_unavailable(self.name, io_reason(self._what, failure, self.timeout, doing),
                                               _ms(started))
        if not raw:
            doing = "taking the file" if send_error else "scanning"
            return ScanResult.make_unavailable(
                self.name, f"{self._what} closed the connection without an answer while {doing}", _ms(started))
        return self._parse_scan_answer(raw, sent, started)

    def _parse_scan_answer(self, raw: bytes, sent: int, started: float) -> ScanResult:
        lines = [part.decode("utf-8", "replace").strip() for part in raw.split(b"\0")]
        lines = [line for line in lines if line]
        found: list[str] = []
        for line in lines:
            match = _FOUND.fullmatch(line)
            if match and match.group(1).strip():
                found.append(printable(match.group(1).strip()))
        if found and len(found) == len(lines):
            return ScanResult.make_infected(self.name, tuple(found), sent, _ms(started))
        if lines == ["stream: OK"]:
            return ScanResult.make_clean(self.name, sent, _ms(started))
        if any(line.startswith(_SIZE_LIMIT) for line in lines):
            return ScanResult.make_too_large(
                self.name, f"the file is larger than {self.name}'s stream limit (StreamMaxLength); "
                f"{sent} bytes were sent", sent, _ms(started))
        text = printable(" | ".join(lines))
        if lines and lines[-1].endswith("ERROR"):
            reason = f"{self._what} reported an error: {text}"
        else:
            reason = f"{self._what} gave an answer this client does not understand: {text!r}"
        return ScanResult.make_unavailable(self.name, reason, _ms(started))

    def _finish(self, result: ScanResult) -> ScanResult:
        log.info("antivirus engine=%s verdict=%s code=%s signatures=%s bytes=%d ms=%d%s",
                 self.name, result.verdict.value, result.reason_code or "-", ",".join(result.signatures) or "-",
                 result.scanned_bytes, result.duration_ms,
                 f" reason={result.reason}" if result.reason and not result.signatures else "")
        return result


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
