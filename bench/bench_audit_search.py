"""The transfer log's search (the web console's 転送ログ, ``gateway/audit/index.py``) on a year of a
large municipality's history: ``--transfers`` (default 1,000,000) synthetic transfers, on SQLite
and on a throw-away PostgreSQL started here on loopback, and the server time of typical searches.

    .venv/bin/python bench/bench_audit_search.py [--transfers 1000000] [--runs 40] [--backends sqlite,postgresql]

The fill takes a bulk path: each transfer's records are made as the service makes them
(``gateway/audit/records.py``), chained with the log's own keyed hash, merged and indexed by the
log's own functions, and written with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) instead
of one append per record. The searches then go through ``Searcher.search`` as the console calls
it; each kind is run ``--runs`` times with other values (senders, hashes, names, days drawn from
what was filled), after one warm-up run, and the 50th and 95th percentiles are reported.
SQLite gets no ANALYZE (the service never runs it); PostgreSQL is analysed once after the load,
as its autovacuum would.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.audit import index, records
from gateway.audit.index import Search
from gateway.audit.log import AuditLog, record_hash
from gateway.audit.rows import complete, merge

REASONS = ["executable", "script", "macro_blocked", "password_protected", "encrypted_archive", "malware",
           "unknown_type", "corrupt_file"]
FINDINGS = ["vba_macro_removed", "pdf_javascript_removed", "image_metadata_removed", "external_link_removed",
            "ole_object_removed", "text_charset_converted", "html_converted_to_text", "csv_formula_neutralised",
            "pdf_embedded_file_removed", "docx_field_replaced", "xlsx_formula_removed", "odf_macro_removed"]
WORDS = ["請求書", "見積書", "議事録", "報告書", "予算案", "申請書", "契約書", "案内", "名簿", "資料", "report",
         "invoice", "minutes", "budget", "写真", "図面"]
TYPES = [("pdf", "application/pdf"), ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
         ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), ("jpg", "image/jpeg"),
         ("zip", "application/zip"), ("exe", "application/x-dosexec")]


class Synthetic:
    """Reproducible transfers over the year before ``end``."""

    def __init__(self, count: int, end: datetime, seed: int = 14) -> None:
        self.random = random.Random(seed)
        self.count, self.end = count, end
        self.domains = [f"corp{n}.example.co.jp" for n in range(3000)]
        self.senders = [f"user{n}@{self.random.choice(self.domains)}" for n in range(20000)]
        self.recipients = [f"staff{n}@city.example.lg.jp" for n in range(3000)]
        self.accounts = [f"総務課-{n}" for n in range(300)]

    def sha(self) -> str:
        return self.random.getrandbits(256).to_bytes(32, "big").hex()

    def file(self, blocked: bool) -> dict[str, Any]:
        extension, kind = self.random.choice(TYPES[:5])
        if blocked:
            extension, kind = self.random.choice(TYPES)
        name = f"{self.random.choice(WORDS)}_{self.random.randrange(100000)}.{extension}"
        found: dict[str, Any] = {"input": name, "type": kind, "size": self.random.randrange(1000, 5_000_000),
                                 "sha256": self.sha()}
        if blocked:
            found.update(outcome="blocked", reason_code=self.random.choice(REASONS), reason="blocked")
        else:
            codes = self.random.sample(FINDINGS, self.random.choice([0, 0, 1, 1, 2]))
            found.update(outcome="sanitized" if codes else "passed", findings=[{"code": c} for c in codes],
                         outputs=[{"sha256": self.sha()}])
        return found

    def transfers(self) -> Iterator[tuple[str, str, list[records.Record]]]:
        """(transfer id, received time, its records) oldest first."""
        span = 365 * 86400.0
        start = self.end.timestamp() - span
        moments = sorted(start + self.random.random() * span for _ in range(self.count))
        for number, moment in enumerate(moments):
            transfer_id = f"{int(moment * 1e9):016x}{number:016x}"
            at = datetime.fromtimestamp(moment, UTC)
            files = [self.file(self.random.random() < 0.04) for _ in range(self.random.choice([0, 1, 1, 1, 2, 3]))]
            if self.random.random() < 0.15:
                made = self._upload(transfer_id, files or [self.file(False)])
            else:
                made = self._mail(transfer_id, files)
            yield transfer_id, at.isoformat(timespec="milliseconds"), made

    def _upload(self, transfer_id: str, files: list[dict[str, Any]]) -> list[records.Record]:
        meta = {"client_ip": "10.0.0.5", "user": self.random.choice(self.accounts),
                "names": [f["input"] for f in files]}
        made = [records.received_upload(transfer_id, meta, sum(f["size"] for f in files))]
        made += [records.part(transfer_id, n, "file", f) for n, f in enumerate(files)]
        if any(f["outcome"] != "blocked" for f in files):
            made.append(records.files_delivered(transfer_id))
        return made

    def _mail(self, transfer_id: str, files: list[dict[str, Any]]) -> list[records.Record]:
        sender = self.random.choice(self.senders)
        recipients = self.random.sample(self.recipients, self.random.choice([1, 1, 1, 2, 3]))
        made = [records.received_mail(transfer_id, {"client_ip": "192.0.2.10", "sender": sender,
                                                    "recipients": recipients}, self.random.randrange(2000, 9_000_000))]
        summary = {"attachments": files, "subject": f"{self.random.choice(WORDS)}の件 ({self.random.randrange(9999)})",
                   "message_id": f"<{transfer_id}@{sender.split('@')[1]}>", "from": sender, "sha256": self.sha(),
                   "findings": []}
        made += records.attachments(transfer_id, summary)
        if self.random.random() < 0.01:
            made.append(records.mail_rejected(transfer_id, {"reason": "undecodable", "reason_code": "corrupt_file"}))
            return made
        made.append(records.mail_sanitized(transfer_id, summary, transfer_id.encode()))
        if self.random.random() < 0.99:
            made.append(records.delivered(transfer_id, dict.fromkeys(recipients, "delivered")))
        return made


def fill(log: AuditLog, synthetic: Synthetic, write: Callable[[str, list[tuple[Any, ...]]], None]) -> dict[str, Any]:
    """Every transfer's records chained and written, and its index rows, in batches."""
    started = time.monotonic()
    seq, prev = 0, "0" * 64
    batch: dict[str, list[tuple[Any, ...]]] = {"audit": [], "audit_map": [], "transfers": [], "transfer_terms": []}
    samples: dict[str, list[str]] = {"sender": [], "domain": [], "recipient": [], "sha256": [], "name": []}
    count = 0
    for transfer_id, received, made in synthetic.transfers():
        bodies = []
        moment = datetime.fromisoformat(received)
        for offset, record in enumerate(made):
            seq += 1
            body = {"seq": seq, "transfer_id": transfer_id, "event": record.event, **record.stored(),
                    "time": (moment + timedelta(milliseconds=40 * offset)).isoformat(timespec="milliseconds")}
            text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            stored = record_hash(prev, text, log.key)
            batch["audit"].append((seq, text, prev, stored))
            batch["audit_map"].append((seq, transfer_id))
            bodies.append({**body, "prev_hash": prev, "hash": stored})
            prev = stored
        row = complete(merge(transfer_id, bodies))
        batch["transfers"].append((transfer_id, row["received_time"], str(row.get("channel") or ""),
                                   str(row.get("outcome") or ""), index.names(row),
                                   json.dumps(row, ensure_ascii=False, separators=(",", ":"))))
        batch["transfer_terms"] += [(transfer_id, term, row["received_time"]) for term in index.terms(row, bodies)]
        digests = [h for b in bodies for h in index.hashes_of(b)]
        if digests and synthetic.random.random() < 0.001:
            samples["sender"].append(str(row.get("sender") or row.get("user")))
            samples["domain"].append("@" + str(row.get("sender") or "x@corp1.example.co.jp").rsplit("@", 1)[1])
            samples["recipient"].append(str((row.get("recipients") or ["staff1@city.example.lg.jp"])[0]))
            samples["sha256"].append(synthetic.random.choice(digests))
            if row.get("parts"):
                samples["name"].append(str(row["parts"][0]["name"]).rsplit(".", 1)[0])
        count += 1
        if len(batch["audit"]) >= 50000:
            for table, rows in batch.items():
                write(table, rows)
                rows.clear()
    for table, rows in batch.items():
        write(table, rows)
    log.db.execute("DELETE FROM meta WHERE name = 'index'")
    log.db.execute("INSERT INTO meta (name, value) VALUES ('index', ?)", (index.INDEX_VERSION,))
    return {"transfers": count, "records": seq, "fill_seconds": round(time.monotonic() - started, 1),
            "samples": samples}


