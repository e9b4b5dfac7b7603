"""`gateway queue` and `gateway status` against a real `gateway serve` process on loopback whose
LGWAN mail server is down (so mail is deferred), then up: an aiosmtpd server on the same port."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.audit.log import AuditLog

DOMAIN = "city.example.lg.jp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


class Lgwan:
    """The LGWAN mail server: refuses every recipient (550) while ``refusing``."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refusing = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.refusing:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


@dataclass
class Running:
    data: Path
    config: Path
    smtp: int
    lgwan_port: int
    process: subprocess.Popen[bytes]
    lgwan: Lgwan = field(default_factory=Lgwan)

    def gateway(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "SUDO_USER": "tanaka"})

    def queue(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.gateway("queue", *args, "--data-dir", str(self.data))

    def jobs(self, queue: str = "") -> dict[str, dict[str, Any]]:
        listed = self.queue("list", "--json", *(["--queue", queue] if queue else []))
        assert listed.returncode == 0, listed.stderr
        return {job["id"]: job for job in map(json.loads, listed.stdout.splitlines())}

    def send(self, subject: str, attachment: bytes | None = None) -> str:
        raw = (f"From: taro@example.co.jp\r\nTo: soumu@{DOMAIN}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject}@example.co.jp>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=30) as client:
            client.sendmail("taro@example.co.jp", [f"soumu@{DOMAIN}"], raw)
            assert client.noop()[0] == 250
        return subject


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    data, smtp, lgwan_port = tmp_path / "data", free_port(), free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(f'[serve]\nsmtp_listen = "127.0.0.1:{smtp}"\nlgwan_smtp = "127.0.0.1:{lgwan_port}"\n'
                      f'data_dir = "{data}"\nrecipient_domains = "{DOMAIN}"\nworkers = 1\n'
                      "retry_base_seconds = 3600\nmin_free_mb = 1\n", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    running = Running(data, config, smtp, lgwan_port, process)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", smtp)) == 0, 60)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=120)


def test_queue_tools_on_a_running_service(running: Running) -> None:
    for subject in ("alpha", "bravo", "charlie"):
        running.send(subject)
    wait_for(lambda: len(running.jobs("deferred")) == 3)
    deferred = running.jobs("deferred")
    assert running.jobs("incoming") == {}
    by_subject = {}
    log = AuditLog(running.data / "audit.sqlite3")
    for job_id, job in deferred.items():
        # why it waits: the delivery worker keeps the last error in the envelope
        assert job["attempts"] == 1 and job["next_attempt"] and "ConnectionRefusedError" in job["why"]
        assert job["sender"] == "taro@example.co.jp" and job["recipients"] == [f"soumu@{DOMAIN}"]
        [row] = [r for r in log.transfers() if r["id"] == job_id]
        assert row["outcome"] == "accepted" and row["delivery_status"] == "deferred"  # not "delivered"
        by_subject[row["subject"]] = job_id
    alpha, bravo, charlie = by_subject["alpha"], by_subject["bravo"], by_subject["charlie"]
    table = running.queue("list")
    assert table.returncode == 0 and alpha in table.stdout and "ConnectionRefusedError" in table.stdout

    # a job a worker holds (flocked, as a worker claims it) is never touched
    descriptor = os.open(running.data / "spool" / "deferred" / alpha, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = running.queue("hold", alpha)
        assert busy.returncode == 4 and "busy" in busy.stderr and "try again" in busy.stderr
        assert (running.data / "spool" / "deferred" / alpha).is_dir()
    finally:
        os.close(descriptor)

    held = running.queue("hold", alpha)
    assert held.returncode == 0, held.stderr
    shown = json.loads(running.queue("show", alpha, "--json").stdout)
    assert shown["queue"] == "hold" and shown["held"]["from"] == "deferred" and shown["held"]["by"] == "tanaka"
    assert [r["event"] for r in shown["records"]][-1] == "operator"

    refused = running.queue("delete", bravo)
    assert refused.returncode == 2 and "--yes" in refused.stderr and bravo in running.jobs()
    deleted = running.queue("delete", bravo, "--yes")
    assert deleted.returncode == 0 and bravo not in running.jobs()
    assert running.queue("show", bravo).returncode == 3
    assert running.queue("release", bravo).returncode == 3

    # the LGWAN server comes back: retry makes charlie due now (its retry was an hour away)
    controller = Controller(running.lgwan, hostname="127.0.0.1", port=running.lgwan_port)
    controller.start()
    try:
        retried = running.queue("retry", "--all")
        assert retried.returncode == 0 and "1 deferred job(s)" in retried.stdout  # alpha is held: not retried
        wait_for(lambda: len(running.lgwan.messages) == 1, 30)
        time.sleep(1)
        assert alpha in running.jobs("hold")
        released = running.queue("release", alpha)
        assert released.returncode == 0 and alpha in running.jobs("deferred")  # back as it was: due in an hour
        assert running.queue("retry", alpha).returncode == 0
        wait_for(lambda: len(running.lgwan.messages) == 2, 30)

        # a job the LGWAN server refused for good is in corrupt; retry puts it back into delivery
        running.lgwan.refusing = True
        running.send("delta")
        wait_for(lambda: len(running.jobs("corrupt")) == 1)
        [(delta, job)] = running.jobs("corrupt").items()
        assert "refused" in job["why"]
        running.lgwan.refusing = False
        assert running.queue("retry", delta).returncode == 0
        wait_for(lambda: len(running.lgwan.messages) == 3, 30)
    finally:
        controller.stop()
    assert running.jobs() == {}
    subjects = sorted(m.split(b"Subject: ")[1].split(b"\r\n")[0].decode() for m in running.lgwan.messages)
    assert subjects == ["alpha", "charlie", "delta"]

    rows = {row["id"]: row for row in log.transfers()}
    assert rows[bravo]["delivery_status"] == "deleted" and rows[bravo]["outcome"] == "accepted"
    assert rows[alpha]["delivery_status"] == "delivered" and rows[alpha]["outcome"] == "delivered"
    operator = [(r["transfer_id"], r["detail"].split(" by ")[0], r["operator"])
                for r in log.records() if r["event"] == "operator"]
    assert operator == [(alpha, "hold", "tanaka"), (bravo, "delete", "tanaka"), (charlie, "retry", "tanaka"),
                        (alpha, "release", "tanaka"), (alpha, "retry", "tanaka"), (delta, "retry", "tanaka")]
    assert log.verify().ok


def test_status_screen_of_a_running_service(running: Running) -> None:
    running.send("echo")
    wait_for(lambda: len(running.jobs("deferred")) == 1)
    shown = running.gateway("status", "--config", str(running.config), "--json", "--verify")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["service"]["running"] and status["service"]["pid"] == running.process.pid
    assert {w["name"] for w in status["service"]["workers"]} == {"pipeline", "delivery", "uploads"}
    assert status["listeners"] == [{"name": "smtp", "address": f"127.0.0.1:{running.smtp}", "answering": True}]
    assert status["queues"]["deferred"]["jobs"] == 1 and status["queues"]["deferred"]["oldest_age_seconds"] >= 0
    assert "ConnectionRefusedError" in status["oldest_deferred"]["why"]
    log = AuditLog(running.data / "audit.sqlite3")
    records = list(log.records())
    assert status["audit"]["verified"] is True and status["audit"]["head_seq"] == records[-1]["seq"]
    assert status["audit"]["head_hash"] == records[-1]["hash"]
    assert status["disk"]["free_bytes"] > 0 and status["antivirus"] == {"configured": False, "engines": []}
    screen = running.gateway("status", "--config", str(running.config))
    assert f"running, pid {running.process.pid}" in screen.stdout and "deferred 1" in screen.stdout
    assert "ConnectionRefusedError" in screen.stdout and "not verified" in screen.stdout

    os.killpg(running.process.pid, signal.SIGTERM)
    running.process.wait(timeout=120)
    stopped = json.loads(running.gateway("status", "--config", str(running.config), "--json").stdout)
    assert not stopped["service"]["running"] and not stopped["listeners"][0]["answering"]
    assert stopped["queues"]["deferred"]["jobs"] == 1  # mail waits in the spool while the service is down


def test_an_upload_held_and_put_back_keeps_its_status_honest(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from gateway.audit.recorder import Recorder
    from gateway.cli.queue import Operator
    from gateway.intake.http_api import transfer_status
    from gateway.spool import Spool

    spool, log = Spool(tmp_path / "spool"), AuditLog(tmp_path / "audit.sqlite3")
    job_id = spool.stage({"user": "総務課", "names": ["a.txt"], "client_ip": "127.0.0.1"}, b"")
    (spool.queue("tmp") / job_id / "files").mkdir()
    (spool.queue("tmp") / job_id / "files" / "0").write_bytes(b"text\n")
    spool.commit(job_id, "corrupt")  # as a parked upload is
    context = SimpleNamespace(results=tmp_path / "results", spool=spool)
    operator = Operator(spool, Recorder(log, spool), "sato", tmp_path)
    assert transfer_status(context, job_id)[0] == "failed"  # type: ignore[arg-type]
    assert operator.act("hold", job_id) == 0
    assert transfer_status(context, job_id)[0] == "held"  # type: ignore[arg-type]
    assert operator.act("retry", job_id) == 2  # held: release it first
    assert operator.act("release", job_id) == 0 and (spool.queue("corrupt") / job_id).is_dir()
    assert operator.act("retry", job_id) == 0 and (spool.queue("uploads") / job_id / "files" / "0").is_file()
    assert transfer_status(context, job_id)[0] == "queued"  # type: ignore[arg-type]
    assert operator.act("release", job_id) == 3 and operator.act("hold", "no-such-job") == 3
    [row] = log.transfers()
    assert row["delivery_status"] == "queued" and row["operator"] == "sato"
    assert [r["detail"].split(":")[0] for r in log.records()] == ["hold by sato", "release by sato", "retry by sato"]
    log.close()
