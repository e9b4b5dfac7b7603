"""Limits failed logins per client address (policy 7.2(3): login attempt limits).

After ``max_failures`` failed token checks within ``window_seconds``, a client gets 429 for the
rest of that window, even with a valid token, so guessing tokens cannot be done at speed and an
operator sees the attempts in the log.
"""

from __future__ import annotations

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
        with self.lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self.lock:
            if client not in self.failures and len(self.failures) >= MAX_CLIENTS:
                self._forget_quiet_clients(now)
            times = self._recent(client, now)
            times.append(now)
            while len(times) > self.max_failures:
                times.popleft()
            self.failures[client] = times
            if len(times) == self.max_failures:
                log.warning("client %s reached %d failed logins; refused for %.0f s", client, len(times),
                            self.window)

    def _forget_quiet_clients(self, now: float) -> None:
        for client in [c for c, times in self.failures.items() if not self._recent(c, now)]:
            del self.failures[client]
        if len(self.failures) >= MAX_CLIENTS:  # a flood from many addresses: keep memory bounded
            self.failures.pop(next(iter(self.failures)))
