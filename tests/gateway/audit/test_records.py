"""The audit records' one path: append or postpone, and what a crash left written exactly once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.audit.rows import export
from gateway.cli.audit import record_mail
from gateway.spool import INTENTS, Spool


@pytest.fixture
def recorder(tmp_path: Path) -> Any:
    log = AuditLog(tmp_path / "audit.sqlite3")
    yield Recorder(log, Spool(tmp_path / "spool"))
    log.close()


def keys(log: AuditLog) -> list[tuple[str, str, str]]:
    return [(r["event"], r["transfer_id"], r.get("key", "")) for r in log.records()]


def unavailable(*args: Any, **kwargs: Any) -> int:
    raise sqlite3.OperationalError("disk I/O error")


def test_records_that_cannot_be_written_are_kept_and_written_later(recorder: Recorder,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    with monkeypatch.context() as patch:
        patch.setattr(log, "append", unavailable)
        patch.setattr(log, "append_all", unavailable)
        recorder.write(records.delivered("job-1", {"a@city.example.lg.jp": "delivered"}))
        recorder.write(records.failed("job-2", "gave up"), records.deferred("job-2", 1, "down"))
        with pytest.raises(sqlite3.OperationalError):
            recorder.write_postponed()  # still unavailable: kept, tried again next time
    assert len(list(spool.queue("unaudited").iterdir())) == 3
    (spool.queue("unaudited") / "0000-broken").write_text("{not json")  # a damaged one
    assert recorder.write_postponed() == 3
    late = [(r["event"], r["transfer_id"], r.get("detail")) for r in log.records()]
    assert [(event, job) for event, job, _ in late] == [("delivered", "job-1"), ("failed", "job-2"),
                                                        ("deferred", "job-2")]
    assert late[0][2] == "recorded late: the audit log was unavailable when this arrived"
    assert late[1][2] == "gave up; recorded late: the audit log was unavailable when this arrived"
    assert all(r["happened"].startswith("20") and r["happened"] < r["time"] for r in log.records())
    assert not list(spool.queue("unaudited").iterdir()) and log.verify().ok
    assert (spool.queue("corrupt") / "unaudited-0000-broken").exists()  # set aside, not skipped
    with monkeypatch.context() as patch:  # the audit log and the spool's disk both failing
        patch.setattr(log, "append", unavailable)
        patch.setattr(spool, "postpone_audit", unavailable)
        recorder.write(records.delivered("job-3", {}))  # logged; the job goes on


def test_a_kept_record_the_log_already_holds_is_not_written_again(recorder: Recorder) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    record = records.deferred("job-1", 2, "LGWAN server down")
    recorder.write(record)
    spool.postpone_audit("job-1", record.stored(), "deferred", record.intended, records.LATE_CRASH)
    assert recorder.write_postponed() == 0
    assert keys(log) == [("deferred", "job-1", "deferred-2")]


def test_a_state_change_carries_its_records_and_a_crash_before_writing_them_is_recovered(recorder: Recorder) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    job_id = spool.accept({"sender": "a@example.jp", "recipients": ["b@city.example.lg.jp"]}, b"Subject: x\r\n\r\n")
    job = spool.claim("incoming", "active")
    assert job is not None
    summary = {"subject": "件名", "message_id": "<m@example.jp>", "from": "a@example.jp", "sha256": "ab" * 32,
               "attachments": [{"input": "見積書.xlsm", "outcome": "sanitized", "sha256": "cd" * 32,
                                "findings": [{"code": "vba_macro_removed"}], "outputs": [{"sha256": "ef" * 32}]}]}
    intents = [*records.attachments(job_id, summary), records.mail_sanitized(job_id, summary, b"new message")]
    sent = spool.send_on(job, {"sender": "a@example.jp", "recipients": ["b@city.example.lg.jp"]}, b"new message",
                         [r.to_json() for r in intents])
    assert spool.claim("outbox", "sending") is None  # held until its records are written
    recorder.write(intents[0])  # the writer is killed after the first of its two records
    sent.release()
    recorder.recover()
    recorder.recover()  # a second start finds nothing more to write
    assert keys(log) == [("sanitized", job_id, "attachment-1"), ("sanitized", job_id, "outcome")]
    assert not (spool.queue("outbox") / job_id / INTENTS).exists()
    [late] = [r for r in log.records() if r["key"] == "outcome"]
    assert late["detail"] == records.LATE_CRASH and late["happened"] == intents[1].intended
    delivery = spool.claim("outbox", "sending")
    assert delivery is not None and delivery.message.read_bytes() == b"new message"
    assert delivery.original.read_bytes() == b"Subject: x\r\n\r\n"  # the original stays with the job


def test_a_delivered_marker_gives_its_record_once_then_the_job_and_the_marker_go(recorder: Recorder) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    spool.to_outbox("job-1", {"sender": "", "recipients": ["b@city.example.lg.jp"]}, b"m1")
    spool.to_outbox("job-2", {"sender": "", "recipients": ["b@city.example.lg.jp"]}, b"m2")
    one = records.delivered("job-1", {"b@city.example.lg.jp": "delivered"})
    two = records.delivered("job-2", {"b@city.example.lg.jp": "delivered"})
    spool.mark_delivered("job-1", [one.to_json()])  # killed right after the marker: no record yet
    spool.mark_delivered("job-2", [two.to_json()])
    recorder.write(two)  # killed after the record, before the job was removed
    recorder.recover()
    assert sorted(keys(log)) == [("delivered", "job-1", "delivered"), ("delivered", "job-2", "delivered")]
    assert [p.name for q in ("outbox", "delivered") for p in spool.queue(q).iterdir()] == []


def test_a_staged_transfer_never_committed_is_discarded_and_its_received_record_closed(recorder: Recorder) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    recorded = spool.stage({"sender": "a@example.jp"}, b"mail one")  # recorded, killed before the commit
    recorder.write(records.received_mail(recorded, {"client_ip": "127.0.0.1", "sender": "a@example.jp",
                                                    "recipients": ["b@city.example.lg.jp"]}, 8))
    spool.stage({"sender": "a@example.jp"}, b"mail two")  # killed before its record
    recorder.recover()
    recorder.recover()
    assert keys(log) == [("received", recorded, "received"), ("failed", recorded, "not-accepted")]
    assert spool.staged() == []
    [row] = [json.loads(line) for line in export(log, "jsonl").splitlines()]
    assert row["delivery_status"] == "failed" and "not accepted" in row["detail"]


def test_records_a_dead_worker_left_in_corrupt_are_written_but_not_those_of_a_live_one(recorder: Recorder) -> None:
    spool, log = recorder.spool, recorder.audit
    assert spool is not None
    for _ in range(2):
        spool.accept({}, b"x")
    dead, alive = spool.claim("incoming", "active"), spool.claim("incoming", "active")
    assert dead is not None and alive is not None
    failures = [records.failed(job.id, "pipeline failed 3 times; kept in corrupt") for job in (dead, alive)]
    dead = spool.move(dead, "corrupt", intents=[failures[0].to_json()], hold=True)
    alive = spool.move(alive, "corrupt", intents=[failures[1].to_json()], hold=True)
    dead.release()  # its worker died before writing the record
    recorder.settle_orphans()
    assert keys(log) == [("failed", dead.id, failures[0].key)]
    recorder.commit(alive, [failures[1]])
    alive.release()
    recorder.settle_orphans()
    assert len(keys(log)) == 2


def test_every_event_keeps_the_fields_audit_export_reads(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    summary = {"from": "差出人 <a@example.jp>", "subject": "【見積】", "message_id": "<m@example.jp>",
               "sha256": "ab" * 32, "size": 1234, "outcome": "delivered", "findings": [{"code": "html_to_text"}],
               "attachments": [{"input": "請求書.exe", "outcome": "blocked", "sha256": "cd" * 32, "findings": [],
                                "outputs": []}]}
    record_mail(log, summary, "taro", tmp_path / "out.eml")
    [row] = [json.loads(line) for line in export(log, "jsonl").splitlines()]
    # the command line's attachment record now has the shape the service's has (detail "attachment NAME")
    assert row["detail"] == "attachment 請求書.exe" and row["outcome"] == "delivered"
    assert row["delivery_status"] == "written" and row["findings"] == ["html_to_text"]
    assert row["sender"] == "差出人 <a@example.jp>" and row["input_sha256"] == "ab" * 32
    assert "key" not in row  # a record's key is not an export column
    log.close()
    assert records.delivered("j", {"a": "delivered", "b": "refused"}).fields == {
        "delivery_status": "partly delivered", "recipients": ["a"], "detail": "refused by the LGWAN server: b"}
    assert records.part("j", 1, "file", {"input": "a.pdf", "outcome": "passed", "size": 3}).fields["detail"] == \
        "file a.pdf"
