"""The audit log's search index: derived data, rebuildable from the records at any time
(``gateway audit reindex``), kept in the same transaction as every append so that it never
lags behind the chain. The hash chain knows nothing of it: the records and their hashes are
written exactly as before, and the index tables may be dropped and rebuilt.

Three tables, in the audit log's own database (SQLite or PostgreSQL):

- ``audit_map``: each record's transfer (seq -> transfer id), so that one transfer's records are
  found without reading the log;
- ``transfers``: one row per transfer, its records merged as ``audit export`` merges them
  (``summary``: the export row as JSON), with the columns searched or sorted on;
- ``transfer_terms``: what a search names exactly, one row per transfer and term, ``kind:value``:
  ``s:`` sender or uploading account (and ``s:@domain``), ``r:`` recipient (and ``r:@domain``),
  ``h:`` every SHA-256 (what arrived, each part and archive member, each output), ``c:`` every
  reason code (blocked parts and members, a rejected mail), ``f:`` every finding code.

A search walks one index in time order (newest first): the terms' index of its rarest term, or
the outcome's, or the time's, checks the other conditions per row, and stops after a page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.audit.databases import AuditDatabase

INDEX_VERSION = "1"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_map (seq BIGINT PRIMARY KEY, transfer_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_map_transfer ON audit_map (transfer_id, seq)",
    "CREATE TABLE IF NOT EXISTS transfers (transfer_id TEXT PRIMARY KEY, received_time TEXT NOT NULL, "
    "channel TEXT NOT NULL, outcome TEXT NOT NULL, names TEXT NOT NULL, summary TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS transfers_time ON transfers (received_time, transfer_id)",
    "CREATE INDEX IF NOT EXISTS transfers_outcome ON transfers (outcome, received_time, transfer_id)",
    "CREATE TABLE IF NOT EXISTS transfer_terms (transfer_id TEXT NOT NULL, term TEXT NOT NULL, "
    "received_time TEXT NOT NULL, PRIMARY KEY (transfer_id, term))",
    "CREATE INDEX IF NOT EXISTS transfer_terms_term ON transfer_terms (term, received_time, transfer_id)",
)
TERM_KINDS = ("s", "r", "h", "c", "f")
MAX_TERM = 300
REBUILD_BATCH = 500
RARE_ENOUGH = 2000  # a term matching fewer transfers than this drives the search as it is


def prepare(db: AuditDatabase) -> None:
    for statement in SCHEMA:
        db.execute(statement)


def is_current(db: AuditDatabase) -> bool:
    """Whether the index was built (by ``rebuild``) for this version; appends keep it current from then on."""
    return db.query("SELECT value FROM meta WHERE name = 'index'") == [(INDEX_VERSION,)]


def _domain(address: str) -> list[str]:
    return [f"@{address.rsplit('@', 1)[1]}"] if "@" in address else []


def terms(row: dict[str, Any], records: Iterable[dict[str, Any]]) -> set[str]:
    """Every term a transfer is found by (lower case; each at most MAX_TERM characters)."""
    found: set[str] = set()
    senders = [str(row.get("sender") or ""), str(row.get("user") or "")]
    for record in records:
        senders += [str(record.get("sender") or "")]
    for sender in filter(None, (s.strip().lower() for s in senders)):
        found.update(f"s:{v}" for v in (sender, *_domain(sender)))
    recipients = [str(r) for r in row.get("recipients") or []]
    for record in records:
        recipients += [str(r) for r in record.get("recipients") or []]
    for recipient in filter(None, (r.strip().lower() for r in recipients)):
        found.update(f"r:{v}" for v in (recipient, *_domain(recipient)))
    for record in records:
        found.update(f"h:{h.lower()}" for h in hashes_of(record))
    found.update(f"h:{str(h).lower()}" for h in row.get("outputs") or [] if h)
    codes = [*(row.get("blocked") or []), str(row.get("reason_code") or "")]
    findings = list(row.get("findings") or [])
    for part in row.get("parts") or []:
        for item in [part, *(part.get("members") or [])]:
            findings += item.get("findings") or []
            if item.get("outcome") == "blocked":
                codes.append(str(item.get("reason_code") or ""))
    found.update(f"c:{str(c).lower()}" for c in codes if c)
    found.update(f"f:{str(f).lower()}" for f in findings if f)
    return {term[:MAX_TERM] for term in found}


def hashes_of(body: dict[str, Any]) -> list[str]:
    """Every SHA-256 a record names: what arrived, its outputs, and a part's and its members'."""
    found = [str(body.get("input_sha256") or ""), *(str(h) for h in body.get("outputs") or [])]
    part = body.get("part")
    if isinstance(part, dict):
        for item in [part, *(m for m in part.get("members") or [] if isinstance(m, dict))]:
            found += [str(item.get("sha256") or ""), *(str(h) for h in item.get("outputs") or [])]
    return [h for h in found if h]


def names(row: dict[str, Any]) -> str:
    """The file names a transfer carries, one a line, lower case: the subject (an upload's names),
    each part's, each archive member's."""
    found = [str(row.get("subject") or "")]
    for part in row.get("parts") or []:
        found += [str(part.get("name") or ""), *(str(m.get("name") or "") for m in part.get("members") or [])]
    return "\n".join(dict.fromkeys(n.lower() for n in found if n))[:20000]


class Index:
    """The index tables of one audit database; every method runs inside the caller's transaction."""

    def __init__(self, db: AuditDatabase, merge: Any, complete: Any) -> None:
        self.db = db
        self._merge, self._complete = merge, complete  # gateway/audit/log.py's (that module imports this one)

    def appended(self, added: list[tuple[int, str]]) -> None:
        """Records just appended (seq, transfer id): mapped, and each transfer's row made again."""
        for seq, transfer_id in added:
            self.db.execute("INSERT INTO audit_map (seq, transfer_id) VALUES (?, ?)", (seq, transfer_id))
        for transfer_id in dict.fromkeys(t for _, t in added):
            self.refresh(transfer_id)

    def records(self, transfer_id: str) -> list[dict[str, Any]]:
        """One transfer's records, in the order they were written, with their chain links."""
        rows = self.db.query("SELECT a.record, a.prev_hash, a.hash FROM audit_map m JOIN audit a ON a.seq = m.seq "
                             "WHERE m.transfer_id = ? ORDER BY m.seq", (transfer_id,))
        return [{**json.loads(record), "prev_hash": prev_hash, "hash": stored} for record, prev_hash, stored in rows]

    def refresh(self, transfer_id: str) -> None:
        records = self.records(transfer_id)
        self.db.execute("DELETE FROM transfer_terms WHERE transfer_id = ?", (transfer_id,))
        if not records:
            self.db.execute("DELETE FROM transfers WHERE transfer_id = ?", (transfer_id,))
            return
        self.store(self._complete(self._merge(transfer_id, records)), records, fresh=False)

    def store(self, row: dict[str, Any], records: list[dict[str, Any]], *, fresh: bool) -> None:
        """Write one transfer's row and terms (``fresh``: known not to be there yet)."""
        values = (row["id"], row["received_time"], str(row.get("channel") or ""), str(row.get("outcome") or ""),
                  names(row), json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        if fresh:
            self.db.execute("INSERT INTO transfers (transfer_id, received_time, channel, outcome, names, summary) "
                            "VALUES (?, ?, ?, ?, ?, ?)", values)
        else:
            self.db.execute("INSERT INTO transfers (transfer_id, received_time, channel, outcome, names, summary) "
                            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (transfer_id) DO UPDATE SET "
                            "received_time = excluded.received_time, channel = excluded.channel, "
                            "outcome = excluded.outcome, names = excluded.names, summary = excluded.summary", values)
        for term in sorted(terms(row, records)):
            self.db.execute("INSERT INTO transfer_terms (transfer_id, term, received_time) VALUES (?, ?, ?)",
                            (row["id"], term, row["received_time"]))

    def purged(self, last_seq: int) -> None:
        """Records up to ``last_seq`` were deleted: their transfers lose them (and go when nothing is left)."""
        touched = [str(t) for (t,) in self.db.query("SELECT DISTINCT transfer_id FROM audit_map WHERE seq <= ?",
                                                    (last_seq,))]
        self.db.execute("DELETE FROM audit_map WHERE seq <= ?", (last_seq,))
        for transfer_id in touched:
            self.refresh(transfer_id)

    def rebuild(self) -> int:
        """Everything made again from the records; how many transfers. Inside one transaction."""
        for table in ("transfer_terms", "transfers", "audit_map"):
            self.db.execute(f"DELETE FROM {table}")  # noqa: S608 (a fixed name)
        after = -1
        while True:
            rows = self.db.query("SELECT seq, record FROM audit WHERE seq > ? ORDER BY seq LIMIT 5000", (after,))
            for seq, record in rows:
                self.db.execute("INSERT INTO audit_map (seq, transfer_id) VALUES (?, ?)",
                                (seq, str(json.loads(record)["transfer_id"])))
            if len(rows) < 5000:
                break
            after = int(rows[-1][0])
        count, last = 0, ""
        while True:
            batch = [str(t) for (t,) in self.db.query(
                "SELECT DISTINCT transfer_id FROM audit_map WHERE transfer_id > ? ORDER BY transfer_id LIMIT ?",
                (last, REBUILD_BATCH))]
            if not batch:
                break
            marks = ", ".join("?" * len(batch))
            grouped: dict[str, list[dict[str, Any]]] = {t: [] for t in batch}
            sql = ("SELECT m.transfer_id, a.record, a.prev_hash, a.hash FROM audit_map m JOIN audit a "  # noqa: S608
                   f"ON a.seq = m.seq WHERE m.transfer_id IN ({marks}) ORDER BY m.seq")  # (placeholders only)
            for transfer_id, record, prev_hash, stored in self.db.query(sql, tuple(batch)):
                grouped[str(transfer_id)].append({**json.loads(record), "prev_hash": prev_hash, "hash": stored})
            for transfer_id, records in grouped.items():
                self.store(self._complete(self._merge(transfer_id, records)), records, fresh=True)
            count += len(batch)
            last = batch[-1]
        self.db.execute("DELETE FROM meta WHERE name = 'index'")
        self.db.execute("INSERT INTO meta (name, value) VALUES ('index', ?)", (INDEX_VERSION,))
        return count


# searching ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Search:
    """What an operator looks for; every given condition must hold. Times are UTC as the log
    writes them (``since`` inclusive, ``until`` exclusive); text is matched without case:
    ``sender``/``recipient`` an address or ``@domain``, ``name`` a part of a file name,
    ``sha256`` a whole SHA-256 or a ``GW-`` reference (its first 12 hex digits)."""

    since: str = ""
    until: str = ""
    sender: str = ""
    recipient: str = ""
    name: str = ""
    sha256: str = ""
    outcome: str = ""
    reason: str = ""
    finding: str = ""
    channel: str = ""

    def problems(self) -> list[str]:
        """The fields that cannot be searched as given (their names)."""
        wrong = []
        if self.sha256 and not _hash_term(self.sha256):
            wrong.append("sha256")
        for name in ("reason", "finding", "outcome", "channel"):
            if getattr(self, name) and not re.fullmatch(r"[a-z0-9_ ]{1,64}", getattr(self, name)):
                wrong.append(name)
        return wrong

    def exact_terms(self) -> list[str]:
        found = []
        if self.sender:
            found.append(f"s:{self.sender.strip().lower()}"[:MAX_TERM])
        if self.recipient:
            found.append(f"r:{self.recipient.strip().lower()}"[:MAX_TERM])
        if self.reason:
            found.append(f"c:{self.reason}")
        if self.finding:
            found.append(f"f:{self.finding}")
        term = _hash_term(self.sha256) if self.sha256 else ""
        if term and len(term) == 66:
            found.append(term)
        # likely the rarest first (a whole hash, an address, a code, a whole domain last): of terms that all
        # match many transfers, the first one drives the search
        return sorted(found, key=lambda t: (t[0] != "h", t[2:3] == "@", t[0] in "cf"))


def _hash_term(value: str) -> str:
    """``h:<sha256>`` for a SHA-256, ``h:<12 hex>`` (a prefix) for a GW- reference, "" otherwise."""
    value = value.strip().lower()
    if re.fullmatch(r"[0-9a-f]{64}", value):
        return f"h:{value}"
    found = re.fullmatch(r"gw-([0-9a-f]{12})", value)
    return f"h:{found.group(1)}" if found else ""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Searcher:
    """Searches reading only the index tables."""

    def __init__(self, db: AuditDatabase) -> None:
        self.db = db

    def _rarest(self, candidates: list[str]) -> str:
        """The term matching the fewest transfers (counted up to RARE_ENOUGH each)."""
        best, fewest = candidates[0], None
        for term in candidates:
            count = int(self.db.query("SELECT COUNT(*) FROM (SELECT 1 FROM transfer_terms WHERE term = ? LIMIT ?) x",
                                      (term, RARE_ENOUGH))[0][0])
            if fewest is None or count < fewest:
                best, fewest = term, count
            if count < RARE_ENOUGH:
                break
        return best

    def search(self, wanted: Search, offset: int = 0, limit: int = 50) -> list[dict[str, Any]]:
        """The export rows of the transfers ``wanted`` finds, newest first. A condition that cannot be
        read raises ValueError (it never matches everything instead)."""
        if wanted.problems():
            raise ValueError(f"cannot search by {', '.join(wanted.problems())}")
        return [json.loads(summary) for (summary,) in self._select("t.summary", wanted, offset, limit)]

    def rows(self, wanted: Search, limit: int) -> Iterator[dict[str, Any]]:
        """Every row found (up to ``limit``), newest first, read a page at a time."""
        offset, page = 0, 1000
        while offset < limit:
            found = self.search(wanted, offset, min(page, limit - offset))
            yield from found
            if len(found) < page:
                return
            offset += page

    def _select(self, columns: str, wanted: Search, offset: int, limit: int) -> list[tuple[Any, ...]]:
        where: list[str] = []
        params: list[Any] = []
        exact = wanted.exact_terms()
        prefix = _hash_term(wanted.sha256) if wanted.sha256 and len(_hash_term(wanted.sha256)) < 66 else ""
        if exact:
            driver = self._rarest(exact)
            exact.remove(driver)
            source = "transfer_terms x JOIN transfers t ON t.transfer_id = x.transfer_id"
            where.append("x.term = ?")
            params.append(driver)
            order = "x.received_time DESC, x.transfer_id DESC"
            time_column = "x.received_time"
        elif prefix:  # a GW- reference: the terms of every hash that begins so
            source = "transfer_terms x JOIN transfers t ON t.transfer_id = x.transfer_id"
            where.append("x.term >= ? AND x.term < ?")
            params += [prefix, prefix + "g"]
            order = "x.received_time DESC, x.transfer_id DESC"
            time_column = "x.received_time"
            prefix = ""
        else:
            source = "transfers t"
            order = "t.received_time DESC, t.transfer_id DESC"
            time_column = "t.received_time"
            if wanted.outcome:
                order = "t.outcome DESC, t.received_time DESC, t.transfer_id DESC"  # the outcome's index, in order
        if wanted.since:
            where.append(f"{time_column} >= ?")
            params.append(wanted.since)
        if wanted.until:
            where.append(f"{time_column} < ?")
            params.append(wanted.until)
        if wanted.outcome:
            where.append("t.outcome = ?")
            params.append(wanted.outcome)
        if wanted.channel:
            where.append("t.channel = ?")
            params.append(wanted.channel)
        for term in exact:  # (OFFSET 0: PostgreSQL checks it per row found instead of joining every row of the term)
            where.append("EXISTS (SELECT 1 FROM transfer_terms y WHERE y.transfer_id = t.transfer_id AND y.term = ? "
                         "LIMIT 1 OFFSET 0)")
            params.append(term)
        if prefix:
            where.append("EXISTS (SELECT 1 FROM transfer_terms y WHERE y.transfer_id = t.transfer_id "
                         "AND y.term >= ? AND y.term < ? LIMIT 1 OFFSET 0)")
            params += [prefix, prefix + "g"]
        if wanted.name:
            where.append("t.names LIKE ? ESCAPE '\\'")
            params.append(_like(wanted.name.strip().lower()))
        sql = (f"SELECT {columns} FROM {source}{' WHERE ' + ' AND '.join(where) if where else ''} "  # noqa: S608
               f"ORDER BY {order} LIMIT ? OFFSET ?")  # (fixed fragments; every value is a parameter)
        return self.db.query(sql, (*params, limit, offset))

    def per_hour(self, since: str) -> list[tuple[str, str, int]]:
        """(hour "YYYY-MM-DDTHH" in UTC, channel, transfers) since ``since``."""
        return [(str(hour), str(channel), int(count)) for hour, channel, count in self.db.query(
            "SELECT substr(received_time, 1, 13) AS hour, channel, COUNT(*) FROM transfers WHERE received_time >= ? "
            "GROUP BY substr(received_time, 1, 13), channel ORDER BY 1", (since,))]

    def outcomes(self, since: str) -> list[tuple[str, int]]:
        return [(str(outcome), int(count)) for outcome, count in self.db.query(
            "SELECT outcome, COUNT(*) FROM transfers WHERE received_time >= ? AND outcome <> '' "
            "GROUP BY outcome ORDER BY 2 DESC", (since,))]

    def reasons(self, since: str) -> list[tuple[str, int]]:
        """Reason codes of what was blocked since ``since``: how many transfers each."""
        return [(str(term)[2:], int(count)) for term, count in self.db.query(
            "SELECT x.term, COUNT(*) FROM transfers t JOIN transfer_terms x ON x.transfer_id = t.transfer_id "
            "WHERE t.received_time >= ? AND x.term >= 'c:' AND x.term < 'c;' GROUP BY x.term ORDER BY 2 DESC",
            (since,))]
