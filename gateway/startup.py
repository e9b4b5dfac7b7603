"""What ``gateway serve`` makes sure of before it says "ready": the data directory is usable,
private and its own (one instance per data directory), and every listener is bound. Each
failure is one line naming the path or address; systemd is told when the service is ready."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import stat
from pathlib import Path

from gateway.errors import ConfigError, GatewayError

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077  # every file the service writes is its owner's alone
LOCK_NAME = "gateway.lock"
LISTEN_BACKLOG = 128


class ListenFailed(GatewayError):
    """An address could not be listened on (in use, not on this host, not permitted)."""

    code = "listen_failed"


class StartupInterrupted(BaseException):
    """SIGTERM or SIGINT before the service was ready: unwind what was started, then exit."""


def take_data_dir(path: Path) -> int:
    """Create the data directory if needed and hold an exclusive flock on its lock file for the
    life of the process (the descriptor is returned and must stay open). Another instance holding
    it, or a directory that cannot be used, is a ConfigError naming the directory."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        problem = "is not a directory" if exc.errno in (errno.ENOTDIR, errno.EEXIST) else \
            f"cannot be used: {exc.strerror}"
        raise ConfigError(f"data directory {path} {problem}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode("ascii", "replace").strip()
        os.close(descriptor)
        by = f"gateway serve (pid {holder})" if holder.isdigit() else "gateway serve"
        raise ConfigError(f"data directory {path} is in use by another {by}: one instance per data "
                          f"directory (lock {path / LOCK_NAME})") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return descriptor


def make_private(path: Path, shared: tuple[Path, ...] = ()) -> int:
    """Take group and other permissions off everything under ``path`` (files written by earlier
    versions were 0644) but ``path`` itself and the ``shared`` folders when there are any (see
    gateway/sharing.py); symbolic links are left alone. Returns how many entries were changed."""
    changed = 0
    for directory, folders, files in os.walk(path):
        folders[:] = [name for name in folders if Path(directory, name) not in shared]
        for name in [".", *files]:
            if shared and name == "." and Path(directory) == path:
                continue
            entry = os.path.join(directory, name)
            try:
                mode = os.lstat(entry).st_mode
                if not stat.S_ISLNK(mode) and mode & 0o077:
                    os.chmod(entry, stat.S_IMODE(mode) & 0o700)
                    changed += 1
            except FileNotFoundError:  # gone since the listing
                continue
    return changed


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on host:port, or ListenFailed naming the address and ``what`` it is for."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        server = socket.socket(family, kind, protocol)
    except OSError as exc:
        raise ListenFailed(f"cannot listen on {host}:{port} ({what}): {exc.strerror or exc}") from None
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        server.bind(address)
        server.listen(LISTEN_BACKLOG)
    except OSError as exc:
        server.close()
        raise ListenFailed(f"cannot listen on {host}:{port} ({what}): {exc.strerror or exc}") from None
    server.set_inheritable(False)
    return server


def notify(state: str) -> bool:
    """Tell systemd (``Type=notify``) a state such as ``READY=1``, when it is listening
    (NOTIFY_SOCKET set; ``@`` names an abstract socket). True if the message was sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as client:
            client.sendto(state.encode("ascii"), target)
    except OSError as exc:
        log.warning("could not notify systemd at %s: %s", address, exc.strerror or exc)
        return False
    return True
