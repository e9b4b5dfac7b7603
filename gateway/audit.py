"""The audit log: one append-only record per transfer state change, each carrying the keyed hash
(HMAC-SHA256, key in a separate 0600 file) of the one before, in SQLite (WAL). ``verify``
recomputes the chain and names the first record that was altered, removed or reordered; a
retention purge keeps the chain verifiable: the hash of the last purged record becomes the anchor,
and the purge itself is a record in the chain (so an anchor without one is tampering).

Times are UTC with an explicit offset (policy 8.1②); the log holds no message bodies or file
contents, only what identifies a transfer and what happened to it. Deleting the newest records
cannot be seen from the log alone: export it (or its last hash) off the host regularly.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
EVENTS = frozenset({"received", "sanitized", "blocked", "delivered", "deferred", "failed", "released", "purged",
                    "access"})  # access: an API token created or revoked
FIELDS = ("seq", "transfer_id", "time", "event", "channel", "client_ip", "user", "sender", "recipients", "subject",
          "message_id", "input_sha256", "input_size", "outcome", "findings", "outputs", "delivery_status", "detail")
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def record_hash(prev_hash: str, record: str, key: bytes | None = None) -> str:
    """SHA-256 of the previous hash and this record; keyed (HMAC) when the log has a key, so
    that whoever can write the database but not read the key cannot re-chain altered records."""
    data = f"{prev_hash}\n{record}".encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest() if key else hashlib.sha256(data).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """The chain's HMAC key (32 random bytes, mode 0600), made on first use."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    first_broken: int | None = None
    problem: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.records} records"
        return f"audit chain BROKEN at record {self.first_broken}: {self.problem}"


class AuditLog:
    """Thread-safe appender and reader; one SQLite file under the data directory."""

    def __init__(self, path: Path, key_file: Path | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.key = load_or_create_key(key_file or path.with_suffix(".key"))
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def append(self, event: str, transfer_id: str, **fields: Any) -> int:
        """Record one state change durably; returns its sequence number."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event}")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown audit fields {sorted(unknown)}")
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                last = self.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                if last is None:
                    last = self.db.execute("SELECT seq, hash FROM anchor WHERE id = 1").fetchone() or (0, GENESIS)
                seq, prev = int(last[0]) + 1, str(last[1])
                body = {"seq": seq, "transfer_id": transfer_id, "time": utc_now(), "event": event, **fields}
                record = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                self.db.execute("INSERT INTO audit (seq, record, prev_hash, hash) VALUES (?, ?, ?, ?)",
                                (seq, record, prev, record_hash(prev, record, self.key)))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return int(seq)

    def verify(self) -> Verification:
        anchor = self.db.execute("SELECT seq, hash FROM anchor WHERE id = 1").fetchone() or (0, GENESIS)
        expected_seq, prev = anchor[0] + 1, anchor[1]
        count = 0
        purges = [json.loads(r) for (r,) in self.db.execute("SELECT record FROM audit ORDER BY seq")
                  if '"event":"purged"' in r]
        if anchor[0] and not any(p.get("detail") == f"anchor {anchor[0]} {anchor[1]}" for p in purges):
            return Verification(False, 0, anchor[0] + 1, "records before this one were removed without a purge record")
        for seq, record, prev_hash, stored in self.db.execute(
                "SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq"):
            count += 1
            if seq != expected_seq:
                return Verification(False, count, expected_seq, f"record {expected_seq} is missing")
            if prev_hash != prev:
                return Verification(False, count, seq, "the link to the previous record does not match "
                                                       "(a record was removed, inserted or reordered)")
            try:
                body = json.loads(record)
            except ValueError:
                return Verification(False, count, seq, "the record is not valid JSON")
            if body.get("seq") != seq:
                return Verification(False, count, seq, "the record's own number was changed (reordered)")
            if record_hash(prev, record, self.key) != stored:
                return Verification(False, count, seq, "the record's content was altered")
            prev, expected_seq = stored, seq + 1
        return Verification(True, count)

    def records(self, since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
        for record, prev_hash, stored in self.db.execute("SELECT record, prev_hash, hash FROM audit ORDER BY seq"):
            body: dict[str, Any] = json.loads(record)
            if (since and body["time"] < since) or (until and body["time"] > until):
                continue
            yield {**body, "prev_hash": prev_hash, "hash": stored}

    def transfers(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """One row per transfer first recorded between ``since`` and ``until`` (UTC times as
        ``utc_now`` writes them): the fields of all its records merged, the latest state
        winning; findings, outputs and details of every record kept (an attachment each)."""
        merged: dict[str, dict[str, Any]] = {}
        for record in self.records():
            row = merged.setdefault(record["transfer_id"], {"id": record["transfer_id"]})
            for key, value in record.items():
                if value in (None, "", []) or key in ("transfer_id", "seq"):
                    continue
                if key in ("findings", "outputs"):
                    row[key] = list(dict.fromkeys([*row.get(key, []), *value]))
                elif key == "detail" and row.get("detail") and value not in row["detail"].split("; "):
                    row["detail"] = f"{row['detail']}; {value}"
                else:
                    row[key] = value
            row.setdefault("received_time", record["time"])
            if record["event"] in ("delivered", "deferred", "failed"):
                row["delivery_status"] = record["event"]
        return [row for row in merged.values()
                if not (since and row["received_time"] < since) and not (until and row["received_time"] > until)]

    def purge_before(self, cutoff: str) -> int:
        """Delete records older than ``cutoff``; the last deleted record's hash becomes the anchor."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rows = self.db.execute("SELECT seq, record, hash FROM audit ORDER BY seq").fetchall()
                doomed = [(seq, stored) for seq, record, stored in rows if json.loads(record)["time"] < cutoff]
                if doomed:
                    last_seq, last_hash = doomed[-1]
                    self.db.execute("INSERT OR REPLACE INTO anchor (id, seq, hash) VALUES (1, ?, ?)",
                                    (last_seq, last_hash))
                    self.db.execute("DELETE FROM audit WHERE seq <= ?", (last_seq,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        if doomed:  # the chain itself records where it now starts
            self.append("purged", "retention", detail=f"anchor {last_seq} {last_hash}")
        return len(doomed)


def export(log: AuditLog, fmt: str, since: str | None = None, until: str | None = None) -> str:
    rows = log.transfers(since, until)
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    columns = ["id", "time", "received_time", "event", "channel", "client_ip", "user", "sender", "recipients",
               "subject", "message_id", "input_sha256", "input_size", "outcome", "findings", "outputs",
               "delivery_status", "prev_hash", "hash"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                         for k, v in row.items()})
    return "\ufeff" + buffer.getvalue()  # BOM: Japanese Excel opens it correctly
