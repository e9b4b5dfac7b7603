"""Limits failed logins per client address and per identity (policy 7.2(3): login attempt limits).

After ``max_failures`` failed logins within ``window_seconds`` from one address (IPv6: one /64),
further failures from it are answered 429 for the rest of that window, so guessing cannot be done
at speed, and an operator sees the attempts in the log. A login that succeeds is never refused
because of its address: staff behind one proxy or screen-transfer server share an address, and one
colleague's typos must not lock everyone out (a 256-bit token cannot be guessed; a password is
protected by the limit on its own identity). An identity (a user name) with ``max_failures``
failures in the window is refused, right password or not, until the window passes or an admin
runs ``gateway auth unlock``.

``gateway auth unlock`` (another process) asks by dropping a file into ``unlock_dir``; the
service reads that directory at most once a second.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)
MAX_CLIENTS = 10_000
UNLOCK_POLL_SECONDS = 1.0
UNLOCK_DIR = "auth-unlock"  # under the data directory
IDENTITY_PREFIX = "user:"  # identities and addresses share one table; a user name never parses as an address


def unlock_request_name(key: str) -> str:
    """The file name ``gateway auth unlock`` drops for ``key`` (an address or ``user:NAME``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def request_unlock(unlock_dir: Path, key: str) -> None:
    """Ask the running service to forget ``key``'s failures (written whole, then renamed in)."""
    unlock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    staged = unlock_dir / f".{unlock_request_name(key)}.new"
    staged.write_text(key, encoding="utf-8")
    os.replace(staged, unlock_dir / unlock_request_name(key))


class AuthThrottle:
    def __init__(self, max_failures: int = 10, window_seconds: float = 300.0, unlock_dir: Path | None = None) -> None:
        self.max_failures, self.window = max_failures, window_seconds
        self.failures: dict[str, deque[float]] = {}
        self.lock = threading.Lock()
        self.unlock_dir = unlock_dir
        self.unlock_checked = 0.0

    def _take_unlocks(self, now: float) -> None:
        """Apply the unlock requests waiting in ``unlock_dir`` (called with the lock held)."""
        if self.unlock_dir is None or now - self.unlock_checked < UNLOCK_POLL_SECONDS:
            return
        self.unlock_checked = now
        try:
            requests = [entry for entry in self.unlock_dir.iterdir() if not entry.name.startswith(".")]
        except FileNotFoundError:
            return
        for entry in requests:
            try:
                key = entry.read_text(encoding="utf-8")[:300]
                entry.unlink()
            except (OSError, UnicodeDecodeError):
                continue
            group = key if key.startswith(IDENTITY_PREFIX) else _group(key)
            if self.failures.pop(group, None) is not None:
                log.warning("failed logins of %s forgotten (gateway auth unlock)", group)

    def unlock(self, key: str) -> bool:
        """Forget the failures of an address or ``user:NAME`` now; True if there were any."""
        with self.lock:
            return self.failures.pop(key if key.startswith(IDENTITY_PREFIX) else _group(key), None) is not None

    def identity_retry_after(self, identity: str) -> int:
        """Seconds before ``identity`` (a user name) may try again, or 0."""
        return self.retry_after(IDENTITY_PREFIX + identity)

    def identity_failed(self, identity: str) -> None:
        self.failed(IDENTITY_PREFIX + identity)

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self.failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds this client must wait before its next try, or 0 when it may try now."""
        now = time.monotonic()
        client = client if client.startswith(IDENTITY_PREFIX) else _group(client)
        with self.lock:
            self._take_unlocks(now)
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        client = client if client.startswith(IDENTITY_PREFIX) else _group(client)
        with self.lock:
            if client not in self.failures and len(self.failures) >= MAX_CLIENTS:
                self._make_room(now)
            times = self._recent(client, now)
            times.append(now)
            while len(times) > self.max_failures:
                times.popleft()
            self.failures[client] = times
            if len(times) == self.max_failures:
                log.warning("client %s reached %d failed logins; refused for %.0f s", client, len(times),
                            self.window)

    def _make_room(self, now: float) -> None:
        """Forget clients whose failures have left the window; if all are recent (a flood from
        many addresses), the one with the oldest last failure that is not refused now, so a
        flood cannot free a refused client; memory stays bounded either way."""
        for client in [c for c in self.failures if not self._recent(c, now)]:
            del self.failures[client]
        if len(self.failures) < MAX_CLIENTS:
            return
        candidates = [c for c, times in self.failures.items() if len(times) < self.max_failures] or list(self.failures)
        del self.failures[min(candidates, key=lambda c: self.failures[c][-1])]


def _group(client: str) -> str:
    """IPv6 clients count per /64 (one host has billions of addresses); IPv4 per address."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
