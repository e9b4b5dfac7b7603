"""ICAP client (RFC 3507) for an existing antivirus engine: OPTIONS and RESPMOD with preview.

A file is sent as the body of an encapsulated HTTP response (``GET /scan`` / ``200 OK``,
``application/octet-stream``; no file name is ever sent), chunked, with ``Allow: 204``. When the
service advertises ``Preview`` (OPTIONS, cached for its ``Options-TTL``), the first bytes go first:
``100 Continue`` asks for the rest, ``204`` ends the exchange early. Answers:

* ``204 No Content`` → clean;
* ``200`` with ``X-Infection-Found`` (``Threat=<name>``), ``X-Violations-Found`` (count, then
  filename / threat / id / disposition lines) or ``X-Virus-ID`` → infected with the names;
* ``200`` without such headers: the body is read back; the very same content with HTTP 200 is
  clean (a server that never answers 204), anything else (a block page, a changed body) counts as
  infected with no name;
* any other status, a timeout, a refused or dropped connection, an unreadable answer → unavailable.

Caution, from testing c-icap's virus_scan: a server may answer 204 for what it chose not to scan
(c-icap: types missing from ``virus_scan.ScanFileTypes``, objects over ``virus_scan.MaxObjectSize``).
The client cannot tell; the ICAP server must be configured to scan everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from gateway.antivirus.canary import eicar
from gateway.antivirus.errors import EngineProtocolError, EngineUnavailable, ScanSourceError
from gateway.antivirus.icap_messages import (
    IcapResponse,
    header_int,
    parse_encapsulated,
    read_response,
    threat_names,
)
from gateway.antivirus.source import DEFAULT_CHUNK, ScanSource, known_size, open_source, read_chunks
from gateway.antivirus.transport import connect_tcp, io_reason
from gateway.antivirus.verdict import EngineStatus, ScanResult, Verdict, printable

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024
MAX_HEADERS = 200
EXTRA_BODY = 1024 * 1024  # a returned body may be this much larger than ours before we stop reading
USER_AGENT = "lgwan-gateway-antivirus/1"
_THREAT = re.compile(r"Threat=([^;]+)")
_HTTP_REQUEST = b"GET /scan HTTP/1.1\r\nHost: lgwan-gateway.invalid\r\n\r\n"


@dataclass(frozen=True)
class IcapOptions:
    """What an ICAP service says of itself in its OPTIONS answer."""

    methods: tuple[str, ...]
    preview: int | None
    istag: str | None
    max_connections: int | None
    options_ttl: int | None
    allow_204: bool
    service: str | None


class IcapClient:
    """One ICAP service (``icap://host:port/service``). Thread-safe: one connection per call."""

    reports_signature_date = False

    def __init__(self, host: str, port: int, service: str, *, name: str = "icap", timeout: float = 30.0,
                 chunk_size: int = DEFAULT_CHUNK, preview: int | str | None = "auto",
                 default_options_ttl: int = 3600, canary: bool = True) -> None:
        """``preview``: "auto" takes the service's Preview from OPTIONS; an int sends that many
        bytes first without asking; None sends no preview. ``canary``: :meth:`status` also scans
        the EICAR test file and reports the service unavailable unless it is found."""
        if not service or "/" in service or any(ch.isspace() for ch in service):
            raise ValueError(f"not an ICAP service name: {service!r}")
        if not 0 < port < 65536 or timeout <= 0 or chunk_size <= 0:
            raise ValueError("port, timeout and chunk_size must be positive (port below 65536)")
        if isinstance(preview, str) and preview != "auto":
            raise ValueError("preview is 'auto', a number of bytes, or None")
        self.host = host
        self.port = port
        self.service = service
        self.name = name
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.preview = preview
        self.default_options_ttl = default_options_ttl
        self.canary = canary
        host_part = f"[{host}]" if ":" in host else host
        self.url = f"icap://{host_part}:{port}/{service}"
        self._host_header = f"{host_part}:{port}"
        self._what = f"{name} at {self.url}"
        self._lock = threading.Lock()
        self._options: tuple[float, IcapOptions] | None = None

    # -- OPTIONS --------------------------------------------------------------------------------

    def options(self) -> IcapOptions:
        """Ask the service's OPTIONS; raises :class:`EngineUnavailable`."""
        request = (f"OPTIONS {self.url} ICAP/1.0\r\nHost: {self._host_header}\r\n"
                   f"User-Agent: {USER_AGENT}\r\nEncapsulated: null-body=0\r\n\r\n").encode("ascii")
        with connect_tcp(self.host, self.port, self.timeout, self._what) as sock:
            try:
                sock.sendall(request)
                reader = sock.makefile("rb")
                response = read_response(reader, self._what)
            except OSError as exc:
                raise EngineUnavailable(io_reason(self._what, exc, self.timeout, "answering OPTIONS")) from exc
        if response.status != 200:
            raise EngineUnavailable(f"{self._what} answered OPTIONS with {response.status} {response.reason}")
        methods = tuple(m.strip().upper() for m in (response.get("Methods") or "").split(",") if m.strip())
        allow = {a.strip() for a in (response.get("Allow") or "").split(",")}
        return IcapOptions(methods, header_int(response.get("Preview")), response.get("ISTag"),
                           header_int(response.get("Max-Connections")), header_int(response.get("Options-TTL")),
                           "204" in allow, response.get("Service"))

    def _cached_options(self) -> IcapOptions:
        now = time.monotonic()
        with self._lock:
            cached = self._options
        if cached is not None and now < cached[0]:
            return cached[1]
        options = self.options()
        ttl = options.options_ttl if options.options_ttl is not None else self.default_options_ttl
        with self._lock:
            self._options = (now + ttl, options)
        return options

    def status(self, now: datetime | None = None) -> EngineStatus:
        """The service's health from OPTIONS (``signature_version`` is its ISTag) and, with
        ``canary``, an EICAR scan; never raises."""
        checked = now or datetime.now(UTC)
        try:
            options = self.options()
        except EngineUnavailable as exc:
            return EngineStatus(self.name, False, exc.reason, checked_at=checked)
        if "RESPMOD" not in options.methods:
            return EngineStatus(self.name, False, f"{self._what} does not offer RESPMOD", options.service,
                                options.istag, checked_at=checked)
        if self.canary:
            probe = self.scan(eicar())
            if probe.verdict is not Verdict.INFECTED:
                why = probe.reason if probe.verdict is Verdict.UNAVAILABLE else "it answered clean"
                return EngineStatus(self.name, False, f"{self._what} did not detect the EICAR test file ({why}): "
                                    "it is not scanning", options.service, options.istag, checked_at=checked)
        return EngineStatus(self.name, True, "", options.service, options.istag, checked_at=checked)

    # -- RESPMOD --------------------------------------------------------------------------------

    def scan(self, source: ScanSource) -> ScanResult:
        """Send ``source`` with RESPMOD and return the verdict (never raises for engine problems).

        Raises :class:`~gateway.antivirus.errors.ScanSourceError` only when the source cannot be read.
        """
        started = time.monotonic()
        try:
            preview = self._preview_size()
        except EngineUnavailable as exc:
            return self._finish(ScanResult.make_unavailable(self.name, exc.reason, _ms(started)))
        with open_source(source) as handle:
            try:
                sock = connect_tcp(self.host, self.port, self.timeout, self._what)
            except EngineUnavailable as exc:
                return self._finish(ScanResult.make_unavailable(self.name, exc.reason, _ms(started)))
            with sock:
                exchange = _Exchange(self, sock, handle, preview, started)
                return self._finish(exchange.run())

    def _preview_size(self) -> int | None:
        if self.preview != "auto":
            return self.preview if isinstance(self.preview, int) else None
        options = self._cached_options()
        if options.methods and "RESPMOD" not in options.methods:
            raise EngineUnavailable(f"{self._what} does not offer RESPMOD (methods: {', '.join(options.methods)})")
        return options.preview

    def _finish(self, result: ScanResult) -> ScanResult:
        log.info("antivirus engine=%s verdict=%s code=%s signatures=%s bytes=%d ms=%d%s",
                 self.name, result.verdict.value, result.reason_code or "-", ",".join(result.signatures) or "-",
                 result.scanned_bytes, result.duration_ms,
                 f" reason={result.reason}" if result.reason and not result.signatures else "")
        return result


class _Exchange:
    """One RESPMOD exchange on one connection."""

    def __init__(self, client: IcapClient, sock: socket.socket, handle: BinaryIO, preview: int | None,
                 started: float) -> None:
        self.client = client
        self.sock = sock
        self.handle = handle
        self.preview = preview
        self.started = started
        self.what = client._what
        self.digest = hashlib.sha256()
        self.sent = 0
        self.sent_all = False
        self.sender: threading.Thread | None = None
        self.send_error: BaseException | None = None
        self.reader = sock.makefile("rb")

    def run(self) -> ScanResult:
        name = self.client.name
        doing = "taking the file"
        try:
            response = self._send_and_answer()
            doing = "answering"
            result = self._verdict(response)
        except EngineUnavailable as exc:
            result = ScanResult.make_unavailable(name, exc.reason, _ms(self.started))
        except OSError as exc:
            result = ScanResult.make_unavailable(name, io_reason(self.what, exc, self.client.timeout, doing),
                                                 _ms(self.started))
        finally:
            self._stop_sender(wait=False)
        if isinstance(self.send_error, ScanSourceError):
            raise self.send_error
        return result

    def _headers(self, size: int | None) -> bytes:
        http_response = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        if size is not None:
            http_response += f"Content-Length: {size}\r\n".encode("ascii")
        http_response += b"\r\n"
        lines = [
            f"RESPMOD {self.client.url} ICAP/1.0",
            f"Host: {self.client._host_header}",
            f"User-Agent: {USER_AGENT}",
            "Allow: 204",
            "Connection: close",
        ]
        if self.preview is not None:
            lines.append(f"Preview: {self.preview}")
        lines.append(f"Encapsulated: req-hdr=0, res-hdr={len(_HTTP_REQUEST)}, "
                     f"res-body={len(_HTTP_REQUEST) + len(http_response)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + _HTTP_REQUEST + http_response

    def _chunk(self, data: bytes) -> None:
        self.digest.update(data)
        self.sent += len(data)
        self.sock.sendall(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def _send_and_answer(self) -> IcapResponse:
        """Send the request; read the answer while the body is still being sent (a server may
        stream its answer before it has the whole body, RFC 3507 4.5), so neither side can block
        the other."""
        self.sock.sendall(self._headers(known_size(self.handle)))
        held = b""
        if self.preview is not None:
            rest = self._send_preview(self.preview)
            response = read_response(self.reader, self.what)
            if rest is None or response.status != 100:
                self.sent_all = rest is None
                return response  # the whole file was in the preview, or the server decided on it
            held = rest
        self.sender = threading.Thread(target=self._send_rest, args=(held,), name="icap-sender", daemon=True)
        self.sender.start()
        return read_response(self.reader, self.what)

    def _send_rest(self, held: bytes) -> None:
        try:
            if held:
                self._chunk(held)
            for chunk in read_chunks(self.handle, self.client.chunk_size):
                self._chunk(chunk)
            self.sock.sendall(b"0\r\n\r\n")
            self.sent_all = True
        except (OSError, ScanSourceError) as exc:
            self.send_error = exc

    def _stop_sender(self, wait: bool) -> None:
        """``wait``: let the sender finish (the server said clean, so it must read everything);
        otherwise the connection is shut so a send the server no longer reads cannot block."""
        if self.sender is None:
            return
        if not wait and self.sender.is_alive():
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        self.sender.join(timeout=self.client.timeout)

    def _received_whole_file(self) -> bool:
        """Whether the server took the whole body (waits for the sender to finish)."""
        self._stop_sender(wait=True)
        return self.sent_all and not (self.sender is not None and self.sender.is_alive())

    def _send_preview(self, preview: int) -> bytes | None:
        """Send up to ``preview`` bytes; returns the next unsent bytes, or None at the end of the file."""
        got = b""
        while len(got) < preview:
            data = self._read(preview - len(got))
            if not data:
                break
            got += data
        if got:
            self._chunk(got)
        rest = self._read(self.client.chunk_size)
        if not rest:
            self.sock.sendall(b"0; ieof\r\n\r\n")
            return None
        self.sock.sendall(b"0\r\n\r\n")
        return rest

    def _read(self, size: int) -> bytes:
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise ScanSourceError(f"the file to scan cannot be read: {exc.strerror}") from exc

    def _verdict(self, response: IcapResponse) -> ScanResult:
        name = self.client.name
        if response.status == 204:
            if self.sender is not None and not self._received_whole_file():
                return self._incomplete()
            return ScanResult.make_clean(name, self.sent, _ms(self.started))
        if response.status != 200:
            return ScanResult.make_unavailable(
                name, f"{self.what} answered {response.status} {printable(response.reason, 80)}", _ms(self.started))
        threats = threat_names(response)
        if threats:
            return ScanResult.make_infected(name, threats, self.sent, _ms(self.started))
        http_status, same_body = self._read_encapsulated(response)
        if http_status == 200 and same_body:
            return ScanResult.make_clean(name, self.sent, _ms(self.started))
        if same_body is None:
            return self._incomplete()
        what = f"HTTP {http_status}" if http_status else "no HTTP response"
        change = "the same body" if same_body else "a changed body"
        return ScanResult(name, Verdict.INFECTED, "malware",
                          f"{name} blocked the file without naming a threat (it answered {what} with {change})",
                          (), self.sent, _ms(self.started))

    def _incomplete(self) -> ScanResult:
        reason = f"{self.what} answered before it had received the whole file ({self.sent} bytes sent)"
        if isinstance(self.send_error, OSError):
            failure = io_reason(self.what, self.send_error, self.client.timeout, "taking the file")
            reason += f"; sending failed: {failure}"
        return ScanResult.make_unavailable(self.client.name, reason, _ms(self.started))

    def _read_encapsulated(self, response: IcapResponse) -> tuple[int | None, bool | None]:
        """(the returned HTTP status, whether the returned body is exactly the one sent); None
        instead of a bool when the server answered without having received the whole file."""
        sections = parse_encapsulated(response.get("Encapsulated") or "", self.what)
        offsets = [offset for _, offset in sections]
        http_status: int | None = None
        body_kind: str | None = None
        for index, (kind, offset) in enumerate(sections):
            if kind.endswith("-body"):
                body_kind = kind
                break
            length = offsets[index + 1] - offset if index + 1 < len(offsets) else 0
            block = self.reader.read(length)
            if len(block) != length:
                raise EngineProtocolError(f"{self.what} ended its answer inside the encapsulated headers")
            if kind == "res-hdr":
                first = block.split(b"\r\n", 1)[0].decode("latin-1")
                parts = first.split()
                if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
                    http_status = int(parts[1])
        if body_kind is None or body_kind == "null-body":
            if self.sender is not None and not self._received_whole_file():
                return http_status, None
            return http_status, self.sent == 0
        digest = hashlib.sha256()
        received = 0
        while True:
            line = self.reader.readline(MAX_LINE)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise EngineProtocolError(f"{self.what} sent a body chunk header that cannot be read") from exc
            if size == 0:
                break
            received += size
            if received > self.sent + EXTRA_BODY:  # more than we sent (so far, the sender may still run)
                return http_status, False
            data = self.reader.read(size)
            if len(data) != size:
                raise EngineProtocolError(f"{self.what} ended its answer inside a body chunk")
            digest.update(data)
            self.reader.readline(MAX_LINE)
        if self.sender is not None and not self._received_whole_file():
            return http_status, None
        return http_status, received == self.sent and digest.digest() == self.digest.digest()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
