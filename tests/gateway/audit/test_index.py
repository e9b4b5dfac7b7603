"""The audit log's search index (gateway/audit/index.py): kept in the append's own transaction,
identical to one rebuilt from the records, found by every criterion the transfer log offers,
following a purge, built for a log that never had one - and the hash chain untouched by it.
Run on SQLite and on a real PostgreSQL on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.audit import records
from gateway.audit.index import Search
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.audit.rows import complete, merge
from tests.gateway.audit.test_postgres import database, server  # noqa: F401 (the fixtures)

EXE, PDF, OUT, ZIP_MEMBER = "e1" * 32, "bd" * 32, "0f" * 32, "77" * 32


def mail(recorder: Recorder, transfer: str, sender: str, subject: str, blocked: bool) -> None:
    recorder.write(records.received_mail(transfer, {"client_ip": "192.0.2.1", "sender": sender,
                                                    "recipients": ["Yamada@City.Example.LG.JP"]}, 1234))
    attachment = {"input": "請求書.pdf", "sha256": PDF, "type": "application/pdf", "size": 10, "outcome": "sanitized",
                  "findings": [{"code": "pdf_javascript_removed"}], "outputs": [{"sha256": OUT}]}
    program = {"input": "setup.exe", "sha256": EXE, "outcome": "blocked", "reason_code": "executable",
               "reason": "a program"}
    archive = {"input": "書類.zip", "sha256": "aa" * 32, "outcome": "sanitized", "members": [
        {"input": "中/tool.js", "sha256": ZIP_MEMBER, "outcome": "blocked", "reason_code": "script"}]}
    summary = {"attachments": [attachment, *([program, archive] if blocked else [])], "subject": subject,
               "message_id": f"<{transfer}@example.com>", "from": sender, "sha256": transfer[-2:] * 32, "findings": []}
    recorder.write(*records.attachments(transfer, summary), records.mail_sanitized(transfer, summary, b"msg"))
    recorder.write(records.delivered(transfer, {"yamada@city.example.lg.jp": "delivered"}))


def upload(recorder: Recorder, transfer: str, user: str, name: str) -> None:
    recorder.write(records.received_upload(transfer, {"client_ip": "10.0.0.5", "user": user, "names": [name]}, 10))
    recorder.write(records.part(transfer, 0, "file", {"input": name, "sha256": "cc" * 32, "outcome": "passed",
                                                       "size": 10, "outputs": [{"sha256": "dd" * 32}]}))


def fill(log: AuditLog) -> None:
    recorder = Recorder(log)
    mail(recorder, "m1", "alice@example.com", "見積 <script>alert(1)</script>", blocked=True)
    time.sleep(0.003)
    mail(recorder, "m2", "bob@other.example.net", "議事録", blocked=False)
    time.sleep(0.003)
    upload(recorder, "u1", "総務課-山田", "予算案_2026.xlsx")
    time.sleep(0.003)
    recorder.write(records.web_access("auditor", "127.0.0.1", "web login"))


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    url = request.getfixturevalue("database") if request.param == "postgresql" else ""
    audit = AuditLog(tmp_path / "audit.sqlite3", tmp_path / "audit.key", database=url)
    fill(audit)
    yield audit
    audit.close()


def ids(log: AuditLog, **wanted: str) -> list[str]:
    return [row["id"] for row in log.searcher().search(Search(**wanted))]


def indexed_rows(log: AuditLog) -> dict[str, dict[str, object]]:
    return {str(t): json.loads(s) for t, s in log.db.query("SELECT transfer_id, summary FROM transfers")}


def test_the_index_kept_on_append_is_the_one_rebuilt_from_the_records(log: AuditLog) -> None:
    log.catch_up()  # appends do not wait for the index: it follows the log (built whole the first time)
    assert log.catch_up() == 0
    log.append("access", "access-late", channel="cli", user="admin", subject="after the index was built")
    assert "access-late" not in indexed_rows(log) and log.catch_up() == 1 and "access-late" in indexed_rows(log)
    kept = indexed_rows(log)
    terms = sorted(log.db.query("SELECT transfer_id, term, received_time FROM transfer_terms"))
    assert log.reindex() == 5
    assert indexed_rows(log) == kept
    assert sorted(log.db.query("SELECT transfer_id, term, received_time FROM transfer_terms")) == terms
    # each row is what export merges from the records
    assert kept["m1"] == complete(merge("m1", log.timeline("m1")))
    assert kept["m1"]["outcome_detail"] == "1 of 3 attachments blocked (executable); 1 archive member blocked (script)"
    assert log.verify().ok


def test_every_criterion_finds_its_transfers_newest_first(log: AuditLog) -> None:
    assert ids(log) == [ids(log)[0], "u1", "m2", "m1"] and ids(log)[0].startswith("access-")
    assert ids(log, sender="ALICE@example.com") == ["m1"]
    assert ids(log, sender="@other.example.net") == ["m2"]
    assert ids(log, sender="総務課-山田") == ["u1"]  # an upload's sender is its account
    assert ids(log, recipient="yamada@city.example.lg.jp") == ["m2", "m1"]
    assert ids(log, recipient="@city.example.lg.jp", sender="@example.com") == ["m1"]
    assert ids(log, name="予算案") == ["u1"]
    assert ids(log, name="tool.js") == ["m1"]  # an archive member's name
    assert ids(log, name="100%_") == []  # LIKE's wildcards are text
    assert ids(log, sha256=EXE.upper()) == ["m1"]
    assert ids(log, sha256=ZIP_MEMBER) == ["m1"]
    assert ids(log, sha256=OUT) == ["m2", "m1"]
    with pytest.raises(ValueError, match="sha256"):  # never everything for a condition it cannot read
        ids(log, sha256="GW-" + "m2" * 6)
    assert ids(log, sha256="GW-" + PDF[:12].upper()) == ["m2", "m1"]
    assert ids(log, outcome="delivered") == ["m2", "m1"]
    assert ids(log, outcome="passed") == ["u1"]
    assert ids(log, reason="executable") == ["m1"] and ids(log, reason="script") == ["m1"]
    assert ids(log, finding="pdf_javascript_removed") == ["m2", "m1"]
    assert ids(log, finding="pdf_javascript_removed", reason="executable", outcome="delivered") == ["m1"]
    assert ids(log, channel="http") == ["u1"]
    received = {row["id"]: row["received_time"] for row in log.searcher().search(Search())}
    assert ids(log, since=received["m2"], until=received["u1"]) == ["m2"]
    assert ids(log, since=received["m2"], finding="pdf_javascript_removed") == ["m2"]
    first, second = log.searcher().search(Search(), 0, 2), log.searcher().search(Search(), 2, 2)
    assert [r["id"] for r in first + second] == ids(log)
    assert Search(sha256="nothex", reason="A;B").problems() == ["sha256", "reason"]


def test_a_purge_takes_its_transfers_out_of_the_index(log: AuditLog) -> None:
    received = {row["id"]: row["received_time"] for row in log.searcher().search(Search())}
    log.purge_before(received["u1"])
    assert "m1" not in ids(log) and "m2" not in ids(log) and "u1" in ids(log) and "retention" in ids(log)
    assert ids(log, sha256=EXE) == []
    assert log.db.query("SELECT COUNT(*) FROM audit_map WHERE transfer_id = 'm1'") == [(0,)]
    kept = indexed_rows(log)
    log.reindex()
    assert indexed_rows(log) == kept


def test_a_log_from_before_the_index_gets_one_and_its_chain_is_untouched(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    fill(log)
    chain = log.db.query("SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq")
    for table in ("transfer_terms", "transfers", "audit_map"):
        log.db.execute(f"DELETE FROM {table}")  # noqa: S608
    log.db.execute("DELETE FROM meta WHERE name = 'index'")
    log.close()
    older = AuditLog(tmp_path / "audit.sqlite3")
    assert older.timeline("m1") and not older.index_current()  # read as before, from the records
    assert ids(older, sha256=EXE) == ["m1"]  # the first search builds it
    assert older.db.query("SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq") == chain
    older.append("received", "m3", channel="smtp", sender="carol@example.com")
    assert ids(older, sender="carol@example.com") == ["m3"] and older.verify().ok
    older.close()
