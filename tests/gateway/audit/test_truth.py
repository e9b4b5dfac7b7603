"""Audit records that tell the truth (issue 12 item 3): what was removed from each transfer, its
delivery state, and finding a transfer from the reference a notice gives staff."""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.audit.rows import export
from gateway.cli.main import main
from gateway.spool import Spool
from tests.gateway.test_service import Sink, free_port, relay, start_service, wait_for

DOMAIN = "city.example.lg.jp"
INERT_PE = b"MZ" + b"\x90\x00" * 29 + struct.pack("<I", 0x40) + b"PE\0\0" + b"\0" * 200  # a PE header, no code


def invoice_mail() -> bytes:
    """A mail with an executable disguised as a PDF, a text file, and a ZIP holding another executable."""
    message = EmailMessage()
    message["From"] = "山田 <yamada@example.co.jp>"
    message["To"] = f"keiri@{DOMAIN}"
    message["Subject"] = "請求書の送付"
    message["Message-ID"] = "<invoice-7@example.co.jp>"
    message.set_content("請求書を添付します。\n")
    message.add_attachment(INERT_PE, maintype="application", subtype="octet-stream", filename="請求書.pdf.exe")
    message.add_attachment("明細です\n".encode(), maintype="text", subtype="plain", filename="明細.txt")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("readme.txt", "hello\n")
        archive.writestr("tools/setup.exe", INERT_PE + b"\x01")
    message.add_attachment(packed.getvalue(), maintype="application", subtype="zip", filename="資料.zip")
    return bytes(message)


