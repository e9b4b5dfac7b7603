"""API tokens: expiry, revocation, listing without secrets, the upgrade of an older token file,
the CLI (audited), and the failed-login limit."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.cli.main import main
from gateway.intake import throttle as auth_throttle
from gateway.intake import tokens
from gateway.intake.throttle import AuthThrottle
from gateway.intake.tokens import TokenStore


def test_a_token_expires_and_can_be_revoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path / "tokens.sqlite3")
    short = store.create("uploader", "staff-1", valid_days=1)
    other = store.create("auditor", "audit-1")
    assert store.identify(short) == tokens.Identity("staff-1", "uploader")
    later = datetime.now(UTC) + timedelta(days=1, seconds=5)
    monkeypatch.setattr(tokens, "_now", lambda: later)
    assert store.identify(short) is None  # expired after its one day
    assert store.identify(other) is not None  # the default is 90 days
    assert store.revoke("audit-1") == 1 and store.identify(other) is None
    assert store.revoke("audit-1") == 0
    states = {row["name"]: row["state"] for row in store.listing()}
    assert states == {"staff-1": "expired", "audit-1": "revoked"}
    listed = json.dumps(store.listing())
    assert short not in listed and hashlib.sha256(short.encode()).hexdigest() not in listed
    with pytest.raises(ValueError):
        store.create("uploader", "x", valid_days=0)
    with pytest.raises(ValueError):
        store.create("root", "x")


def test_an_older_token_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, "
               "created TEXT DEFAULT CURRENT_TIMESTAMP)")
    db.execute("INSERT INTO tokens (digest, name, role) VALUES (?, 'old', 'uploader')",
               (hashlib.sha256(b"old-token").hexdigest(),))
    db.execute("INSERT INTO tokens (digest, name, role, created) VALUES (?, 'ancient', 'admin', '2020-01-01 00:00:00')",
               (hashlib.sha256(b"ancient-token").hexdigest(),))
    db.commit()
    db.close()
    store = TokenStore(path)
    assert store.identify("old-token") == tokens.Identity("old", "uploader")  # 90 days from its creation
    assert store.identify("ancient-token") is None  # expired long ago
    assert {row["name"]: row["expires"] for row in store.listing()}["ancient"] == "2020-03-31T00:00:00+00:00"


def test_token_commands_print_once_list_revoke_and_are_audited(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "uploader", "--name", "総務課-田中", "--valid-days", "30",
                 "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert TokenStore(tmp_path / "tokens.sqlite3").identify(token) == tokens.Identity("総務課-田中", "uploader")
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["name"] == "総務課-田中" and row["state"] == "active" and token not in json.dumps(row)
    assert main(["token", "revoke", "--name", "総務課-田中", "--data-dir", str(tmp_path)]) == 0
    assert main(["token", "revoke", "--name", "総務課-田中", "--data-dir", str(tmp_path)]) == 3  # nothing left
    with pytest.raises(SystemExit) as usage:  # no role: argparse names the missing flag
        main(["token", "create", "--data-dir", str(tmp_path)])
    assert usage.value.code == 2
    assert main(["token", "create", "--role", "admin", "--valid-days", "0", "--data-dir", str(tmp_path)]) == 2
    log = AuditLog(tmp_path / "audit.sqlite3")
    access = [r["subject"] for r in log.records() if r["event"] == "access"]
    assert access == ["総務課-田中: uploader token created, valid 30 days", "総務課-田中: 1 token(s) revoked"]
    assert log.verify().ok
    log.close()


def test_failed_logins_are_limited_per_client_for_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("gateway.intake.throttle.time.monotonic", lambda: clock[0])
    throttle = AuthThrottle(max_failures=3, window_seconds=60)
    for _ in range(3):
        assert throttle.retry_after("192.0.2.1") == 0
        throttle.failed("192.0.2.1")
        clock[0] += 1
    assert 55 <= throttle.retry_after("192.0.2.1") <= 60
    assert throttle.retry_after("192.0.2.2") == 0  # another client is not affected
    clock[0] += 58
    assert throttle.retry_after("192.0.2.1") == 0  # the oldest failure left the window


def test_the_number_of_clients_remembered_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_throttle, "MAX_CLIENTS", 50)
    throttle = AuthThrottle(max_failures=2, window_seconds=60)
    for index in range(500):
        throttle.failed(f"198.51.100.{index}")
    assert len(throttle.failures) <= 50


def test_a_flood_of_addresses_cannot_free_a_refused_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_throttle, "MAX_CLIENTS", 100)
    throttle = AuthThrottle(max_failures=10, window_seconds=300)
    for _ in range(10):
        throttle.failed("192.0.2.1")
    for index in range(1000):
        throttle.failed(f"10.{index // 250}.{index % 250}.1")
    assert throttle.retry_after("192.0.2.1") > 0 and len(throttle.failures) <= 100


def test_ipv6_clients_count_per_64() -> None:
    throttle = AuthThrottle(max_failures=3, window_seconds=300)
    for host in range(3):  # three addresses of one /64, as one host may use
        throttle.failed(f"2001:db8:1:2::{host + 1}")
    assert throttle.retry_after("2001:db8:1:2::ffff") > 0 and throttle.retry_after("2001:db8:1:3::1") == 0
    assert throttle.retry_after("::ffff:192.0.2.9") == 0


def test_an_interrupted_upgrade_is_finished_next_time(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, "
               "created TEXT DEFAULT CURRENT_TIMESTAMP, expires TEXT)")  # the column came, its values did not
    db.execute("INSERT INTO tokens (digest, name, role) VALUES (?, 'old', 'uploader')",
               (hashlib.sha256(b"old-token").hexdigest(),))
    db.commit()
    db.close()
    assert TokenStore(path).identify("old-token") == tokens.Identity("old", "uploader")


def test_the_token_database_made_by_the_command_is_private(tmp_path: Path) -> None:
    import os
    import stat
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    old = os.umask(0o022)
    try:
        subprocess.run([sys.executable, "-m", "gateway", "token", "create", "--data-dir", str(data),
                        "--name", "監査担当", "--role", "auditor"], check=True, capture_output=True, timeout=60)
    finally:
        os.umask(old)
    made = [p for p in data.rglob("*") if p.is_file()]
    assert made and all(not stat.S_IMODE(p.stat().st_mode) & 0o077 for p in made), made


def test_the_command_gives_the_callers_umask_back(tmp_path: Path) -> None:
    """main() run in-process (a script, a test) must not leave the private umask behind: files the
    trusted side hands to a sandboxed child under another uid would become unreadable to it."""
    import os

    from gateway.cli.main import main

    previous = os.umask(0o022)
    try:
        assert main(["token", "list", "--data-dir", str(tmp_path)]) == 0
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(previous)


def test_an_identity_is_limited_apart_from_its_address_and_unlocks_come_from_another_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("gateway.intake.throttle.time.monotonic", lambda: clock[0])
    throttle = AuthThrottle(max_failures=3, window_seconds=300, unlock_dir=tmp_path / "auth-unlock")
    for _ in range(3):
        throttle.identity_failed("総務課-田中")
    assert throttle.identity_retry_after("総務課-田中") > 0
    assert throttle.identity_retry_after("総務課-佐藤") == 0 and throttle.retry_after("192.0.2.1") == 0
    for _ in range(3):
        throttle.failed("2001:db8:1:2::1")
    auth_throttle.request_unlock(tmp_path / "auth-unlock", "user:総務課-田中")  # as `gateway auth unlock` does
    auth_throttle.request_unlock(tmp_path / "auth-unlock", "2001:db8:1:2::99")  # the same /64
    clock[0] += 2  # read at most once a second
    assert throttle.identity_retry_after("総務課-田中") == 0 and throttle.retry_after("2001:db8:1:2::1") == 0
    assert not list((tmp_path / "auth-unlock").iterdir())  # each request is used once
