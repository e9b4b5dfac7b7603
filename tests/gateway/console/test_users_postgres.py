"""Console accounts and sessions on PostgreSQL (the database several nodes share): an account
made on one node logs in on another, a session made on one is found on the other, and ending it
or disabling the account ends it everywhere. A real server on loopback (tests/gateway/audit/)."""

from __future__ import annotations

from pathlib import Path

from gateway.console.sessions import SessionStore
from gateway.console.users import UserStore, open_users_database
from tests.gateway.audit.test_postgres import database, server  # noqa: F401 (the fixtures)
from tests.gateway.console.conftest import PASSWORD


def test_accounts_and_sessions_are_shared_by_the_nodes(database: str, tmp_path: Path) -> None:  # noqa: F811
    first, second = open_users_database(tmp_path / "a", database), open_users_database(tmp_path / "b", database)
    UserStore(first).add("総務課-山田", "uploader", PASSWORD)
    who = UserStore(second).authenticate("総務課-山田", PASSWORD)
    assert who is not None and who.role == "uploader"
    assert not (tmp_path / "a" / "users.sqlite3").exists()  # nothing went to SQLite
    session_id, csrf = SessionStore(first, "lgwan", 600, 3600).create("総務課-山田")
    on_second = SessionStore(second, "lgwan", 600, 3600)
    found = on_second.lookup(session_id)
    assert found is not None and found.csrf == csrf
    on_second.end(session_id)
    assert SessionStore(first, "lgwan", 600, 3600).lookup(session_id) is None
    again, _ = SessionStore(first, "lgwan", 600, 3600).create("総務課-山田")
    UserStore(second).disable("総務課-山田")
    assert SessionStore(first, "lgwan", 600, 3600).lookup(again) is None
    assert [row["state"] for row in UserStore(first).listing()] == ["disabled"]
    first.close()
    second.close()
