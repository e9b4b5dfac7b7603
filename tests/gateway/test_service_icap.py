"""`gateway serve` scanning through an ICAP engine (a real c-icap whose virus_scan asks the session's
clamd), alone and together with clamd: an infected attachment, and one whose archive member three
archives deep carries the marker, are removed and named in the notice and in `gateway audit export`;
while c-icap is away no mail is delivered, and once it is back every one is, exactly once."""

from __future__ import annotations

import email
import email.policy
import io
import json
import shutil
import time
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from gateway.antivirus.canary import eicar
from gateway.audit.log import AuditLog
from gateway.cli.main import main
from tests.gateway.antivirus.daemons import (
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    Cicap,
    Clamd,
    icap_module_dir,
    start_cicap,
    stop,
)
from tests.gateway.test_service import Sink, relay, wait_for
from tests.gateway.test_service_antivirus import http, lgwan, mail, start, text_of

__all__ = ["lgwan"]  # the fixture, used by name

EICAR_FOUND = f"{EICAR_SIGNATURE}.UNOFFICIAL"
MARKER_FOUND = f"{MARKER_SIGNATURE}.UNOFFICIAL"


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def three_deep() -> bytes:
    """一式.zip > 年度.zip > 月別.zip > 報告.txt, the last carrying the marker."""
    return zipped("年度.zip", zipped("月別.zip", zipped("報告.txt", "月次報告です。\n".encode() + MARKER + b"\n")))


@pytest.fixture
def own_cicap(clamd: Clamd, tmp_path: Path) -> Iterator[Cicap]:
    """A c-icap of this test's own (the test stops it, and stops the one it starts again), over the
    session's clamd."""
    if not (shutil.which("c-icap") or Path("/usr/bin/c-icap").exists()) or icap_module_dir() is None:
        pytest.skip("c-icap or its virus_scan module is not installed (scripts/setup.sh installs them)")
    server = start_cicap(tmp_path / "cicap", clamd.socket_path)
    yield server
    stop(server.proc)


@pytest.mark.parametrize("engines", ["icap", "clamd,icap"])
def test_through_icap_infected_parts_are_removed_and_named_and_an_outage_holds_every_mail(
        engines: str, clamd: Clamd, own_cicap: Cicap, tmp_path: Path, lgwan: tuple[Sink, int],
        capsys: pytest.CaptureFixture[str]) -> None:
    sink, port = lgwan
    server = own_cicap
    service = start(tmp_path, port, clamd.socket_path, engines=engines, icap_port=server.port)
    try:
        relay(service, mail("資料を送ります。\n", [("見積書.txt", "見積金額 ①\n".encode()), ("setup.txt", eicar())],
                            "<attached@example.co.jp>"))
        relay(service, mail("報告一式です。\n", [("一式.zip", three_deep()), ("メモ.txt", "連絡事項\n".encode())],
                            "<nested@example.co.jp>"))
        wait_for(lambda: len(sink.messages) == 2, 30)
        ready = httpx.get(http(service, "/readyz"), timeout=10)

        stop(server.proc)  # c-icap away: nothing may pass, nothing may be lost
        later = [f"<later-{n}@example.co.jp>" for n in range(3)]
        for message_id in later:
            relay(service, mail("至急ご確認ください。\n", [("表.csv", "番号,金額\n1,100\n".encode())], message_id))
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: any(r["event"] == "deferred" for r in log.records()), 30)
        wait_for(lambda: httpx.get(http(service, "/readyz"), timeout=10).status_code == 503, 10)  # within seconds
        away = httpx.get(http(service, "/readyz"), timeout=10)
        time.sleep(1.5)  # three retry intervals
        assert len(sink.messages) == 2 and service.spool.queue_sizes()["corrupt"] == 0
        server = start_cicap(server.base, clamd.socket_path, server.port)  # back, where the gateway looks
        wait_for(lambda: len(sink.messages) == 5, 30)
        wait_for(lambda: sum(r["event"] == "delivered" for r in log.records()) == 5, 30)
        time.sleep(0.5)  # nothing more arrives
    finally:
        service.stop()
        stop(server.proc)
    arrived = [str(email.message_from_bytes(m)["Message-ID"]) for m in sink.messages]
    assert sorted(arrived) == sorted(["<attached@example.co.jp>", "<nested@example.co.jp>", *later])  # once each
    by_id = {str(email.message_from_bytes(m)["Message-ID"]): m for m in sink.messages}
    for message_id, kept, removed, found in (("<attached@example.co.jp>", "見積書.txt", "setup.txt", EICAR_FOUND),
                                              ("<nested@example.co.jp>", "メモ.txt", "一式.zip", MARKER_FOUND)):
        delivered = email.message_from_bytes(by_id[message_id], policy=email.policy.default)
        assert isinstance(delivered, EmailMessage)
        assert [part.get_filename() for part in delivered.iter_attachments()] == [kept]
        lines = [line for line in text_of(by_id[message_id]).splitlines() if f" {removed} (" in line]
        assert len(lines) == 2 and all(found in line for line in lines)  # the notice, Japanese and English
        assert "削除しました" in lines[0] and "removed" in lines[1]
    assert eicar() not in b"".join(sink.messages) and MARKER not in b"".join(sink.messages)
    assert ready.status_code == 200 and [e["engine"] for e in ready.json()["antivirus"]] == engines.split(",")
    assert away.status_code == 503 and any("icap" in reason for reason in away.json()["reasons"])

    assert main(["audit", "export", "--data-dir", str(tmp_path / "data")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    blocked = {(part["name"], part["reason_code"], tuple(part["signatures"]))
               for row in rows for part in row["parts"] if part["outcome"] == "blocked"}
    assert blocked == {("setup.txt", "malware", (EICAR_FOUND,)), ("一式.zip", "malware", (MARKER_FOUND,))}
    records = AuditLog(tmp_path / "data" / "audit.sqlite3").records()
    waits = [str(r["detail"]) for r in records if r["event"] == "deferred"]
    assert len(waits) == 1 and waits[0].startswith("waiting for the malware scan: icap")  # the oldest mail, once
