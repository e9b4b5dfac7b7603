"""`gateway status` without a running service: a real clamd's status, a broken audit chain, and a
data directory that is not there. (With a running service: tests/gateway/cli/test_queue.py.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.cli.main import main
from gateway.cli.status import gather, screen
from gateway.config import AntivirusSettings, Settings
from tests.gateway.antivirus.daemons import Clamd


def test_status_shows_the_antivirus_engines_and_a_stopped_service(tmp_path: Path, clamd: Clamd) -> None:
    settings = Settings(antivirus=AntivirusSettings(engines="clamd", clamd=f"unix:{clamd.socket_path}",
                                                    max_signature_age_hours=0))
    (tmp_path / "gateway.lock").write_text("999999999\n")  # left by a service that is gone
    status = gather(settings, tmp_path, verify=False)
    assert status["service"] == {"running": False, "pid": None, "workers": []}
    assert status["queues"] is None and status["audit"] == {"present": False}
    [engine] = status["antivirus"]["engines"]
    assert engine["engine"] == "clamd" and engine["available"] and engine["version"]
    shown = screen(status)
    assert "NOT RUNNING" in shown and "antivirus   clamd:" in shown and ": ready" in shown
    assert not list(tmp_path.glob("spool")) and not (tmp_path / "audit.key").exists()  # it made nothing


def test_status_verify_reports_a_broken_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    for index in range(3):
        log.append("received", f"t{index}", channel="smtp")
    log.close()
    assert main(["status", "--data-dir", str(tmp_path), "--verify", "--json"]) == 0
    intact = json.loads(capsys.readouterr().out)["audit"]
    assert intact["records"] == 3 and intact["head_seq"] == 3 and intact["verified"] is True
    db = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute("UPDATE audit SET record = replace(record, 't1', 'tX') WHERE seq = 2")
    db.close()
    assert main(["status", "--data-dir", str(tmp_path), "--verify"]) == 3
    out = capsys.readouterr().out
    assert "CHAIN BROKEN" in out and "record 2" in out
    assert main(["status", "--data-dir", str(tmp_path / "missing")]) == 2
