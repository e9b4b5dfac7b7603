"""API tokens: shown once when created, only their SHA-256 is stored; each has one role, an
expiry date (policy 7.2: access ends unless renewed) and can be revoked by name.

Token rows written before expiry existed are upgraded in place and count as expiring
``DEFAULT_VALID_DAYS`` after their creation. Several nodes share their tokens in the PostgreSQL
database of the audit log (``[serve] audit_database``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.audit.databases import open_database

ROLES = ("uploader", "auditor", "admin")
SQLITE_TABLE = ("CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, "
                "created TEXT DEFAULT CURRENT_TIMESTAMP);")
POSTGRES_TABLE = ("CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, "
                  "created TEXT NOT NULL, expires TEXT, revoked TEXT);")
DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 3650


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


def _now() -> datetime:
    return datetime.now(UTC)


class TokenStore:
    """Tokens in DATA_DIR/tokens.sqlite3, or in the PostgreSQL database several nodes share
    (``database``, the audit log's), so that one token works on every node."""

    def __init__(self, path: Path, database: str = "") -> None:
        self.db = open_database(path, database, (SQLITE_TABLE, POSTGRES_TABLE))
        if not database:
            self._upgrade_sqlite()
        elif path.exists():
            self._move_local_tokens(path)

    def _move_local_tokens(self, path: Path) -> None:
        """Tokens made on this node before the nodes shared a database go into it once (they
        would otherwise stop working silently); the local file is kept, renamed."""
        local = TokenStore(path)
        try:
            rows = local.db.query("SELECT digest, name, role, created, expires, revoked FROM tokens")
        finally:
            local.close()
        with self.db.writing():
            for row in rows:
                self.db.execute("INSERT INTO tokens (digest, name, role, created, expires, revoked) "
                                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING", tuple(row))
        os.replace(path, path.with_name(f"{path.name}.moved-to-shared-database"))

    def _upgrade_sqlite(self) -> None:
        """A token file from before expiry and revocation gets their columns (one upgrade at a
        time, all of it or none)."""
        with self.db.writing():
            columns = {row[1] for row in self.db.query("PRAGMA table_info(tokens)")}
            if "expires" not in columns:
                self.db.execute("ALTER TABLE tokens ADD COLUMN expires TEXT")
            if "revoked" not in columns:
                self.db.execute("ALTER TABLE tokens ADD COLUMN revoked TEXT")
            self.db.execute("UPDATE tokens SET expires = strftime('%Y-%m-%dT%H:%M:%S+00:00', created, ?) "
                            "WHERE expires IS NULL", (f"+{DEFAULT_VALID_DAYS} days",))

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
        rows = self.db.query("SELECT name, role, expires, revoked FROM tokens WHERE digest = ?",
                             (hashlib.sha256(token.encode()).hexdigest(),))
        row = rows[0] if rows else None
        if row is None or row[3] is not None:
            return None
        try:
            if row[2] is None or datetime.fromisoformat(str(row[2])) <= _now():
                return None
        except (ValueError, TypeError):  # an expiry edited by hand without its offset: not valid
            return None
        return Identity(str(row[0]), str(row[1]))

    def revoke_token(self, token: str) -> None:
        """Revoke one token by its secret (a creation that could not be recorded)."""
        self.db.execute("UPDATE tokens SET revoked = ? WHERE digest = ?",
                        (_now().isoformat(timespec="seconds"), hashlib.sha256(token.encode()).hexdigest()))

    def revoke(self, name: str) -> int:
        """Revoke every live token of ``name``; how many were revoked."""
        return self.db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
                               (_now().isoformat(timespec="seconds"), name))

    def listing(self) -> list[dict[str, Any]]:
        """Every token's name, role, dates and state (never the token or its hash)."""
        now = _now()
        found = []
        for name, role, created, expires, revoked in self.db.query(
                "SELECT name, role, created, expires, revoked FROM tokens ORDER BY created, name"):
            try:
                expired = expires is None or datetime.fromisoformat(str(expires)) <= now
            except (ValueError, TypeError):
                expired = True
            state = "revoked" if revoked is not None else "expired" if expired else "active"
            found.append({"name": name, "role": role, "created": created, "expires": expires, "revoked": revoked,
                          "state": state})
        return found
