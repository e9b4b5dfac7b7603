"""Limits failed logins per client address (policy 7.2(3): login attempt limits).

After ``max_failures`` failed token checks within ``window_seconds``, a client gets 429 for the
rest of that window, even with a valid token, so guessing tokens cannot be done at speed and an
operator sees the attempts in the log.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import deque

log = logging.getLogger(__name__)
MAX_CLIENTS = 10_000


class AuthThrottle:
    def __init__(self, max_failures: int = 10, window_seconds: float = 300.0) -> None:
        self.max_failures, self.window = max_failures, window_seconds
        self.failures: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self.failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds this client must wait before its next try, or 0 when it may try now."""
        now = time.monotonic()
        client = _group(client)
        with self.lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        client = _group(client)
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
