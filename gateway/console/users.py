"""Local accounts of the web console: a name, one role (the API tokens' roles), a password kept
only as an Argon2id hash, and a state (a disabled account cannot log in, and its sessions end).

They live next to the API tokens: DATA_DIR/users.sqlite3, or the PostgreSQL database several
nodes share (``[serve] audit_database``), so that one account works on every node.
"""

from __future__ import annotations

import functools
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.audit.databases import AuditDatabase, open_database
from gateway.intake.tokens import ROLES, Identity

USER_FILE = "users.sqlite3"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_NAME = 64
_USERS = ("CREATE TABLE IF NOT EXISTS console_users (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
          "password TEXT NOT NULL, created TEXT NOT NULL, changed TEXT NOT NULL, disabled TEXT);")
_SESSIONS = ("CREATE TABLE IF NOT EXISTS console_sessions (digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
             "side TEXT NOT NULL, csrf TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, "
             "seen DOUBLE PRECISION NOT NULL);")
SCHEMAS = (_USERS + "\n" + _SESSIONS, _USERS + "\n" + _SESSIONS)
HASHER = PasswordHasher()  # Argon2id, the library's RFC 9106 "low memory" profile (64 MiB, 3 passes)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so an unknown name costs what a known one does.
    Made on first use: hashing at import cost every command and worker 64 MiB and 0.15 s."""
    return HASHER.hash("not a password of anyone")


class AccountError(ValueError):
    """A request the account rules refuse (the message says which rule)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_name(name: str) -> str:
    """A name as stored: NFC, 1 to 64 printable characters without spaces at either end."""
    name = unicodedata.normalize("NFC", name)
    if not name or len(name) > MAX_NAME or name != name.strip() or not name.isprintable():
        raise AccountError(f"a user name is 1 to {MAX_NAME} printable characters, without spaces at either end")
    return name


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password is at least {MIN_PASSWORD} characters long")
    if len(set(password)) < 4:
        raise AccountError("a password needs at least 4 different characters")


def open_users_database(data_dir: Path, database: str = "") -> AuditDatabase:
    return open_database(data_dir / USER_FILE, database, SCHEMAS)


class UserStore:
    def __init__(self, db: AuditDatabase) -> None:
        self.db = db

    @classmethod
    def open(cls, data_dir: Path, database: str = "") -> UserStore:
        return cls(open_users_database(data_dir, database))

    def close(self) -> None:
        self.db.close()

    def add(self, name: str, role: str, password: str) -> None:
        name = check_name(name)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        check_password(password)
        digest = HASHER.hash(password)
        now = _now()
        with self.db.writing():
            if self.db.query("SELECT 1 FROM console_users WHERE name = ?", (name,)):
                raise AccountError(f"a user named {name} exists already")
            self.db.execute("INSERT INTO console_users (name, role, password, created, changed) VALUES (?, ?, ?, ?, ?)",
                            (name, role, digest, now, now))

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        if not self.db.execute("UPDATE console_users SET password = ?, changed = ? WHERE name = ?",
                               (HASHER.hash(password), _now(), check_name(name))):
            raise AccountError(f"no user named {name}")
        self.db.execute("DELETE FROM console_sessions WHERE name = ?", (name,))  # everywhere logged out

    def disable(self, name: str) -> None:
        if not self.db.execute("UPDATE console_users SET disabled = ? WHERE name = ? AND disabled IS NULL",
                               (_now(), check_name(name))):
            raise AccountError(f"no enabled user named {name}")
        self.db.execute("DELETE FROM console_sessions WHERE name = ?", (name,))

    def set_role(self, name: str, role: str) -> None:
        """Another role for an account (its sessions read the role at every request: at once)."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if not self.db.execute("UPDATE console_users SET role = ? WHERE name = ?", (role, check_name(name))):
            raise AccountError(f"no user named {name}")

    def authenticate(self, name: str, password: str) -> Identity | None:
        """The account, when the name is known and enabled and the password is its own. Always
        costs one Argon2 verification, whatever is wrong."""
        try:
            name = check_name(name)
        except AccountError:
            name = ""
        rows = self.db.query("SELECT role, password, disabled FROM console_users WHERE name = ?", (name,)) \
            if name and len(password) <= MAX_PASSWORD else []
        stored = str(rows[0][1]) if rows else _dummy_hash()
        try:
            HASHER.verify(stored, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows or rows[0][2] is not None:
            return None
        if HASHER.check_needs_rehash(stored):  # the hasher's parameters were raised since
            self.db.execute("UPDATE console_users SET password = ? WHERE name = ?", (HASHER.hash(password), name))
        return Identity(name, str(rows[0][0]))

    def exists(self, name: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM console_users WHERE name = ?", (check_name(name),)))

    def role(self, name: str) -> str | None:
        """The role of an enabled account, None for a disabled or unknown one."""
        rows = self.db.query("SELECT role FROM console_users WHERE name = ? AND disabled IS NULL", (name,))
        return str(rows[0][0]) if rows else None

    def listing(self) -> list[dict[str, Any]]:
        """Every account's name, role, dates and state (never the hash)."""
        return [{"name": name, "role": role, "created": created, "password_changed": changed, "disabled": disabled,
                 "state": "disabled" if disabled else "active"}
                for name, role, created, changed, disabled in self.db.query(
                    "SELECT name, role, created, changed, disabled FROM console_users ORDER BY name")]
