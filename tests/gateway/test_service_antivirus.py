"""`gateway serve` with a real clamd: infected attachments never reach the LGWAN side and are named
in the notice, the audit log and /metrics; a mail whose body is infected is stopped; while clamd is
away nothing is processed, mail and uploads wait, /readyz says why, and everything goes through once
it is back."""

from __future__ import annotations

import email
import email.policy
import io
import signal
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from gateway.antivirus.canary import eicar
from gateway.audit.log import AuditLog
from gateway.config import AntivirusSettings, ServeSettings, Settings
from gateway.intake.tokens import TokenStore
from gateway.messages import REASONS
from gateway.service import Service
from tests.gateway.antivirus.daemons import (
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    STREAM_MAX,
    Clamd,
    FakeServer,
    read_instream,
    start_clamd,
    stop,
)
from tests.gateway.test_service import DOMAIN, Sink, free_port, relay, wait_for

EICAR_FOUND = f"{EICAR_SIGNATURE}.UNOFFICIAL"  # clamd marks signatures of unsigned databases
MARKER_FOUND = f"{MARKER_SIGNATURE}.UNOFFICIAL"


@pytest.fixture
def lgwan() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def start(tmp_path: Path, lgwan_port: int, clamd_socket: Path, **antivirus: Any) -> Service:
    serve = ServeSettings(data_dir=str(tmp_path / "data"), smtp_listen=f"127.0.0.1:{free_port()}",
                          lgwan_smtp=f"127.0.0.1:{lgwan_port}", recipient_domains=DOMAIN, workers=1,
                          retry_base_seconds=0.3, min_free_mb=1, http_listen=f"127.0.0.1:{free_port()}",
                          postmaster=f"postmaster@{DOMAIN}")
    settings = AntivirusSettings(**{"engines": "clamd", "clamd": f"unix:{clamd_socket}", "max_signature_age_hours": 0,
                                    "timeout_seconds": 5, "retry_seconds": 0.5, **antivirus})
    service = Service(Settings(serve=serve, antivirus=settings))
    service.start()
    return service


def http(service: Service, path: str) -> str:
    assert service.serve.http_address is not None
    return f"http://127.0.0.1:{service.serve.http_address[1]}{path}"


