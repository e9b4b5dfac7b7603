"""Socket helpers shared by the engine clients: connect with a timeout, read a bounded answer.

Every failure becomes :class:`EngineUnavailable` with a plain reason naming the engine and the
address, so callers see "clamd at /run/clamav/clamd.ctl refused the connection", not an errno.
"""

from __future__ import annotations

import errno
import select
import socket

from gateway.antivirus.errors import EngineUnavailable


def connect_unix(path: str, timeout: float, what: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except BaseException as exc:
        sock.close()
        raise EngineUnavailable(connect_reason(what, exc, timeout)) from exc
    return sock


def connect_tcp(host: str, port: int, timeout: float, what: str) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise EngineUnavailable(connect_reason(what, exc, timeout)) from exc
    sock.settimeout(timeout)
    return sock


def connect_reason(what: str, exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"{what} did not accept the connection within {timeout:g} s"
    if isinstance(exc, FileNotFoundError):
        return f"{what}: no such socket (is the daemon running?)"
    if isinstance(exc, ConnectionRefusedError):
        return f"{what} refused the connection (is the daemon running?)"
    if isinstance(exc, PermissionError):
        return f"{what}: permission denied on the socket"
    if isinstance(exc, OSError):
        return f"{what} cannot be reached: {exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))}"
    raise exc


def io_reason(what: str, exc: OSError, timeout: float, doing: str) -> str:
    """A plain sentence for an error while ``doing`` something with an engine."""
    if isinstance(exc, TimeoutError):
        return f"{what} did not respond within {timeout:g} s while {doing}"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"{what} closed the connection while {doing}"
    return f"{what}: error while {doing}: {exc.strerror or exc}"


def answer_waiting(sock: socket.socket) -> bool:
    """True when the peer has already sent something (or closed): it answered before we finished."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def recv_until_close(sock: socket.socket, limit: int) -> bytes:
    """Everything the peer sends until it closes; raises OSError/TimeoutError; stops at ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    while total < limit:
        data = sock.recv(min(4096, limit - total))
        if not data:
            break
        parts.append(data)
        total += len(data)
    return b"".join(parts)
