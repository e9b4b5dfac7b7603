"""A sandboxed child that crashes on the real mail path: where it failed reaches the log with the
transfer id and the mail's hash (nothing of its content), and /metrics counts it, whichever
process of the service it happened in."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import multiprocessing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.audit.log import AuditLog
from gateway.config import SandboxSettings, ServeSettings, Settings
from gateway.intake.http_api import ApiContext, create_app
from gateway.intake.tokens import TokenStore
from gateway.pipeline.mail import MailSanitizer
from gateway.sandbox.crash_report import crash_count, report_crash, transfer
from gateway.spool import Spool

PRIVATE_TEXT = "口座番号 1234567 山田太郎"


def metric(spool: Spool, tmp_path: Path) -> int:
    context = ApiContext(spool, AuditLog(tmp_path / "audit.sqlite3"), TokenStore(tmp_path / "tokens.sqlite3"),
                         tmp_path / "results", 1_000_000, 1024, ServeSettings().max_queue)
    text = TestClient(create_app(context)).get("/metrics").text
    [line] = [line for line in text.splitlines() if line.startswith("gateway_sandbox_crashes_total ")]
    return int(line.split()[1])


def test_a_split_that_fails_in_the_sandbox_is_logged_and_counted(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The sandbox's /tmp is made too small for the attachment: the child's write fails there (and
    only there), as a real crash inside the sandbox does."""
    spool = Spool(tmp_path / "spool")
    raw = ("From: a@example.jp\r\nTo: b@example.jp\r\nSubject: 添付\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           f"{PRIVATE_TEXT}\r\n--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(b"\0" * 3_000_000) + b"--b--\r\n"
    source = tmp_path / "in.eml"
    source.write_bytes(raw)
    assert metric(spool, tmp_path) == 0
    sanitizer = MailSanitizer(dataclasses.replace(Settings(), sandbox=SandboxSettings(tmp_size_mb=2)))
    try:
        with transfer("20250101T000000abcdef", spool.root), caplog.at_level(logging.ERROR):
            result = sanitizer.process(source)
    finally:
        sanitizer.close()
    assert (result.summary["outcome"], result.summary["reason_code"]) == ("rejected", "converter_crashed")
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.sandbox.crash_report"]
    assert line.startswith(f"sandboxed child crashed: transfer 20250101T000000abcdef, input sha256 "
                           f"{hashlib.sha256(raw).hexdigest()}, mail-split: OSError at pathlib.py:")
    assert " in write_bytes < converters/mail/split.py:" in line and " in _write_attachment < " in line
    assert "口座" not in caplog.text and "1234567" not in caplog.text and "No space" not in caplog.text
    assert metric(spool, tmp_path) == 1


def _crash_many(spool: str, count: int) -> None:
    with transfer("T", Path(spool)):
        for _ in range(count):
            report_crash("convert", "0" * 64, b'{"exit": 1}')


def test_workers_in_different_processes_add_to_one_counter(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_crash_many, args=(str(tmp_path), 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert crash_count(tmp_path) == 200


def test_outside_a_transfer_a_crash_is_logged_but_counted_nowhere(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        report_crash("inspect", "a" * 64, b'{"signal": 9}')
    assert "transfer -, input sha256 " + "a" * 64 + ", inspect: signal 9" in caplog.text
    assert crash_count(tmp_path) == 0


@pytest.mark.parametrize(("code", "expected"), [
    ("import json\ndef convert():\n    json.loads('口座番号 1234567')\nconvert()",
     "json.decoder.JSONDecodeError at decoder.py:"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "signal 11"),
    ("import sys\nsys.exit(3)", "exit 3"),
])
def test_a_per_job_sandbox_crash_is_logged_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture, code: str,
                                                      expected: str) -> None:
    """The per-job sandbox (large files, LibreOffice spares, rasterising) is diagnosed like a
    forked child: where it failed (never the exception's message), the transfer and the input's
    hash, and one count in /metrics."""
    from tests.gateway.sandbox.test_hostile_child import run_hostile

    spool = Spool(tmp_path / "spool")
    with transfer("20250101T000000fedcba", spool.root), caplog.at_level(logging.ERROR):
        result = run_hostile(monkeypatch, tmp_path, code)
    assert result["outcome"] == "blocked" and result["reason_code"] == "converter_crashed"
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.sandbox.crash_report"]
    digest = hashlib.sha256("本文\n".encode()).hexdigest()
    assert line.startswith(f"sandboxed child crashed: transfer 20250101T000000fedcba, input sha256 {digest}, "
                           f"sandboxed process: {expected}")
    assert "1234567" not in caplog.text and "口座" not in caplog.text
    assert crash_count(spool.root) == 1
