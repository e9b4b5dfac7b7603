"""The audit chain: records are linked by hashes; verify names the first altered, removed or
reordered record; a retention purge keeps what remains verifiable."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.audit.rows import export


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.sqlite3")
    for index in range(5):
        audit.append("received", f"t{index}", channel="smtp", client_ip="127.0.0.1", sender="a@example.jp",
                     recipients=["b@city.example.lg.jp"], subject=f"件名{index} ①㈱", input_sha256="ab" * 32)
        audit.append("sanitized", f"t{index}", outcome="sanitized", findings=["vba_macro_removed"])
        time.sleep(0.002)  # times have millisecond resolution: each transfer gets its own (purge tests cut by time)
    return audit


def raw(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(log.path, isolation_level=None)


def test_intact_chain_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.records == 10


def test_times_are_utc_with_offset(log: AuditLog) -> None:
    assert all(record["time"].endswith("+00:00") for record in log.records())


def test_edited_record_is_named(log: AuditLog) -> None:
    db = raw(log)
    db.execute("DROP TRIGGER audit_no_update")
    record = db.execute("SELECT record FROM audit WHERE seq = 3").fetchone()[0]
    db.execute("UPDATE audit SET record = ? WHERE seq = 3", (record.replace("件名1", "件名X"),))
    result = log.verify()
    assert (result.ok, result.first_broken) == (False, 3) and "altered" in result.problem


def test_deleted_record_is_named(log: AuditLog) -> None:
    raw(log).execute("DELETE FROM audit WHERE seq = 6")
    result = log.verify()
    assert (result.ok, result.first_broken) == (False, 6) and "missing" in result.problem


def test_swapped_records_are_named(log: AuditLog) -> None:
    db = raw(log)
    db.execute("DROP TRIGGER audit_no_update")
    rows = db.execute("SELECT seq, record, prev_hash, hash FROM audit WHERE seq IN (2, 3) ORDER BY seq").fetchall()
    for (seq, *_), (_, record, prev, stored) in zip(rows, reversed(rows), strict=True):
        db.execute("UPDATE audit SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?", (record, prev, stored, seq))
    result = log.verify()
    assert (result.ok, result.first_broken) == (False, 2)


def test_updates_are_refused_by_the_database(log: AuditLog) -> None:
    with pytest.raises(sqlite3.DatabaseError):
        raw(log).execute("UPDATE audit SET record = 'x' WHERE seq = 1")


def test_purge_keeps_the_rest_verifiable(log: AuditLog) -> None:
    cutoff = list(log.records())[4]["time"]
    removed = log.purge_before(cutoff)
    assert removed >= 1 and log.verify().ok
    log.append("delivered", "t4", delivery_status="delivered")
    assert log.verify().ok
    raw(log).execute("DELETE FROM audit WHERE seq = (SELECT MIN(seq) FROM audit)")
    assert not log.verify().ok


def test_export_one_row_per_transfer(log: AuditLog) -> None:
    rows = [json.loads(line) for line in export(log, "jsonl").splitlines()]
    assert [row["id"] for row in rows] == [f"t{i}" for i in range(5)]
    assert rows[0]["subject"] == "件名0 ①㈱" and rows[0]["outcome"] == "sanitized"
    contract = {"id", "time", "channel", "client_ip", "user", "sender", "recipients", "subject", "input_sha256",
                "outcome", "findings", "outputs", "delivery_status", "prev_hash", "hash"}
    assert all(contract <= set(row) for row in rows)  # every row, even where a transfer had no value
    assert rows[0]["user"] == "" and rows[0]["outputs"] == []  # mail has no user; this one no outputs
    assert export(log, "csv").startswith("\ufeffid,")


def test_cli_records_transfers_and_verify_fails_on_tampering(samples: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=300)

    assert gateway("sanitize", str(samples / "pdf-javascript.pdf"), str(samples / "exe-stub.exe"),
                   "--out", str(tmp_path / "out"), "--data-dir", str(data)).returncode == 0
    assert gateway("mail", str(samples / "mail-forwarded.eml"), "--out", str(tmp_path / "m.eml"),
                   "--data-dir", str(data)).returncode == 0
    verified = gateway("audit", "verify", "--data-dir", str(data))
    assert verified.returncode == 0 and "intact" in verified.stdout
    listing = gateway("audit", "list", "--data-dir", str(data)).stdout
    assert "pdf-javascript.pdf" in listing and "exe-stub.exe" in listing and "Fwd: invoice" in listing
    db = sqlite3.connect(data / "audit.sqlite3", isolation_level=None)
    db.execute("DELETE FROM audit WHERE seq = 2")
    broken = gateway("audit", "verify", "--data-dir", str(data))
    assert broken.returncode != 0 and "record 2" in broken.stdout


def test_rechaining_without_the_key_or_forging_an_anchor_is_detected(log: AuditLog) -> None:
    import hashlib

    db = raw(log)
    db.execute("DROP TRIGGER audit_no_update")
    rows = db.execute("SELECT seq, record FROM audit ORDER BY seq").fetchall()
    prev = "0" * 64
    for seq, record in rows:  # an attacker recomputes every hash with plain SHA-256
        record = record.replace("件名1", "件名X")
        digest = hashlib.sha256(f"{prev}\n{record}".encode()).hexdigest()
        db.execute("UPDATE audit SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?", (record, prev, digest, seq))
        prev = digest
    assert not log.verify().ok
    fresh = AuditLog(log.path.with_name("other.sqlite3"))
    for index in range(3):
        fresh.append("received", f"t{index}")
    second = raw(fresh)
    head = second.execute("SELECT seq, hash FROM audit WHERE seq = 1").fetchone()
    second.execute("DELETE FROM audit WHERE seq = 1")
    second.execute("INSERT INTO anchor (id, seq, hash) VALUES (1, ?, ?)", head)  # looks like a purge
    result = fresh.verify()
    assert not result.ok and "without a purge record" in result.problem


def test_purge_command_needs_an_explicit_cutoff_and_keeps_the_chain(log: AuditLog, tmp_path: Path) -> None:
    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "audit", *args, "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=120)

    log.close()
    assert gateway("purge").returncode == 2  # never a purge by accident
    assert gateway("purge", "--before", "2020-01-01T00:00:00").returncode == 2  # no offset: ambiguous
    kept = gateway("purge", "--before", "2000-01-01T09:00:00+09:00")
    assert kept.returncode == 0 and kept.stdout.startswith("purged 0 ")
    purged = gateway("purge", "--before", "2999-01-01T00:00:00+09:00")
    assert purged.returncode == 0 and purged.stdout.startswith("purged 10 ") and "intact" in purged.stdout
    assert gateway("verify").returncode == 0
    remaining = [json.loads(line) for line in gateway("export").stdout.splitlines()]
    assert [row["event"] for row in remaining] == ["purged"]


def test_since_and_until_honour_the_offset_and_refuse_nonsense(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    for index in range(3):
        log.append("received", f"t{index}", channel="smtp", sender="a@example.jp", recipients=["b@x.lg.jp"])
        time.sleep(0.01)
    first = next(r["time"] for r in log.records() if r["transfer_id"] == "t1")
    log.append("sanitized", "t0", outcome="sanitized", detail="attachment 見積書.xlsm", findings=["vba_macro_removed"])
    log.append("sanitized", "t0", outcome="sanitized", detail="attachment 報告書.docm", findings=["vba_macro_removed"])
    log.close()
    jst = datetime.fromisoformat(first).astimezone(timezone(timedelta(hours=9))).isoformat(timespec="milliseconds")

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "audit", *args, "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=120)

    since = [json.loads(line)["id"] for line in gateway("export", "--since", jst).stdout.splitlines()]
    assert since == ["t1", "t2"]  # the same moment written in JST selects the same transfers
    until = [json.loads(line)["id"] for line in gateway("export", "--until", jst).stdout.splitlines()]
    assert until == ["t0", "t1"]  # t0 is in, though its later records are after the cutoff
    for bad in (["--since", "yesterday"], ["--until", "2026-11-22T07:00:00"]):  # nonsense; no offset
        result = gateway("export", *bad)
        assert result.returncode == 2 and "gateway:" in result.stdout
    [t0] = [json.loads(line) for line in gateway("export").stdout.splitlines() if '"t0"' in line]
    assert t0["detail"] == "attachment 見積書.xlsm; attachment 報告書.docm"  # every attachment kept
    assert t0["findings"] == ["vba_macro_removed"]
    lines = gateway("list").stdout.splitlines()
    listing = [line for line in lines if not line.startswith(" ")]  # under each transfer: a line per part
    assert listing[0].startswith("received (UTC)") and len(listing) == 4
    assert "a@example.jp -> b@x.lg.jp" in listing[1] and "vba_macro_removed" in listing[1]
    assert [line.strip() for line in lines[2:4]] == ["attachment 見積書.xlsm: sanitized [vba_macro_removed]",
                                                     "attachment 報告書.docm: sanitized [vba_macro_removed]"]


def test_a_log_from_before_the_key_fingerprint_refuses_a_wrong_key(tmp_path: Path) -> None:
    from gateway.errors import AuditKeyMismatch

    log = AuditLog(tmp_path / "audit.sqlite3")
    log.append("received", "t1")
    log.close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None)
    db.execute("DROP TABLE meta")  # as an earlier version left it
    db.close()
    (tmp_path / "audit.key").write_bytes(b"k" * 32)  # the key file replaced by mistake
    with pytest.raises(AuditKeyMismatch):
        AuditLog(tmp_path / "audit.sqlite3")


def test_transfers_merge_records_in_the_order_things_happened(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    early = "2026-11-22T00:00:00.000+00:00"
    log.append("sanitized", "t1", outcome="delivered")
    log.append("deferred", "t1", delivery_status="deferred")
    log.append("delivered", "t1", delivery_status="partly delivered")
    log.append("received", "t1", channel="smtp", happened=early, detail="recorded late")  # arrived first
    log.append("received", "u1", channel="http", input_size=3000)  # an upload of two files
    log.append("blocked", "u1", outcome="blocked", input_sha256="aa" * 32, input_size=1000, detail="file evil.js")
    log.append("sanitized", "u1", outcome="sanitized", input_sha256="bb" * 32, input_size=2000, detail="file ok.pdf")
    log.append("delivered", "u1", delivery_status="delivered")
    mail, upload = log.transfers()
    assert (mail["event"], mail["delivery_status"], mail["channel"], mail["received_time"]) == (
        "delivered", "partly delivered", "smtp", early)
    assert (upload["outcome"], upload["input_size"], upload["detail"]) == ("sanitized", 3000,
                                                                            "file evil.js; file ok.pdf")
    assert "input_sha256" not in upload  # a part's hash is not the transfer's
    assert [row["id"] for row in log.transfers(since="2026-11-22T00:00:00.000+00:00", until=early)] == ["t1"]
    log.close()
