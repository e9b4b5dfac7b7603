"""The audit log on PostgreSQL, the store several gateway nodes share: a real server started on
loopback for these tests. The same chain guarantees as on SQLite, appends from two nodes at once
still make one chain, and a node with another key is refused."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller

from gateway.audit.log import AuditLog
from gateway.errors import AuditKeyMismatch, AuditUnavailable
from gateway.intake.tokens import Identity, TokenStore
from tests.gateway.test_service import Sink, free_port, relay, start_service, wait_for

DATABASES = count()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster (trust authentication, loopback only); its base URL."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert binaries, "PostgreSQL is missing: scripts/setup.sh installs it"
    folder = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "nobody", "nogroup")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    subprocess.run([*as_user, f"{binaries[-1]}/initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "gateway",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    port = free_port()
    process = subprocess.Popen([*as_user, f"{binaries[-1]}/postgres", "-D", str(folder / "data"), "-p", str(port),
                                "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://gateway@127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            psycopg.connect(f"{url}/postgres").close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(server: str) -> str:
    name = f"audit_{next(DATABASES)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture
def log(database: str, tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "unused.sqlite3", tmp_path / "audit.key", database=database)
    for index in range(5):
        audit.append("received", f"t{index}", channel="smtp", sender="a@example.jp", subject=f"件名{index} ①㈱")
        audit.append("sanitized", f"t{index}", outcome="sanitized", findings=["vba_macro_removed"])
    yield audit
    audit.close()


def test_the_chain_verifies_and_tampering_is_named(log: AuditLog, database: str) -> None:
    assert log.verify().ok and log.verify().records == 10
    assert not (log.path).exists()  # nothing went to SQLite
    with psycopg.connect(database, autocommit=True) as raw:
        with pytest.raises(psycopg.errors.RaiseException):
            raw.execute("UPDATE audit SET record = 'x' WHERE seq = 1")  # refused by the database
        raw.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_update")  # what a database admin could do
        record = raw.execute("SELECT record FROM audit WHERE seq = 3").fetchone()[0]  # type: ignore[index]
        raw.execute("UPDATE audit SET record = %s WHERE seq = 3", (record.replace("件名1", "件名X"),))
        edited = log.verify()
        assert (edited.ok, edited.first_broken) == (False, 3) and "altered" in edited.problem
        raw.execute("UPDATE audit SET record = %s WHERE seq = 3", (record,))
        raw.execute("DELETE FROM audit WHERE seq = 6")
        deleted = log.verify()
        assert (deleted.ok, deleted.first_broken) == (False, 6) and "missing" in deleted.problem


def test_purge_keeps_the_rest_verifiable(log: AuditLog) -> None:
    cutoff = list(log.records())[4]["time"]
    assert log.purge_before(cutoff) >= 1 and log.verify().ok
    log.append("delivered", "t4", delivery_status="delivered")
    assert log.verify().ok and [r["event"] for r in log.records()][-2:] == ["purged", "delivered"]


def test_two_nodes_appending_at_once_make_one_chain(database: str, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    first = AuditLog(tmp_path / "a.sqlite3", key, database=database)
    second = AuditLog(tmp_path / "b.sqlite3", key, database=database)  # another node, the same key (copied)

    def append(node: AuditLog, name: str) -> None:
        for index in range(40):
            node.append("received", f"{name}-{index}", channel="smtp")

    threads = [threading.Thread(target=append, args=(node, name)) for node, name in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = first.verify()
    assert result.ok and result.records == 80 and second.verify().ok
    first.close()
    second.close()


def test_a_node_with_another_key_is_refused(database: str, tmp_path: Path) -> None:
    AuditLog(tmp_path / "a.sqlite3", tmp_path / "first.key", database=database).close()
    with pytest.raises(AuditKeyMismatch, match="copy of the first node's key"):
        AuditLog(tmp_path / "b.sqlite3", tmp_path / "other.key", database=database)


def test_the_service_and_the_audit_command_use_the_shared_log(database: str, samples: Path, tmp_path: Path) -> None:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    service = start_service(tmp_path, port, audit_database=database)
    try:
        relay(service, (samples / "mail-outlook-iso2022jp.eml").read_bytes())
        wait_for(lambda: len(sink.messages) == 1)
        wait_for(lambda: any(r["event"] == "delivered" for r in service.audit.records()))
    finally:
        service.stop()
        controller.stop()
    assert not (tmp_path / "data" / "audit.sqlite3").exists()
    config = tmp_path / "gateway.toml"
    config.write_text(f'[serve]\naudit_database = "{database}"\n', encoding="utf-8")

    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "audit", *args, "--config", str(config),
                               "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=120)

    verified = audit("verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
    listing = audit("list").stdout
    assert "【見積】①㈱サンプル御中" in listing and "vba_macro_removed" in listing


def test_a_dropped_connection_is_opened_again(log: AuditLog, database: str, server: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (database.rsplit("/", 1)[1],))
    log.append("received", "after-reconnect")  # tried once more on a fresh connection
    assert log.verify().ok and [r["transfer_id"] for r in log.records()][-1] == "after-reconnect"


def test_tokens_are_shared_by_the_nodes(database: str, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[serve]\naudit_database = "{database}"\n', encoding="utf-8")

    def token(node: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "token", *args, "--config", str(config),
                               "--data-dir", str(tmp_path / node)], capture_output=True, text=True, timeout=120)

    (tmp_path / "node-b").mkdir()
    created = token("node-a", "create", "--role", "uploader", "--name", "総務課")
    assert created.returncode == 0
    secret = created.stdout.strip()
    node_b = TokenStore(tmp_path / "node-b" / "tokens.sqlite3", database)  # another node, its own data dir
    assert node_b.identify(secret) == Identity("総務課", "uploader")
    assert token("node-a", "revoke", "--name", "総務課").returncode == 0
    assert node_b.identify(secret) is None
    assert not (tmp_path / "node-a" / "tokens.sqlite3").exists()
    (tmp_path / "node-b" / "audit.key").write_bytes((tmp_path / "node-a" / "audit.key").read_bytes())
    shared = AuditLog(tmp_path / "node-b" / "audit.sqlite3", database=database)
    assert [r["subject"] for r in shared.records() if r["event"] == "access"] == [
        "総務課: uploader token created, valid 90 days", "総務課: 1 token(s) revoked"]
    shared.close()
    node_b.close()


def test_tokens_made_before_the_nodes_shared_a_database_keep_working(database: str, tmp_path: Path) -> None:
    local = TokenStore(tmp_path / "tokens.sqlite3")
    secret = local.create("auditor", "監査担当")
    local.close()
    shared = TokenStore(tmp_path / "tokens.sqlite3", database)
    assert shared.identify(secret) == Identity("監査担当", "auditor")
    assert not (tmp_path / "tokens.sqlite3").exists()
    assert (tmp_path / "tokens.sqlite3.moved-to-shared-database").exists()
    shared.close()


def test_a_token_is_not_made_when_its_creation_cannot_be_audited(database: str, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[serve]\naudit_database = "{database}"\n', encoding="utf-8")
    AuditLog(tmp_path / "first" / "audit.sqlite3", database=database).close()  # the log's key is node "first"'s
    made = subprocess.run([sys.executable, "-m", "gateway", "token", "create", "--role", "admin", "--config",
                           str(config), "--data-dir", str(tmp_path / "second")], capture_output=True, text=True,
                          timeout=120)
    assert made.returncode != 0 and "audit_key_mismatch" in made.stderr + made.stdout and not made.stdout.strip()
    assert TokenStore(tmp_path / "second" / "tokens.sqlite3", database).listing() == []


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuditUnavailable, match=r"the audit database 127\.0\.0\.1:\d+/audit cannot be used"):
        AuditLog(tmp_path / "audit.sqlite3", database=f"postgresql://gateway@127.0.0.1:{free_port()}/audit")


def test_audit_show_finds_transfers_on_postgresql(log: AuditLog) -> None:
    from gateway.audit import records

    exe = {"input": "請求書.pdf.exe", "sha256": "ab" * 32, "size": 268, "type": "application/x-dosexec",
           "outcome": "blocked", "outputs": [], "findings": [], "reason_code": "executable"}
    log.append("received", "m_1", channel="smtp", sender="a@example.jp", recipients=["b@x.lg.jp"])
    part = records.part("m_1", 1, "attachment", exe)
    log.append(part.event, part.transfer_id, **part.stored())
    log.append("sanitized", "m_1", key="outcome", outcome="accepted", input_sha256="c0ffee" + "0" * 58,
               message_id="<50%_off@example.jp>")
    for reference in ("GW-C0FFEE000000", "ab" * 32, "50%_off@example.jp", "<50%_off@example.jp>", "m_1"):
        assert log.find(reference) == ["m_1"], reference
    assert log.find("m_") == [] and log.find("50%@example.jp") == []  # LIKE's wildcards are taken literally
    assert [r["event"] for r in log.timeline("m_1")] == ["received", "blocked", "sanitized"]
    assert log.head()[0] == 13 and log.head()[2] == 13
