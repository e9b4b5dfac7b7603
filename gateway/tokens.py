"""API tokens: shown once when created, only their SHA-256 is stored; each has one role."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

ROLES = ("uploader", "auditor", "admin")


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


class TokenStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
                        "role TEXT NOT NULL, created TEXT DEFAULT CURRENT_TIMESTAMP)")

    def create(self, role: str, name: str) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = secrets.token_urlsafe(32)
        self.db.execute("INSERT INTO tokens (digest, name, role) VALUES (?, ?, ?)",
                        (hashlib.sha256(token.encode()).hexdigest(), name, role))
        return token

    def identify(self, token: str) -> Identity | None:
        row = self.db.execute("SELECT name, role FROM tokens WHERE digest = ?",
                              (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
        return Identity(str(row[0]), str(row[1])) if row else None
