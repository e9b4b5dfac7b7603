"""Console accounts and sessions: Argon2id hashes, roles, disabling, password changes, idle and
absolute timeouts, session ids kept only as hashes; ``gateway user`` and its audit records."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.cli.main import main
from gateway.console.sessions import SessionStore
from gateway.console.users import AccountError, UserStore, open_users_database

PASSWORD = "correct horse battery"  # noqa: S105 (the test accounts')


def test_accounts_keep_only_an_argon2id_hash_and_check_it(tmp_path: Path) -> None:
    users = UserStore.open(tmp_path)
    users.add("総務課-山田", "uploader", PASSWORD)
    stored = users.db.query("SELECT password FROM console_users")[0][0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    who = users.authenticate("総務課-山田", PASSWORD)
    assert who is not None and (who.name, who.role) == ("総務課-山田", "uploader")
    assert users.authenticate("総務課-山田", PASSWORD + "x") is None
    assert users.authenticate("nobody", PASSWORD) is None
    with pytest.raises(AccountError, match="exists"):
        users.add("総務課-山田", "auditor", PASSWORD)
    with pytest.raises(AccountError, match="at least 12"):
        users.add("short", "uploader", "abc")
    with pytest.raises(AccountError, match="role"):
        users.add("boss", "root", PASSWORD)
    with pytest.raises(AccountError, match="printable"):
        users.add(" padded", "uploader", PASSWORD)
    users.disable("総務課-山田")
    assert users.authenticate("総務課-山田", PASSWORD) is None
    assert [row["state"] for row in users.listing()] == ["disabled"]
    assert "$argon2" not in json.dumps(users.listing())


def test_sessions_end_when_idle_too_long_or_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = open_users_database(tmp_path)
    UserStore(db).add("staff", "uploader", PASSWORD)
    now = [1_000_000.0]
    monkeypatch.setattr("gateway.console.sessions.time.time", lambda: now[0])
    store = SessionStore(db, "internet", idle_seconds=600, max_seconds=3600)
    session_id, csrf = store.create("staff")
    assert session_id not in json.dumps(db.query("SELECT * FROM console_sessions"))  # only its hash is kept
    found = store.lookup(session_id)
    assert found is not None and (found.name, found.role, found.csrf) == ("staff", "uploader", csrf)
    assert SessionStore(db, "lgwan", 600, 3600).lookup(session_id) is None  # each side its own sessions
    for _ in range(7):  # busy: every 9 minutes a request, so never idle, until the absolute limit
        now[0] += 540
        alive = store.lookup(session_id)
        assert (alive is not None) == (now[0] - 1_000_000.0 <= 3600)
    assert store.lookup(session_id) is None
    idle_id, _ = store.create("staff")
    now[0] += 601
    assert store.lookup(idle_id) is None


def test_a_login_drops_the_previous_id_and_a_password_change_ends_every_session(tmp_path: Path) -> None:
    db = open_users_database(tmp_path)
    users = UserStore(db)
    users.add("staff", "uploader", PASSWORD)
    store = SessionStore(db, "internet", 600, 3600)
    first, _ = store.create("staff")
    second, _ = store.create("staff", previous=first)
    assert store.lookup(first) is None and store.lookup(second) is not None
    users.set_password("staff", "another good passphrase")
    assert store.lookup(second) is None
    third, _ = store.create("staff")
    users.disable("staff")
    assert store.lookup(third) is None


def test_user_command_adds_lists_disables_and_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "--name", "staff", "--role", "uploader", "--password-stdin",
                 "--data-dir", str(data)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "--name", "other", "--role", "uploader", "--password-stdin",
                 "--data-dir", str(data)]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase\n"))
    assert main(["user", "passwd", "--name", "staff", "--password-stdin", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert main(["user", "list", "--data-dir", str(data)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["role"], r["state"]) for r in rows] == [("staff", "uploader", "active")]
    assert main(["user", "disable", "--name", "nobody", "--data-dir", str(data)]) == 3
    assert main(["user", "disable", "--name", "staff", "--data-dir", str(data)]) == 0
    assert UserStore.open(data).authenticate("staff", "a brand new passphrase") is None
    log = AuditLog(data / "audit.sqlite3")
    subjects = [json.loads(row[0]).get("subject") for row in log.db.query("SELECT record FROM audit ORDER BY seq")]
    assert subjects == ["user staff: uploader account added", "user staff: password changed",
                        "user staff: account disabled"]  # nothing for what was refused
