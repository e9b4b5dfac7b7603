"""Server-side sessions of the web console. The browser holds only a random session id; the
server keeps its SHA-256 (whoever reads the database cannot take over a session), the account,
the listener side it was made on, its CSRF token and two times: a session ends after
``idle_seconds`` without a request or ``max_seconds`` after the login, whichever comes first, and
at once when its account is disabled or its password changed. A login always makes a new id
(the one the browser had before is dropped), so an id planted before the login is worth nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from gateway.audit.databases import AuditDatabase

TOUCH_SECONDS = 15.0  # the last-seen time is written at most this often per session


@dataclass(frozen=True)
class Session:
    name: str
    role: str
    csrf: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, db: AuditDatabase, side: str, idle_seconds: float, max_seconds: float) -> None:
        self.db, self.side = db, side
        self.idle, self.max = idle_seconds, max_seconds

    def create(self, name: str, previous: str | None = None) -> tuple[str, str]:
        """A new session for ``name``: (session id, CSRF token). ``previous``, the id the browser
        sent with the login, ends here."""
        now = time.time()
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db.writing():
            self.db.execute("DELETE FROM console_sessions WHERE seen < ? OR created < ?",
                            (now - self.idle, now - self.max))
            if previous:
                self.db.execute("DELETE FROM console_sessions WHERE digest = ?", (_digest(previous),))
            self.db.execute("INSERT INTO console_sessions (digest, name, side, csrf, created, seen) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (_digest(session_id), name, self.side, csrf, now, now))
        return session_id, csrf

    def lookup(self, session_id: str) -> Session | None:
        """The live session of this id on this side (its account enabled), its idle time restarted."""
        if not session_id or len(session_id) > 100:
            return None
        digest = _digest(session_id)
        rows = self.db.query(
            "SELECT s.name, u.role, s.csrf, s.created, s.seen FROM console_sessions s JOIN console_users u "
            "ON u.name = s.name WHERE s.digest = ? AND s.side = ? AND u.disabled IS NULL", (digest, self.side))
        if not rows:
            return None
        name, role, csrf, created, seen = rows[0]
        now = time.time()
        if now - float(seen) > self.idle or now - float(created) > self.max:
            self.db.execute("DELETE FROM console_sessions WHERE digest = ?", (digest,))
            return None
        if now - float(seen) > TOUCH_SECONDS:
            self.db.execute("UPDATE console_sessions SET seen = ? WHERE digest = ?", (now, digest))
        return Session(str(name), str(role), str(csrf))

    def end(self, session_id: str) -> None:
        self.db.execute("DELETE FROM console_sessions WHERE digest = ?", (_digest(session_id),))
