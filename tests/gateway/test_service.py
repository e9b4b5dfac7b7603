"""`gateway serve` with real components on loopback: smtplib as the internet-side relay, an
aiosmtpd server standing in for the LGWAN mail server."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.audit.log import AuditLog
from gateway.config import ServeSettings, Settings
from gateway.delivery.worker import DeliveryWorker
from gateway.messages import REASONS
from gateway.pipeline.uploads import UploadWorker
from gateway.pipeline.worker import MailWorker
from gateway.service import Service

DOMAIN = "city.example.lg.jp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_answering(base: str, timeout: float = 30) -> None:
    """Until the HTTP listener at ``base`` answers /healthz (or ``timeout`` seconds pass)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


@pytest.fixture
def lgwan() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def start_service(tmp_path: Path, lgwan_port: int | None, **changes: Any) -> Service:
    serve = ServeSettings(data_dir=str(tmp_path / "data"), smtp_listen=f"127.0.0.1:{free_port()}",
                          lgwan_smtp=f"127.0.0.1:{lgwan_port}" if lgwan_port else "",
                          recipient_domains=DOMAIN, workers=1, retry_base_seconds=0.3, min_free_mb=1)
    service = Service(Settings(serve=replace(serve, **changes)))
    service.start()
    return service


def relay(service: Service, raw: bytes, recipients: list[str] | None = None) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", service.serve.smtp_address[1], timeout=30) as client:
        return client.sendmail("sender@example.co.jp", recipients or [f"soumu@{DOMAIN}"],
                               raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_mail_is_sanitised_delivered_and_audited(samples: Path, tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start_service(tmp_path, port)
    try:
        assert relay(service, (samples / "mail-outlook-iso2022jp.eml").read_bytes()) == {}
        wait_for(lambda: len(sink.messages) == 1)
    finally:
        service.stop()
    message = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
    assert message["Subject"] == "【見積】①㈱サンプル御中 ﾃｽﾄ"
    assert [part.get_filename() for part in message.iter_attachments()] == ["見積書①.xlsx"]
    log = AuditLog(tmp_path / "data" / "audit.sqlite3")
    events = [record["event"] for record in log.records()]
    assert events[0] == "received" and events[-1] == "delivered" and "sanitized" in events
    assert log.verify().ok
    [row] = log.transfers()
    assert row["channel"] == "smtp" and row["client_ip"] == "127.0.0.1" and row["delivery_status"] == "delivered"
    assert list((tmp_path / "data" / "quarantine").iterdir())  # the original is kept, never forwarded


def test_no_open_relay_and_size_limit(samples: Path, tmp_path: Path) -> None:
    service = start_service(tmp_path, None, max_message_mb=1)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            relay(service, b"Subject: x\n\nbody\n", ["someone@gmail.example"])
        assert refused.value.recipients["someone@gmail.example"][0] == 550
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as large:
            relay(service, b"Subject: big\n\n" + b"x" * 76 + b"\n" * 1 + (b"y" * 76 + b"\n") * 14_000)
        assert large.value.smtp_code == 552
    finally:
        service.stop()
    foreign = start_service(tmp_path / "foreign", None, relay_networks="10.0.0.0/8")
    try:
        with pytest.raises(smtplib.SMTPSenderRefused) as denied:
            relay(foreign, b"Subject: x\n\nbody\n")
        assert denied.value.smtp_code == 554
    finally:
        foreign.stop()


def test_low_disk_answers_452_and_keeps_nothing(tmp_path: Path) -> None:
    service = start_service(tmp_path, None, min_free_mb=1 << 42)
    try:
        with pytest.raises(smtplib.SMTPDataError) as full:
            relay(service, b"Subject: x\n\nbody\n")
        assert full.value.smtp_code == 452
        assert service.spool.depth() == 0
    finally:
        service.stop()


def test_lgwan_down_defers_then_delivers(samples: Path, tmp_path: Path) -> None:
    port = free_port()
    service = start_service(tmp_path, port)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    try:
        relay(service, (samples / "mail-gmail-alternative.eml").read_bytes())
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: any(r["event"] == "deferred" for r in log.records()))
        controller.start()
        wait_for(lambda: len(sink.messages) == 1)
    finally:
        service.stop()
        controller.stop()
    assert [r["event"] for r in log.records()][-1] == "delivered"


def test_kill_9_with_200_mails_in_flight_then_restart_delivers_each_once(samples: Path, tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    command = [sys.executable, "-m", "gateway", "serve", "--data-dir", str(data), "--smtp-listen", f"127.0.0.1:{port}",
               "--recipient-domains", DOMAIN, "--workers", "2"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30)
        accepted = []
        body = (samples / "mail-html-only.eml").read_bytes()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for index in range(200):
                raw = body.replace(b"<html-3@example.jp>", f"<crash-{index}@example.jp>".encode())
                client.sendmail("a@example.jp", [f"soumu@{DOMAIN}"], raw.replace(b"\n", b"\r\n"))
                accepted.append(f"<crash-{index}@example.jp>")
        os.killpg(server.pid, signal.SIGKILL)  # mid-flight: some mails spooled, some sanitised, some delivered
        server.wait()
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        lgwan = data / "lgwan"
        wait_for(lambda: lgwan.exists() and len(list(lgwan.glob("*.eml"))) >= 200, 400)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    ids = sorted(email.message_from_bytes(p.read_bytes())["Message-ID"] for p in lgwan.glob("*.eml"))
    assert ids == sorted(accepted)  # every accepted mail, each exactly once
    assert AuditLog(data / "audit.sqlite3").verify().ok


class PickySink(Sink):
    """Refuses the ordinary recipient for now (451), accepts the postmaster."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.startswith("soumu@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_undeliverable_mail_is_kept_and_the_postmaster_told(samples: Path, tmp_path: Path) -> None:
    sink, port = PickySink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    service = start_service(tmp_path, port, max_age_seconds=0.0, postmaster=f"postmaster@{DOMAIN}")
    try:
        relay(service, (samples / "mail-gmail-alternative.eml").read_bytes())
        wait_for(lambda: len(sink.messages) == 1)
    finally:
        service.stop()
        controller.stop()
    notice = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
    assert "undeliverable" in str(notice["Subject"])
    assert list(service.spool.queue("corrupt").iterdir())  # kept, never dropped
    log = AuditLog(tmp_path / "data" / "audit.sqlite3")
    assert [r["event"] for r in log.records()][-1] == "failed"


def test_retention_purges_old_originals_and_audit_records(samples: Path, tmp_path: Path) -> None:
    service = start_service(tmp_path, None, quarantine_days=30, audit_retention_days=365)
    try:
        relay(service, (samples / "mail-gmail-alternative.eml").read_bytes())
        lgwan = tmp_path / "data" / "lgwan"
        wait_for(lambda: lgwan.exists() and any(lgwan.iterdir()))
        # the delivered record follows the file (marker, record, then the job goes): wait for it too
        wait_for(lambda: any(r["event"] == "delivered" for r in service.audit.records()))
        assert service.purge() == (0, 0)
        originals, purged = service.purge(now=time.time() + 400 * 86400)
        assert originals == 1 and purged >= 3
        assert not list(service.quarantine.iterdir())
        assert service.audit.verify().ok
    finally:
        service.stop()


def test_starttls_when_a_certificate_is_configured(samples: Path, tmp_path: Path) -> None:
    import ssl

    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    service = start_service(tmp_path, None, tls_certificate=str(certificate), tls_key=str(key))
    try:
        with smtplib.SMTP("127.0.0.1", service.serve.smtp_address[1], timeout=30) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            context = ssl.create_default_context(cafile=str(certificate))
            context.check_hostname = False
            client.starttls(context=context)
            client.sendmail("a@example.jp", [f"soumu@{DOMAIN}"], b"Subject: tls\r\n\r\nover TLS\r\n")
        lgwan = tmp_path / "data" / "lgwan"
        wait_for(lambda: lgwan.exists() and any(lgwan.iterdir()))
    finally:
        service.stop()


def test_too_many_connections_from_one_client(tmp_path: Path) -> None:
    service = start_service(tmp_path, None, max_connections_per_client=2)
    clients = [smtplib.SMTP("127.0.0.1", service.serve.smtp_address[1], timeout=30) for _ in range(3)]
    try:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            clients[2].sendmail("a@example.jp", [f"soumu@{DOMAIN}"], b"Subject: x\r\n\r\nbody\r\n")
        assert refused.value.smtp_code == 421
        assert clients[0].sendmail("a@example.jp", [f"soumu@{DOMAIN}"], b"Subject: y\r\n\r\nbody\r\n") == {}
    finally:
        for client in clients:
            try:
                client.quit()
            except smtplib.SMTPException:
                pass
        service.stop()


def test_a_hostile_mail_never_stops_the_workers(samples: Path, tmp_path: Path, lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start_service(tmp_path, port)
    try:
        relay(service, (samples / "mail-hostile-headers.eml").read_bytes())
        relay(service, (samples / "mail-gmail-alternative.eml").read_bytes())
        wait_for(lambda: len(sink.messages) == 2)
        assert all(process.is_alive() for process in service.workers.values())
        assert all(thread.is_alive() for thread in service.threads if thread.name != "http")
        # each worker names itself (ps and top show gw-pipeline, gw-delivery, gw-uploads)
        names = {Path(f"/proc/{process.pid}/comm").read_text().strip() for process in service.workers.values()}
        assert names == {"gw-pipeline", "gw-delivery", "gw-uploads"}
    finally:
        service.stop()


def test_a_worker_that_dies_is_started_again_and_no_mail_is_lost(samples: Path, tmp_path: Path,
                                                                  lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start_service(tmp_path, port)
    try:
        for name in ("pipeline-0", "delivery"):
            before = service.workers[name]
            os.kill(before.pid, signal.SIGKILL)
            wait_for(lambda name=name, before=before: service.workers[name] is not before
                     and service.workers[name].is_alive(), 30)
        raws = [(samples / "mail-gmail-alternative.eml").read_bytes()] * 3
        for raw in raws:
            relay(service, raw)
        wait_for(lambda: len(sink.messages) == 3)
    finally:
        service.stop()
    # the restarted workers were let finish too (not killed when the thread that started them ended)
    assert {name: process.exitcode for name, process in service.workers.items()} == dict.fromkeys(service.workers, 0)


def test_a_mail_whose_processing_keeps_failing_ends_in_corrupt_not_limbo(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    service = Service(Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains=DOMAIN)))
    job_id = service.spool.accept({"sender": "a@example.jp", "recipients": [f"soumu@{DOMAIN}"]},
                                  b"Subject: x\r\n\r\nbody\r\n")

    def broken(self: Any, job: Any) -> None:
        raise AttributeError("a bug outside the worker boundary")

    monkeypatch.setattr(MailWorker, "process", broken)
    loop = threading.Thread(target=MailWorker(service.settings, service.stopping).run)
    loop.start()
    try:
        wait_for(lambda: (service.spool.queue("corrupt") / job_id).exists(), 30)
    finally:
        service.stopping.set()
        loop.join()
    assert [p.name for q in ("incoming", "active") for p in service.spool.queue(q).iterdir()] == []
    failed = [r for r in service.audit.records() if r["event"] == "failed"]
    assert failed[0]["transfer_id"] == job_id and "3 times" in failed[0]["detail"]
    kept = json.loads((service.spool.queue("corrupt") / job_id / "envelope.json").read_text(encoding="utf-8"))
    assert kept["last_error"] == "pipeline failed 3 times" and kept["attempts"] == 3  # for `gateway queue list`
    service.audit.close()


def test_an_upload_that_fails_half_way_delivers_none_of_its_files(tmp_path: Path) -> None:
    from gateway.spool import fsync_dir, new_job_id

    service = Service(Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains=DOMAIN)))
    transfer = new_job_id()
    staging = service.spool.queue("tmp") / transfer
    (staging / "files").mkdir(parents=True)
    (staging / "files" / "0").write_text("一つ目の文書です。\n", encoding="utf-8")  # file 1 is missing on disk
    (staging / "envelope.json").write_text('{"user": "総務課", "names": ["a.txt", "b.txt"], "destination": "総務"}')
    os.rename(staging, service.spool.queue("uploads") / transfer)
    fsync_dir(service.spool.queue("uploads"))
    job = service.spool.claim("uploads", "working")
    assert job is not None
    worker = UploadWorker(service.settings, service.stopping)
    with pytest.raises(OSError):
        worker.process_upload(job)
    worker.close()
    delivered = service.serve.data_path / "lgwan-files" / "総務"
    assert not delivered.exists() or list(delivered.iterdir()) == []
    service.audit.close()


def test_an_audit_failure_after_spooling_still_answers_250_and_records_later(
        samples: Path, tmp_path: Path, lgwan: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    sink, port = lgwan
    service = start_service(tmp_path, port)
    real_append = service.audit.append
    failures: list[str] = []

    def locked_once(event: str, transfer_id: str, **fields: Any) -> int:
        if event == "received" and not failures:
            failures.append(transfer_id)
            raise sqlite3.OperationalError("database is locked")
        return real_append(event, transfer_id, **fields)

    monkeypatch.setattr(service.audit, "append", locked_once)
    try:
        assert relay(service, (samples / "mail-gmail-alternative.eml").read_bytes()) == {}
        wait_for(lambda: len(sink.messages) == 1)
        log = AuditLog(tmp_path / "data" / "audit.sqlite3")
        wait_for(lambda: any(r["event"] == "received" and r["transfer_id"] == failures[0] for r in log.records()))
        [late] = [r for r in log.records() if r["event"] == "received"]
        assert "recorded late" in late["detail"] and late["channel"] == "smtp"
        assert list((service.spool.queue("unaudited")).iterdir()) == []
        assert log.verify().ok
        log.close()
    finally:
        service.stop()
    assert len(sink.messages) == 1


def test_a_mail_that_cannot_be_made_safe_is_replaced_by_a_notice(samples: Path, tmp_path: Path,
                                                                  lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start_service(tmp_path, port, postmaster=f"postmaster@{DOMAIN}")
    try:
        relay(service, (samples / "mail-not-a-mail.eml").read_bytes())
        wait_for(lambda: len(sink.messages) == 1)
    finally:
        service.stop()
    notice = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
    assert isinstance(notice, email.message.EmailMessage)
    assert {a.addr_spec for a in notice["To"].addresses} == {f"soumu@{DOMAIN}", f"postmaster@{DOMAIN}"}
    body = notice.get_content()
    assert "配送しませんでした" in body and "was not delivered" in body and "sender@example.co.jp" in body
    [why] = [line.removeprefix("理由: ") for line in body.splitlines() if line.startswith("理由: ")]
    assert why in {japanese for japanese, _ in REASONS.values()}  # the catalogue's words, in Japanese
    assert not notice.is_multipart()
    events = [(r["event"], r.get("outcome")) for r in AuditLog(tmp_path / "data" / "audit.sqlite3").records()]
    assert ("blocked", "rejected") in events and events[-1][0] == "delivered"


class RawSession:
    """A hand-driven SMTP client, for what smtplib would never send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.reply()

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline().decode("ascii", "replace")
            lines.append(line.rstrip())
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def command(self, line: bytes) -> str:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_bad_smtp_input_gets_clear_answers_and_the_service_keeps_serving(samples: Path, tmp_path: Path,
                                                                         lgwan: tuple[Sink, int]) -> None:
    sink, port = lgwan
    service = start_service(tmp_path, port, smtp_timeout_seconds=1.0, max_queue=1)
    try:
        session = RawSession(service.serve.smtp_address[1])
        assert session.command(b"EHLO relay.example.jp").startswith("250")
        assert session.command(b"FROB x").startswith("500")
        assert session.command(b"MAIL FROM:<broken").startswith("501")
        assert session.command(b"RCPT TO:<soumu@" + DOMAIN.encode() + b">").startswith("503")  # no MAIL yet
        assert session.command(b"MAIL FROM:<" + b"a" * 3000 + b"@example.jp>").startswith("500")  # line too long
        assert session.command(b"MAIL FROM:<a@example.jp>").startswith("250")
        assert session.command(b"RCPT TO:<\xff\xfe@" + DOMAIN.encode() + b">")[:1] == "5"
        assert session.command(b"DATA").startswith("503")  # no valid recipient
        session.close()
        slow = RawSession(service.serve.smtp_address[1])  # says nothing: disconnected after the timeout
        time.sleep(2.5)
        assert slow.file.read() in (b"", b"421 4.4.2 Timeout\r\n")  # closed (a 10 s socket timeout would raise)
        slow.close()
        huge = b"X-Huge: " + b"a" * 990 + b"\r\n"
        raw = b"Subject: big headers\r\n" + huge * 5000 + b"\r\nbody\r\n"
        assert relay(service, raw) == {}  # accepted; the splitter's header limits apply in the sandbox
        with pytest.raises(smtplib.SMTPDataError) as full:  # the queue is at its high-water mark
            for _ in range(5):
                relay(service, (samples / "mail-gmail-alternative.eml").read_bytes())
        assert full.value.smtp_code == 451
        wait_for(lambda: service.spool.depth() == 0)
        time.sleep(1.1)  # the intake counts the queue again at most once a second
        assert relay(service, (samples / "mail-gmail-alternative.eml").read_bytes()) == {}
        wait_for(lambda: any(b"Gmail" in m or b"gmail" in m for m in sink.messages))
        for message in sink.messages:
            assert b"500 Error" not in message
    finally:
        service.stop()


def test_the_deferred_queue_is_not_read_again_on_every_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = Service(Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains=DOMAIN)))
    for index in range(20):  # the LGWAN server has been down: mails wait for their next try
        service.spool.accept({}, f"mail {index}".encode())
        job = service.spool.claim("incoming", "active")
        assert job is not None
        service.spool.move(job, "deferred", {"attempts": 3, "next_attempt": time.time() + 600})
    delivery = DeliveryWorker(service.settings, service.stopping)  # a worker has its own spool
    scans: list[float] = []
    real_claim_due = delivery.spool.claim_due

    def counted(target: str) -> Any:
        scans.append(time.monotonic())
        return real_claim_due(target)

    monkeypatch.setattr(delivery.spool, "claim_due", counted)
    worker = threading.Thread(target=delivery.run)
    worker.start()
    time.sleep(1.0)  # some 50 polls of the outbox
    service.stopping.set()
    worker.join()
    service.audit.close()
    assert len(scans) == 1  # the envelopes were read once; the next look is when the first is due
    assert len(list(service.spool.queue("deferred").iterdir())) == 20


def test_a_busy_outbox_does_not_starve_due_retries(tmp_path: Path) -> None:
    service = Service(Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains=DOMAIN)))
    try:
        service.spool.accept({}, b"retry")
        job = service.spool.claim("incoming", "active")
        assert job is not None
        service.spool.move(job, "deferred", {"attempts": 1, "next_attempt": time.time() - 1})
        for index in range(3):
            service.spool.to_outbox(f"fresh{index}", {"sender": "", "recipients": []}, b"fresh")
        delivery = DeliveryWorker(service.settings, service.stopping)
        first = delivery.next_job()
        assert first is not None and first.id == job.id  # the due retry first, then the outbox
        second = delivery.next_job()
        assert second is not None and second.id == "fresh0"
        delivery.close()
    finally:
        service.audit.close()
