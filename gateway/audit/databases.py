"""Where the audit log's records (and the API tokens) live: SQLite (WAL) under the data
directory by default, or PostgreSQL when several gateway nodes share them (``[serve]
audit_database``).

Both give their users the same few operations: a write transaction that no other writer (a
thread, a process, another node) can interleave with, queries with ``?`` parameters, and the
two database-specific statements (schema, anchor upsert). Updates of records are refused by the
database itself (a trigger) in both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from gateway.errors import AuditUnavailable

TABLES = """
CREATE TABLE IF NOT EXISTS audit (seq {integer} PRIMARY KEY, record TEXT NOT NULL, prev_hash TEXT NOT NULL,
                                  hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq {integer} NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
POSTGRES_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_refuse_update() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_no_update') THEN
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_refuse_update();
    END IF;
END $$;
"""
SQLITE_SCHEMA = TABLES.format(integer="INTEGER") + SQLITE_TRIGGER
POSTGRES_SCHEMA = TABLES.format(integer="BIGINT") + POSTGRES_TRIGGER
WRITER_LOCK = 0x6C6777616E  # the advisory lock every node takes to append ("lgwan")


class AuditDatabase(Protocol):
    location: str

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...
    def writing(self) -> Any: ...
    def reading(self) -> Any: ...
    def connection_lost(self, error: Exception) -> bool: ...
    def set_anchor(self, seq: int, stored: str) -> None: ...
    def close(self) -> None: ...


class SqliteDatabase:
    """One SQLite file in WAL mode, every commit synchronous."""

    def __init__(self, path: Path, schema: str = SQLITE_SCHEMA) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.location = str(path)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(schema)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run a statement; how many rows it changed."""
        return int(self.db.execute(sql, params).rowcount)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction: other threads wait here, other processes at BEGIN IMMEDIATE."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One snapshot for several queries (WAL: writers go on meanwhile)."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield
            finally:
                self.db.execute("COMMIT")

    def set_anchor(self, seq: int, stored: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO anchor (id, seq, hash) VALUES (1, ?, ?)", (seq, stored))

    def connection_lost(self, error: Exception) -> bool:
        return False  # a file: nothing to reconnect

    def close(self) -> None:
        self.db.close()


class PostgresDatabase:
    """A PostgreSQL database shared by several nodes; appends are serialised across all of them
    by a transaction-scoped advisory lock."""

    def __init__(self, url: str, schema: str = POSTGRES_SCHEMA) -> None:
        import psycopg

        self.url, self.location = url, url.split("@")[-1]  # never the password
        self.lock = threading.RLock()
        try:
            self.db = self._connect()
            with self.writing():
                self.db.execute(schema)
        except psycopg.Error as exc:
            raise AuditUnavailable(f"the audit database {self.location} cannot be used: {type(exc).__name__}: "
                                   f"{(str(exc).strip().splitlines() or [''])[0][:200]}") from exc

    def _connection(self) -> Any:
        """The connection, opened again if the server or the network dropped it."""
        if self.db.closed or self.db.broken:
            self.db = self._connect()
        return self.db

    def _connect(self) -> Any:
        """A connection that gives up instead of hanging: on a lock held by a stuck node, a
        statement that does not finish, a node that died inside a transaction, a silent network
        (the append then fails and the record is kept for later)."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10, keepalives=1, keepalives_idle=30,
                               keepalives_interval=10, keepalives_count=3,
                               options="-c lock_timeout=10s -c statement_timeout=30s "
                                       "-c idle_in_transaction_session_timeout=60s")

    def connection_lost(self, error: Exception) -> bool:
        import psycopg

        return isinstance(error, psycopg.OperationalError) and bool(self.db.closed or self.db.broken)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self._connection().execute(sql.replace("?", "%s"), params).fetchall())

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run a statement; how many rows it changed."""
        with self.lock:
            return int(self._connection().execute(sql.replace("?", "%s"), params).rowcount)

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self.lock, self._connection().transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            yield

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One snapshot for several queries, whatever other nodes commit meanwhile."""
        with self.lock, self._connection().transaction():
            self.db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def set_anchor(self, seq: int, stored: str) -> None:
        self.db.execute("INSERT INTO anchor (id, seq, hash) VALUES (1, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash", (seq, stored))

    def close(self) -> None:
        self.db.close()


def open_database(path: Path, url: str = "", schemas: tuple[str, str] = (SQLITE_SCHEMA, POSTGRES_SCHEMA)
                  ) -> AuditDatabase:
    """PostgreSQL when ``url`` is a postgresql:// URL, else the SQLite file at ``path``; each
    made ready with its schema of ``schemas`` (SQLite's, PostgreSQL's)."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url, schemas[1])
    if url:
        raise ValueError("audit_database must be empty (SQLite) or a postgresql:// URL")
    return SqliteDatabase(path, schemas[0])
