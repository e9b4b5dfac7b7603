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

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit import index as search_index
from gateway.audit.databases import open_database
from gateway.audit.rows import complete, merge
from gateway.errors import AuditKeyMismatch

GENESIS = "0" * 64
CATCH_UP_BATCH = 5000  # records the search index takes in at a time (gateway/audit/index.py)
EVENTS = frozenset({"received", "sanitized", "blocked", "delivered", "deferred", "failed", "released", "purged",
                    "access", "operator"})  # access: an API token created or revoked; operator: `gateway queue`
FIELDS = ("seq", "transfer_id", "time", "event", "channel", "client_ip", "user", "sender", "recipients", "subject",
          "message_id", "input_sha256", "input_size", "outcome", "findings", "outputs", "delivery_status", "detail",
          "happened", "key", "part", "operator", "reason_code")
# happened: when a record written late happened; key: the record's name within its transfer
# (gateway/audit/records.py), by which a record intended before a crash is found again, never written twice;
# part: one attachment's or uploaded file's judgement; operator: who changed a queued transfer;
# reason_code: why a part was blocked or a mail rejected


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
    """Thread-safe appender and reader, on SQLite under the data directory or on a PostgreSQL
    database shared by several nodes (``database``: a postgresql:// URL). Every node must hold
    the same key: the log keeps the key's fingerprint and refuses another one."""

    def __init__(self, path: Path, key_file: Path | None = None, database: str = "") -> None:
        self.path = path
        key_path = key_file or path.with_suffix(".key")
        key_path.parent.mkdir(parents=True, exist_ok=True)
        self.key = load_or_create_key(key_path)
        self.db = open_database(path, database)
        self._check_key(key_path)
        with self.db.writing():
            search_index.prepare(self.db)
        self.index = search_index.Index(self.db, merge, complete)
        self._index_current = False

    def _check_key(self, key_path: Path) -> None:
        fingerprint = hmac.new(self.key, b"lgwan-gateway audit key", hashlib.sha256).hexdigest()[:16]
        with self.db.writing():
            stored = self.db.query("SELECT value FROM meta WHERE name = 'key'")
            if not stored:
                # a log from before the fingerprint: the key must still compute its newest record's hash
                newest = self.db.query("SELECT record, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1")
                if newest and record_hash(newest[0][1], newest[0][0], self.key) != newest[0][2]:
                    stored = [("another key",)]
                else:
                    self.db.execute("INSERT INTO meta (name, value) VALUES ('key', ?)", (fingerprint,))
        if stored and stored[0][0] != fingerprint:
            self.db.close()
            raise AuditKeyMismatch(f"the audit key {key_path} is not the one this audit log ({self.db.location}) was "
                                   "started with: every node needs a copy of the first node's key file")

    def close(self) -> None:
        self.db.close()

    def append(self, event: str, transfer_id: str, **fields: Any) -> int:
        """Record one state change durably; returns its sequence number."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event}")
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown audit fields {sorted(unknown)}")
        try:
            with self.db.writing():
                return self._append_locked(event, transfer_id, fields)
        except Exception as exc:
            if not self.db.connection_lost(exc):
                raise
        with self.db.writing():  # once more, on a fresh connection: the server had dropped the old one
            return self._append_locked(event, transfer_id, fields)

    def append_all(self, records: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Record several state changes (event, transfer id, fields) in one transaction: all or none."""
        for event, _, fields in records:
            if event not in EVENTS:
                raise ValueError(f"unknown audit event {event}")
            unknown = set(fields) - set(FIELDS)
            if unknown:
                raise ValueError(f"unknown audit fields {sorted(unknown)}")
        for attempt in (1, 2):
            try:
                with self.db.writing():
                    for event, transfer_id, fields in records:
                        self._append_locked(event, transfer_id, fields)
                return
            except Exception as exc:
                if attempt == 2 or not self.db.connection_lost(exc):
                    raise  # (once more on a fresh connection when the server had dropped the old one)

    def holds(self, wanted: set[tuple[str, str]], since: str) -> set[tuple[str, str]]:
        """Which of ``wanted`` (transfer id, key) the log already holds, looking back from the
        newest record to the first one written before ``since`` (a UTC time as ``utc_now``
        writes it): what a crash may have left unwritten is recent, so the look is short."""
        found: set[tuple[str, str]] = set()
        below = (self.db.query("SELECT MAX(seq) FROM audit")[0][0] or 0) + 1
        while wanted - found:
            rows = self.db.query("SELECT seq, record FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT 500", (below,))
            for seq, record in rows:
                body = json.loads(record)
                if (body.get("transfer_id"), body.get("key")) in wanted:
                    found.add((str(body["transfer_id"]), str(body["key"])))
                if str(body.get("time", "")) < since:
                    return found
                below = seq
            if len(rows) < 500:
                break
        return found

    def catch_up(self, batch: int = CATCH_UP_BATCH) -> int:
        """Index the records appended since the index last looked, in a short transaction of its
        own (built whole first if this log never had an index); how many records. The service calls
        it every second and every search calls it first, so appends never wait for the index."""
        if not self.index_current():
            self.reindex()
            return 0
        with self.db.writing():
            last = int(self.db.query("SELECT COALESCE(MAX(seq), 0) FROM audit_map")[0][0])
            rows = self.db.query("SELECT seq, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch))
            added = [(int(seq), str(json.loads(record)["transfer_id"])) for seq, record in rows]
            if added:
                self.index.appended(added)
        return len(added)

    def index_current(self) -> bool:
        """Whether the search index was built (``catch_up`` keeps it current from then on)."""
        if not self._index_current:
            self._index_current = search_index.is_current(self.db)
        return self._index_current

    def reindex(self) -> int:
        """The search index made again from the records (``gateway audit reindex``); how many transfers."""
        with self.db.writing():
            count = self.index.rebuild()
        self._index_current = True
        return count

    def searcher(self) -> search_index.Searcher:
        """Searches over the index, brought up to the newest record first."""
        while self.catch_up() >= CATCH_UP_BATCH:
            pass
        return search_index.Searcher(self.db)

    def transfer(self, transfer_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One transfer as ``audit show`` and the console's detail page give it: its export row (every
        column) and its records in order; an empty timeline when the log holds none of it."""
        timeline = self.timeline(transfer_id)
        return (complete(merge(transfer_id, timeline)) if timeline else {}), timeline

    def _append_locked(self, event: str, transfer_id: str, fields: dict[str, Any]) -> int:
        """The append itself, inside a write transaction the caller holds."""
        last = self.db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        if not last:
            last = self.db.query("SELECT seq, hash FROM anchor WHERE id = 1") or [(0, GENESIS)]
        seq, prev = int(last[0][0]) + 1, str(last[0][1])
        body = {"seq": seq, "transfer_id": transfer_id, "time": utc_now(), "event": event, **fields}
        record = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.db.execute("INSERT INTO audit (seq, record, prev_hash, hash) VALUES (?, ?, ?, ?)",
                        (seq, record, prev, record_hash(prev, record, self.key)))
        return seq

    def verify(self) -> Verification:
        """Recompute the chain, in one snapshot (a purge or append meanwhile cannot look like
        tampering)."""
        with self.db.reading():
            return self._verify()

    def _verify(self) -> Verification:
        anchor = (self.db.query("SELECT seq, hash FROM anchor WHERE id = 1") or [(0, GENESIS)])[0]
        expected_seq, prev = anchor[0] + 1, anchor[1]
        count = 0
        purges = [json.loads(r) for (r,) in self.db.query("SELECT record FROM audit ORDER BY seq")
                  if '"event":"purged"' in r]
        if anchor[0] and not any(p.get("detail") == f"anchor {anchor[0]} {anchor[1]}" for p in purges):
            return Verification(False, 0, anchor[0] + 1, "records before this one were removed without a purge record")
        for seq, record, prev_hash, stored in self.db.query(
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

    def head(self) -> tuple[int, str, int]:
        """The chain's newest record: its number and hash, and how many records the log holds
        (0, the anchor's hash and 0 when it holds none)."""
        with self.db.reading():
            last = self.db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") or \
                self.db.query("SELECT seq, hash FROM anchor WHERE id = 1") or [(0, GENESIS)]
            count = int(self.db.query("SELECT COUNT(*) FROM audit")[0][0])
        return int(last[0][0]), str(last[0][1]), count

    def records(self, since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
        for record, prev_hash, stored in self.db.query("SELECT record, prev_hash, hash FROM audit ORDER BY seq"):
            body: dict[str, Any] = json.loads(record)
            if (since and body["time"] < since) or (until and body["time"] > until):
                continue
            yield {**body, "prev_hash": prev_hash, "hash": stored}

    def transfers(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """One row per transfer that arrived between ``since`` and ``until`` (UTC times as
        ``utc_now`` writes them): its records merged by ``merge``."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for record in self.records():
            grouped.setdefault(record["transfer_id"], []).append(record)
        rows = [merge(transfer_id, records) for transfer_id, records in grouped.items()]
        return [row for row in rows
                if not (since and row["received_time"] < since) and not (until and row["received_time"] > until)]

    def timeline(self, transfer_id: str) -> list[dict[str, Any]]:
        """Every record of one transfer, in the order they were written (through the index once it is built)."""
        if self.index_current():
            self.catch_up()
            return self.index.records(transfer_id)
        wanted = json.dumps(transfer_id, ensure_ascii=False)
        rows = self.db.query("SELECT record, prev_hash, hash FROM audit WHERE record LIKE ? ORDER BY seq",
                             (f'%"transfer_id":{wanted}%',))
        found = []
        for record, prev_hash, stored in rows:
            body: dict[str, Any] = json.loads(record)
            if body.get("transfer_id") == transfer_id:
                found.append({**body, "prev_hash": prev_hash, "hash": stored})
        return found

    def find(self, reference: str) -> list[str]:
        """The transfers ``reference`` names, oldest first: a ``GW-`` reference (the first 12 hex
        digits of the mail's SHA-256, as the notice gives it), a SHA-256 (of what arrived, of an
        attachment, uploaded file or archive member, or of an output), a Message-ID (with or
        without its angle brackets) or a transfer id."""
        wanted = reference.strip()
        gw = re.fullmatch(r"(?i)GW-([0-9a-f]{12})", wanted)
        digest = wanted.lower() if re.fullmatch(r"(?i)[0-9a-f]{64}", wanted) else ""
        message_id = wanted.strip("<>") if "@" in wanted else ""
        needle = gw.group(1).lower() if gw else digest or message_id or wanted
        if not needle:
            return []

        def names(body: dict[str, Any]) -> bool:
            if gw or digest:
                return any(h.startswith(needle) if gw else h == needle for h in search_index.hashes_of(body))
            if message_id:
                return str(body.get("message_id", "")).strip("<>") == message_id
            return body.get("transfer_id") == wanted

        pattern = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found: dict[str, None] = {}
        for (record,) in self.db.query("SELECT record FROM audit WHERE record LIKE ? ESCAPE '\\' ORDER BY seq",
                                       (f"%{pattern}%",)):
            body = json.loads(record)
            if names(body):
                found[str(body["transfer_id"])] = None
        return list(found)

    def purge_before(self, cutoff: str) -> int:
        """Delete records older than ``cutoff``; the last deleted record's hash becomes the anchor."""
        with self.db.writing():
            rows = self.db.query("SELECT seq, record, hash FROM audit ORDER BY seq")
            doomed = [(seq, stored) for seq, record, stored in rows if json.loads(record)["time"] < cutoff]
            if doomed:  # the chain itself records where it now starts, in the same transaction
                last_seq, last_hash = doomed[-1]
                self.db.set_anchor(last_seq, last_hash)
                self.db.execute("DELETE FROM audit WHERE seq <= ?", (last_seq,))
                if self.index_current():
                    self.index.purged(last_seq)
                self._append_locked("purged", "retention", {"detail": f"anchor {last_seq} {last_hash}"})
        return len(doomed)