def plain_mail() -> bytes:
    return (f"From: suzuki@example.co.jp\nTo: soumu@{DOMAIN}\nSubject: meeting\nMessage-ID: <plain-1@example.co.jp>\n"
            "\nSee you at ten.\n").encode()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def delivered(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A running service that delivered the invoice mail (to two recipients) and a plain one."""
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    service = start_service(tmp_path, port)
    try:
        relay(service, invoice_mail(), [f"keiri@{DOMAIN}", f"soumu@{DOMAIN}"])
        relay(service, plain_mail())
        wait_for(lambda: len(sink.messages) == 2)
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: [r["delivery_status"] for r in log.transfers()] == ["delivered", "delivered"])
        log.close()
    finally:
        service.stop()
        controller.stop()
    yield tmp_path / "data", sink.messages


def test_an_auditor_finds_which_executables_were_removed_from_mail_last_month_and_for_whom(
        delivered: tuple[Path, list[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = delivered
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since, until = month.isoformat(), (now + timedelta(minutes=1)).isoformat()
    code, out = cli(capsys, "audit", "export", "--data-dir", str(data), "--since", since, "--until", until)
    assert code == 0
    answer = []
    for row in map(json.loads, out.splitlines()):
        for part in row["parts"]:
            for item in [part, *({**m, "name": f"{part['name']}/{m['name']}"} for m in part.get("members", []))]:
                if item["outcome"] == "blocked" and item["reason_code"] == "executable":
                    answer.append((row["sender"], row["recipients"], item["name"], row["outcome"],
                                   row["delivery_status"]))
    recipients = [f"keiri@{DOMAIN}", f"soumu@{DOMAIN}"]
    assert answer == [("山田 <yamada@example.co.jp>", recipients, "請求書.pdf.exe", "delivered", "delivered"),
                      ("山田 <yamada@example.co.jp>", recipients, "資料.zip/tools/setup.exe", "delivered", "delivered")]
    [invoice] = [row for row in map(json.loads, out.splitlines()) if row["parts"]]
    assert invoice["outcome_detail"] == "1 of 3 attachments blocked (executable); 1 archive member blocked (executable)"
    assert invoice["blocked"] == ["executable"]
    exe = invoice["parts"][0]
    assert exe["type"] == "application/x-dosexec" and exe["reason"] and exe["outputs"] == []

    # the same question in a spreadsheet: the CSV's "blocked" column, without reading JSON
    code, table = cli(capsys, "audit", "export", "--data-dir", str(data), "--format", "csv", "--since", since)
    rows = list(csv.DictReader(io.StringIO(table.lstrip("\ufeff"))))
    assert list(rows[0])[:19] == ["id", "time", "received_time", "event", "channel", "client_ip", "user", "sender",
                                  "recipients", "subject", "message_id", "input_sha256", "input_size", "outcome",
                                  "findings", "outputs", "delivery_status", "prev_hash", "hash"]  # stable, in place
    flagged = [(r["sender"], json.loads(r["recipients"])) for r in rows if "executable" in json.loads(r["blocked"])]
    assert flagged == [("山田 <yamada@example.co.jp>", recipients)]


def test_audit_show_finds_a_transfer_by_each_kind_of_reference(delivered: tuple[Path, list[bytes]],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    data, messages = delivered
    [invoice] = [email.message_from_bytes(m, policy=email.policy.default) for m in messages if b"invoice-7" in m]
    body = invoice.get_body(("plain",))
    assert body is not None
    reference = re.findall(r"GW-[0-9A-F]{12}", body.get_content())[0]  # as the notice gives it to staff
    log = AuditLog(data / "audit.sqlite3")
    [row] = [r for r in log.transfers() if r["message_id"] == "<invoice-7@example.co.jp>"]
    exe_sha = row["parts"][0]["sha256"]
    member_sha = row["parts"][2]["members"][1]["sha256"]
    log.close()
    assert row["reference"] == reference
    for ref in (reference, reference.lower(), row["id"], "<invoice-7@example.co.jp>", "invoice-7@example.co.jp",
                row["input_sha256"], exe_sha, member_sha, row["outputs"][0]):
        code, out = cli(capsys, "audit", "show", ref, "--data-dir", str(data), "--json")
        assert code == 0, ref
        [shown] = [json.loads(line) for line in out.splitlines()]
        assert shown["transfer"]["id"] == row["id"], ref
        assert shown["records"][0]["event"] == "received"
        assert shown["records"][-1]["event"] == "delivered"
    code, out = cli(capsys, "audit", "show", reference, "--data-dir", str(data))
    assert code == 0 and "attachment 請求書.pdf.exe: blocked executable" in out
    assert "member tools/setup.exe: blocked executable" in out and "delivery    delivered" in out
    for unknown in ("GW-000000000000", "nobody@example.jp", "0" * 64, "no-such-id"):
        assert cli(capsys, "audit", "show", unknown, "--data-dir", str(data))[0] == 3


def result(name: str, outcome: str, code: str | None = None) -> dict[str, Any]:
    """A `gateway sanitize` object as the pipeline makes it."""
    return {"input": name, "sha256": hashlib.sha256(name.encode()).hexdigest(), "size": 10, "type": "text/plain",
            "outcome": outcome, "outputs": [] if outcome == "blocked" else [{"path": name, "sha256": "cd" * 32}],
            "findings": [], "reason": "blocked: a script" if code else None, "reason_code": code}


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    log = AuditLog(tmp_path / "audit.sqlite3")
    yield Recorder(log, Spool(tmp_path / "spool"))
    log.close()


def test_an_upload_with_blocked_files_is_not_listed_as_passed(recorder: Recorder) -> None:
    meta = {"client_ip": "127.0.0.1", "user": "総務課", "names": ["a.txt", "b.js", "c.exe"]}
    recorder.write(records.received_upload("u1", meta, 30))
    files = [result("a.txt", "passed"), result("b.js", "blocked", "script"), result("c.exe", "blocked", "executable")]
    recorder.write(*(records.part("u1", n, "file", r) for n, r in enumerate(files)), records.files_delivered("u1"))
    recorder.write(records.received_upload("u2", {**meta, "names": ["d.js"]}, 10))
    recorder.write(records.part("u2", 0, "file", result("d.js", "blocked", "script")), records.files_delivered("u2"))
    recorder.write(records.received_upload("u3", {**meta, "names": ["e.txt"]}, 10))
    rows = {row["id"]: row for row in recorder.audit.transfers()}
    assert rows["u1"]["outcome"] == "sanitized" and rows["u1"]["outcome"] != "passed"
    assert rows["u1"]["outcome_detail"] == "2 of 3 files blocked (script, executable)"
    assert rows["u1"]["blocked"] == ["script", "executable"] and rows["u1"]["delivery_status"] == "delivered"
    assert [(p["name"], p["outcome"], p["reason_code"]) for p in rows["u1"]["parts"]] == [
        ("a.txt", "passed", ""), ("b.js", "blocked", "script"), ("c.exe", "blocked", "executable")]
    assert rows["u2"]["outcome"] == "blocked" and rows["u2"]["delivery_status"] == "not delivered"
    assert "reason_code" not in rows["u1"]  # a part's code is in its part, not the transfer's
    assert rows["u3"]["delivery_status"] == "queued" and "outcome" not in rows["u3"]
    exported = [json.loads(line) for line in export(recorder.audit, "jsonl").splitlines()]
    assert exported[2]["outcome"] == "" and exported[2]["parts"] == [] and exported[2]["outcome_detail"] == ""


def test_a_rejected_mail_is_not_delivered_though_its_notice_is(recorder: Recorder) -> None:
    meta = {"client_ip": "127.0.0.1", "sender": "a@example.jp", "recipients": [f"soumu@{DOMAIN}"]}
    recorder.write(records.received_mail("m1", meta, 100))
    recorder.write(records.mail_rejected("m1", {"reason": "not an internet mail", "reason_code": "not_a_mail"}))
    recorder.write(records.deferred("m1", 1, "ConnectionRefusedError; retry in 60 s"))
    recorder.write(records.delivered("m1", {f"soumu@{DOMAIN}": "delivered", "postmaster@example.jp": "delivered"}))
    [row] = recorder.audit.transfers()
    assert row["outcome"] == "rejected" and row["delivery_status"] == "not delivered"
    assert row["reason_code"] == "not_a_mail"
    assert row["recipients"] == [f"soumu@{DOMAIN}"]  # the mail's, not the notice's
    assert "notice of the stopped mail: delivered" in row["detail"]


def test_parts_recorded_before_they_described_themselves_still_show(recorder: Recorder) -> None:
    recorder.audit.append("received", "old", channel="smtp", sender="a@example.jp", recipients=["b@x.lg.jp"])
    recorder.audit.append("blocked", "old", outcome="blocked", input_sha256="ab" * 32, detail="attachment x.exe")
    recorder.audit.append("sanitized", "old", outcome="delivered", input_sha256="cd" * 32)
    [row] = recorder.audit.transfers()
    assert row["parts"][0]["name"] == "x.exe" and row["parts"][0]["outcome"] == "blocked"
    assert row["outcome"] == "accepted" and row["delivery_status"] == "queued"
    assert row["outcome_detail"] == "1 of 1 attachments blocked"
    assert recorder.audit.find("ab" * 32) == ["old"]
