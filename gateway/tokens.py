"""API tokens: shown once when created, only their SHA-256 is stored; each has one role, an
expiry date (policy 7.2: access ends unless renewed) and can be revoked by name.

Token rows written before expiry existed are upgraded in place and count as expiring
``DEFAULT_VALID_DAYS`` after their creation.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROLES = ("uploader", "auditor", "admin")
DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 3650


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


def _now() -> datetime:
    return datetime.now(UTC)


class TokenStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
                        "role TEXT NOT NULL, created TEXT DEFAULT CURRENT_TIMESTAMP)")
        self.db.execute("BEGIN IMMEDIATE")  # one upgrade at a time, all of it or none
        try:
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(tokens)")}
            if "expires" not in columns:
                self.db.execute("ALTER TABLE tokens ADD COLUMN expires TEXT")
            if "revoked" not in columns:
                self.db.execute("ALTER TABLE tokens ADD COLUMN revoked TEXT")
            self.db.execute("UPDATE tokens SET expires = strftime('%Y-%m-%dT%H:%M:%S+00:00', created, ?) "
                            "WHERE expires IS NULL", (f"+{DEFAULT_VALID_DAYS} days",))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    def create(self, role: str, name: str, valid_days: int = DEFAULT_VALID_DAYS) -> str:
        """A new token (returned once, never stored) for ``name`` with ``role``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not 1 <= valid_days <= MAX_VALID_DAYS:
            raise ValueError(f"a token is valid for 1 to {MAX_VALID_DAYS} days")
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = (now + timedelta(days=valid_days)).isoformat(timespec="seconds")
        self.db.execute("INSERT INTO tokens (digest, name, role, created, expires) VALUES (?, ?, ?, ?, ?)",
                        (hashlib.sha256(token.encode()).hexdigest(), name, role, now.isoformat(timespec="seconds"),
                         expires))
        return token

    def identify(self, token: str) -> Identity | None:
        """The token's holder, unless the token is unknown, expired or revoked."""
        row = self.db.execute("SELECT name, role, expires, revoked FROM tokens WHERE digest = ?",
                              (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
        if row is None or row[3] is not None:
            return None
        try:
            if row[2] is None or datetime.fromisoformat(str(row[2])) <= _now():
                return None
        except (ValueError, TypeError):  # an expiry edited by hand without its offset: not valid
            return None
        return Identity(str(row[0]), str(row[1]))

    def revoke(self, name: str) -> int:
        """Revoke every live token of ``name``; how many were revoked."""
        cursor = self.db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
                                 (_now().isoformat(timespec="seconds"), name))
        return int(cursor.rowcount)

    def listing(self) -> list[dict[str, Any]]:
        """Every token's name, role, dates and state (never the token or its hash)."""
        now = _now()
        found = []
        for name, role, created, expires, revoked in self.db.execute(
                "SELECT name, role, created, expires, revoked FROM tokens ORDER BY created, name"):
            try:
                expired = expires is None or datetime.fromisoformat(str(expires)) <= now
            except (ValueError, TypeError):
                expired = True
            state = "revoked" if revoked is not None else "expired" if expired else "active"
            found.append({"name": name, "role": role, "created": created, "expires": expires, "revoked": revoked,
                          "state": state})
        return found