COLUMNS = {"audit": ("seq", "record", "prev_hash", "hash"), "audit_map": ("seq", "transfer_id"),
           "transfers": ("transfer_id", "received_time", "channel", "outcome", "names", "summary"),
           "transfer_terms": ("transfer_id", "term", "received_time")}


def sqlite_writer(log: AuditLog) -> Callable[[str, list[tuple[Any, ...]]], None]:
    connection = log.db.db  # type: ignore[attr-defined]
    connection.execute("PRAGMA synchronous=OFF")

    def write(table: str, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(COLUMNS[table]))
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES ({marks})", rows)  # noqa: S608
        connection.execute("COMMIT")
    return write


def postgres_writer(log: AuditLog) -> Callable[[str, list[tuple[Any, ...]]], None]:
    connection = log.db.db  # type: ignore[attr-defined]

    def write(table: str, rows: list[tuple[Any, ...]]) -> None:
        with connection.transaction(), connection.cursor().copy(
                f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return write


def searches(samples: dict[str, list[str]], end: datetime, pick: random.Random) -> dict[str, Callable[[], Search]]:
    def days(n: int) -> tuple[str, str]:
        until = end - timedelta(days=pick.randrange(0, 300))
        return (until - timedelta(days=n)).isoformat(timespec="milliseconds"), until.isoformat(timespec="milliseconds")

    return {
        "newest (no condition)": lambda: Search(),
        "one day": lambda: Search(*days(1)),
        "sender address": lambda: Search(sender=pick.choice(samples["sender"])),
        "sender domain, 30 days": lambda: Search(*days(30), sender=pick.choice(samples["domain"])),
        "recipient address": lambda: Search(recipient=pick.choice(samples["recipient"])),
        "SHA-256": lambda: Search(sha256=pick.choice(samples["sha256"])),
        "GW- reference": lambda: Search(sha256="GW-" + pick.choice(samples["sha256"])[:12].upper()),
        "outcome blocked, 30 days": lambda: Search(*days(30), outcome="blocked"),
        "reason code": lambda: Search(reason=pick.choice(REASONS)),
        "finding code, 7 days": lambda: Search(*days(7), finding=pick.choice(FINDINGS)),
        "file name (common word)": lambda: Search(name=pick.choice(WORDS)),
        "file name (one file), 30 days": lambda: Search(*days(30), name=pick.choice(samples["name"])),
        "reason + recipient domain": lambda: Search(reason=pick.choice(REASONS), recipient="@city.example.lg.jp"),
    }


def measure(log: AuditLog, samples: dict[str, list[str]], end: datetime, runs: int) -> dict[str, dict[str, float]]:
    searcher = log.searcher()
    pick = random.Random(7)
    results: dict[str, dict[str, float]] = {}
    every: list[float] = []
    for name, make in searches(samples, end, pick).items():
        searcher.search(make())  # warm-up
        times, found = [], 0
        for run in range(runs):
            wanted = make()
            started = time.perf_counter()
            found += len(searcher.search(wanted, offset=50 * (run % 3), limit=50))  # first, second and third pages
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        every += times
        results[name] = {"p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
                         "max_ms": round(times[-1], 1), "rows_per_page": round(found / runs, 1)}
        print(f"  {name:32} p50 {results[name]['p50_ms']:7.1f} ms  p95 {results[name]['p95_ms']:7.1f} ms  "
              f"max {results[name]['max_ms']:7.1f} ms  rows {found / runs:5.1f}", flush=True)
    every.sort()
    results["all searches"] = {"p50_ms": round(statistics.median(every), 1),
                               "p95_ms": round(every[int(len(every) * 0.95) - 1], 1), "max_ms": round(every[-1], 1)}
    return results


def start_postgres(folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A throw-away cluster on loopback (as tests/gateway/audit/test_postgres.py starts one)."""
    import psycopg

    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise SystemExit("PostgreSQL is missing: scripts/setup.sh installs it")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "nobody", "nogroup")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    subprocess.run([*as_user, f"{binaries[-1]}/initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "gateway",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*as_user, f"{binaries[-1]}/postgres", "-D", str(folder / "data"), "-p", str(port),
                                "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://gateway@127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            psycopg.connect(f"{url}/postgres").close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE audit")
    return f"{url}/audit", process


def run(backend: str, count: int, runs: int, folder: Path) -> dict[str, Any]:
    end = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    process, pg_folder = None, folder
    if backend == "postgresql":
        pg_folder = Path(tempfile.mkdtemp(prefix="bench-audit-pg-"))  # (nobody must reach it: not under folder)
        url, process = start_postgres(pg_folder)
        log = AuditLog(folder / "unused.sqlite3", folder / "audit.key", database=url)
        writer = postgres_writer(log)
    else:
        log = AuditLog(folder / "audit.sqlite3")
        writer = sqlite_writer(log)
    try:
        print(f"{backend}: filling {count} transfers ...", flush=True)
        filled = fill(log, Synthetic(count, end), writer)
        if backend == "postgresql":
            log.db.execute("ANALYZE")
        size = int(log.db.query("SELECT pg_database_size(current_database())")[0][0]) if process is not None \
            else sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{backend}: {filled['transfers']} transfers, {filled['records']} records in "
              f"{filled['fill_seconds']} s, {size / 2**30:.1f} GiB on disk", flush=True)
        results = measure(log, filled.pop("samples"), end, runs)
        return {"backend": backend, **filled, "disk_gib": round(size / 2**30, 1), "searches": results}
    finally:
        log.close()
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
            shutil.rmtree(pg_folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="searches of each kind")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        folder = Path(tempfile.mkdtemp(prefix=f"bench-audit-{backend}-"))
        try:
            result = run(backend, args.transfers, args.runs, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