def mail(body: str | bytes, attachments: list[tuple[str, bytes]], message_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = "sender@example.co.jp"
    message["To"] = f"soumu@{DOMAIN}"
    message["Subject"] = "資料の送付"
    message["Message-ID"] = message_id
    if isinstance(body, bytes):
        message.set_content(body, maintype="text", subtype="plain", cte="7bit")
    else:
        message.set_content(body)
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


def text_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_infected_parts_are_removed_or_stop_the_mail_and_are_named_everywhere(
        clamd: Clamd, tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start(tmp_path, port, clamd.socket_path)
    try:
        relay(service, mail("資料を送ります。\n", [("見積書.txt", "見積金額 ①\n".encode()),
                                                          ("setup.txt", eicar())], "<attached@example.co.jp>"))
        wait_for(lambda: len(sink.messages) == 1, 30)
        relay(service, mail(eicar() + b"\n", [], "<body@example.co.jp>"))
        wait_for(lambda: len(sink.messages) == 2, 30)
        metrics = httpx.get(http(service, "/metrics"), timeout=10).text
        ready = httpx.get(http(service, "/readyz"), timeout=10)
    finally:
        service.stop()
    delivered = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
    assert isinstance(delivered, EmailMessage)
    assert [part.get_filename() for part in delivered.iter_attachments()] == ["見積書.txt"]
    assert f"{REASONS['malware'][0]} (検出名: {EICAR_FOUND})" in text_of(sink.messages[0])
    notice = email.message_from_bytes(sink.messages[1], policy=email.policy.default)
    assert "無害化できないメールを止めました" in str(notice["Subject"])  # the infected body never arrives
    assert f"malware found by clamd: {EICAR_FOUND}" in text_of(sink.messages[1])
    assert eicar() not in b"".join(sink.messages)
    details = [str(r.get("detail", "")) for r in AuditLog(tmp_path / "data" / "audit.sqlite3").records()]
    assert f"attachment setup.txt; malware: {EICAR_FOUND}" in details
    assert any(detail.startswith(f"{REASONS['malware'][0]} / malware found") for detail in details)
    assert "gateway_malware_found_total 2" in metrics and 'gateway_antivirus_up{engine="clamd"} 1' in metrics
    assert ready.status_code == 200 and ready.json()["antivirus"][0]["version"].startswith("ClamAV")


def test_while_clamd_is_away_mail_and_uploads_wait_then_all_go_through(
        tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    daemon = start_clamd(tmp_path / "clamd")
    service = start(tmp_path, port, daemon.socket_path)
    token = TokenStore(service.serve.data_path / "tokens.sqlite3").create("uploader", "総務課")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        stop(daemon.proc)
        ids = [f"<wait-{n}@example.co.jp>" for n in range(3)]
        for message_id in ids:
            relay(service, mail("至急ご確認ください。\n", [("表.csv", "番号,金額\n1,100\n".encode())],
                                message_id))
        upload = httpx.post(http(service, "/api/v1/transfers"), headers=headers, timeout=30,
                            files=[("file", ("eicar.txt", eicar())), ("file", ("メモ.txt", "連絡\n".encode()))])
        transfer = upload.json()["id"]
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: sum(r["event"] == "deferred" for r in log.records()) >= 2, 30)
        status = httpx.get(http(service, f"/api/v1/transfers/{transfer}"), headers=headers, timeout=10).json()
        ready = httpx.get(http(service, "/readyz"), timeout=10)
        metrics = httpx.get(http(service, "/metrics"), timeout=10).text
        time.sleep(1.5)  # three retry intervals: still nothing passes unscanned, nothing is counted as failed
        assert sink.messages == [] and service.spool.queue_sizes()["corrupt"] == 0
        assert len(list(service.spool.queue("incoming").iterdir())) + len(list(
            service.spool.queue("active").iterdir())) == 3
        daemon = start_clamd(tmp_path / "clamd")  # the same socket again
        wait_for(lambda: len(sink.messages) == 3, 30)
        done = httpx.get(http(service, f"/api/v1/transfers/{transfer}"), headers=headers, timeout=10).json()
        wait_for(lambda: httpx.get(http(service, f"/api/v1/transfers/{transfer}"), headers=headers,
                                   timeout=10).json()["status"] == "done", 30)
        done = httpx.get(http(service, f"/api/v1/transfers/{transfer}"), headers=headers, timeout=10).json()
        ready_again = httpx.get(http(service, "/readyz"), timeout=10)
    finally:
        service.stop()
        stop(daemon.proc)
    assert status["status"] == "waiting_for_scan" and "malware scan" in status["detail"]
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    assert "no such socket" in ready.json()["reasons"][0] and 'gateway_antivirus_up{engine="clamd"} 0' in metrics
    assert ready_again.status_code == 200
    arrived = sorted(str(email.message_from_bytes(m)["Message-ID"]) for m in sink.messages)
    assert arrived == sorted(ids)  # every one, once
    outcomes = [(f["input"], f["outcome"], f.get("reason_code"), f["scanned"]) for f in done["files"]]
    assert outcomes == [("eicar.txt", "blocked", "malware", True), ("メモ.txt", "passed", None, True)]
    assert done["files"][0]["signatures"] == [EICAR_FOUND]
    waits = [(r["transfer_id"], r["detail"]) for r in log.records() if r["event"] == "deferred"]
    assert len(waits) == len(set(waits)) == 2  # the oldest mail (the others are not taken meanwhile) and the upload
    assert all(detail.startswith("waiting for the malware scan: clamd") and "no such socket" in detail
               for _, detail in waits)


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def three_deep() -> bytes:
    """一式.zip > 年度.zip > 月別.zip > 報告.txt, the last carrying the marker."""
    return zipped("年度.zip", zipped("月別.zip", zipped("報告.txt", "月次報告です。\n".encode() + MARKER + b"\n")))


def big_table() -> bytes:
    """A CSV over the test clamd's StreamMaxLength."""
    return "番号,名前\n".encode() + b"1,abc\n" * (STREAM_MAX // 6 + 1000)


def message_ids(messages: list[bytes]) -> list[str]:
    return [str(email.message_from_bytes(m)["Message-ID"]) for m in messages]


def test_clamd_killed_while_mail_flows_nothing_passes_unscanned_nothing_is_lost(
        tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    """Every mail carries an archive whose member three archives deep has the marker: a mail that
    arrives with that archive still in it, or without the signature named, was not scanned."""
    sink, port = lgwan
    daemon = start_clamd(tmp_path / "clamd")
    service = start(tmp_path, port, daemon.socket_path,  # on_too_large = "block"
                    clamd_stream_max_mb=STREAM_MAX // (1024 * 1024))  # = the test clamd's StreamMaxLength
    ids = [f"<flow-{n}@example.co.jp>" for n in range(8)]
    try:
        relay(service, mail("大きな表です。\n", [("大きな表.csv", big_table())], "<large@example.co.jp>"))
        wait_for(lambda: len(sink.messages) == 1, 30)  # its notice: a mail that cannot be scanned is not delivered

        def send_all() -> None:
            for message_id in ids:
                relay(service, mail("月次報告を送ります。\n", [("一式.zip", three_deep()),
                                                            ("連絡.txt", "ご確認ください\n".encode())], message_id))
                time.sleep(0.15)

        sender = threading.Thread(target=send_all)
        sender.start()
        wait_for(lambda: len(sink.messages) >= 3, 30)
        daemon.proc.send_signal(signal.SIGKILL)  # no goodbye: its socket file stays behind
        daemon.proc.wait(10)
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: any(r["event"] == "deferred" for r in log.records()), 30)
        sender.join(60)
        sizes = service.spool.queue_sizes
        wait_for(lambda: sizes()["outbox"] + sizes()["sending"] + sizes()["deferred"] == 0, 30)  # sanitised ones out
        during = len(sink.messages)
        time.sleep(1.5)  # three retry intervals: nothing more goes out
        assert len(sink.messages) == during < 1 + len(ids) and service.spool.queue_sizes()["corrupt"] == 0
        daemon = start_clamd(tmp_path / "clamd")
        wait_for(lambda: len(sink.messages) == 1 + len(ids), 60)
        wait_for(lambda: sum(r["event"] == "delivered" for r in log.records()) == 1 + len(ids), 30)
        time.sleep(0.5)
    finally:
        service.stop()
        stop(daemon.proc)
    notice, *flow = sink.messages
    assert sorted(message_ids(flow)) == sorted(ids)  # every one, once
    for raw in flow:
        delivered = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(delivered, EmailMessage)
        assert [part.get_filename() for part in delivered.iter_attachments()] == ["連絡.txt"]
        assert sum(MARKER_FOUND in line for line in text_of(raw).splitlines()) == 2  # named, Japanese and English
    assert MARKER not in b"".join(sink.messages)
    assert "大きな表.csv" not in b"".join(flow).decode("utf-8", "replace")
    assert "stream limit" in text_of(notice)  # the notice of the stopped mail says why
    records = list(AuditLog(tmp_path / "data" / "audit.sqlite3").records())
    assert [r.get("reason_code") for r in records if r["event"] == "blocked" and r["key"] == "outcome"] == [
        "scan_too_large"]
    assert len([r for r in records if r["event"] == "deferred"]) >= 1
    assert not [r for r in records if r["event"] == "failed"]


class ProxyClamd:
    """A clamd in front of the real one that answers VERSION itself, with a signature date the test
    sets (a real clamd with the test database has no daily database, hence no date); every scan
    goes to the real clamd. ``fail_at``: that scan (counted from the first) is dropped unanswered
    and from then on every connection is closed at once (``down``), until the test says otherwise."""

    def __init__(self, path: Path, real: Path) -> None:
        self.real = real
        self.built = datetime.now() - timedelta(days=10)
        self.scans, self.fail_at, self.down = 0, 0, False
        self.server = FakeServer(self.handle, unix_path=path)

    def handle(self, conn: socket.socket, server: FakeServer) -> None:
        raw = read_instream(conn, server)
        if self.down:
            return
        if raw.startswith(b"zINSTREAM"):
            self.scans += 1
            if self.scans == self.fail_at:
                self.down = True  # died while scanning this file
                return
        if raw.startswith(b"zVERSION"):
            conn.sendall(f"ClamAV 1.4.6/27500/{self.built.strftime('%a %b %d %H:%M:%S %Y')}\0".encode())
            return
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.settimeout(10)
            upstream.connect(str(self.real))
            upstream.sendall(raw)
            while answer := upstream.recv(4096):
                conn.sendall(answer)


def test_stale_signatures_hold_mail_until_fresh_an_engine_dying_mid_mail_and_a_file_too_large(
        clamd: Clamd, tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    proxy = ProxyClamd(tmp_path / "proxy.sock", clamd.socket_path)
    with proxy.server:
        service = start(tmp_path, port, tmp_path / "proxy.sock", max_signature_age_hours=48,
                        on_too_large="disarm_unscanned", clamd_stream_max_mb=STREAM_MAX // (1024 * 1024))
        try:
            relay(service, mail("会議の資料です。\n", [("議事.txt", "議事録\n".encode())], "<stale@example.co.jp>"))
            log = AuditLog(tmp_path / "data" / "audit.sqlite3")
            wait_for(lambda: any(r["event"] == "deferred" for r in log.records()), 30)
            ready = httpx.get(http(service, "/readyz"), timeout=10)
            time.sleep(1.0)
            assert sink.messages == []
            proxy.built = datetime.now() - timedelta(hours=2)  # freshclam caught up
            wait_for(lambda: len(sink.messages) == 1, 30)
            relay(service, mail("大きな表です。\n", [("大きな表.csv", big_table())], "<large@example.co.jp>"))
            wait_for(lambda: len(sink.messages) == 2, 60)
            # the engine dies while a mail is half scanned (the whole message and its body were, its
            # first attachment is being scanned): the mail goes back untouched, and is scanned anew
            proxy.fail_at = proxy.scans + 3
            relay(service, mail("月次報告を送ります。\n", [("一式.zip", three_deep()), ("連絡.txt", "連絡\n".encode())],
                                "<half@example.co.jp>"))
            wait_for(lambda: sum(r["event"] == "deferred" for r in log.records()) == 2, 30)
            time.sleep(1.0)
            assert len(sink.messages) == 2 and proxy.down
            proxy.down = False
            wait_for(lambda: len(sink.messages) == 3, 30)
            wait_for(lambda: httpx.get(http(service, "/readyz"), timeout=10).status_code == 200, 10)
        finally:
            service.stop()
    assert ready.status_code == 503 and "older than 48 hours" in ready.json()["reasons"][0]
    assert 230 < ready.json()["antivirus"][0]["age_hours"] < 250
    assert message_ids(sink.messages) == ["<stale@example.co.jp>", "<large@example.co.jp>", "<half@example.co.jp>"]
    half = email.message_from_bytes(sink.messages[2], policy=email.policy.default)
    assert isinstance(half, EmailMessage)
    assert [part.get_filename() for part in half.iter_attachments()] == ["連絡.txt"]
    assert sum(MARKER_FOUND in line for line in text_of(sink.messages[2]).splitlines()) == 2
    large = email.message_from_bytes(sink.messages[1], policy=email.policy.default)
    assert isinstance(large, EmailMessage)
    assert [part.get_filename() for part in large.iter_attachments()] == ["大きな表.csv"]  # disarmed, not scanned
    records = list(AuditLog(tmp_path / "data" / "audit.sqlite3").records())
    waited, dropped = [r for r in records if r["event"] == "deferred"]
    assert "signature" in str(waited["detail"]) and "closed the connection" in str(dropped["detail"])
    [part] = [r for r in records if r["key"] == "attachment-1" and "大きな表.csv" in str(r.get("detail"))]
    assert "scan_skipped_too_large" in part["findings"]
