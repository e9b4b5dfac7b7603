"""Every form that changes something on the LGWAN side's pages (運用状況: verify, retry now; 管理:
user add/disable/password/role, token create/revoke), over HTTP against the running service: a
missing or wrong CSRF token is refused (403) and changes nothing, a role that may not act is
refused (403) and changes nothing; "retry now" on a deferred job moves it and is an operator
record with the web account. (The CSV export is a GET that changes nothing: not a form here.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.audit.log import AuditLog
from gateway.console.users import UserStore
from gateway.intake.tokens import TokenStore
from gateway.spool import Queue, Spool
from tests.gateway.console.conftest import PASSWORD, Gateway, form_csrf, login

ADMIN = "chief"
FORMS = [  # (path, the fields of a well-formed change but the CSRF token)
    ("/console/admin/users", {"action": "add", "name": "forged-new", "role": "admin", "password": PASSWORD}),
    ("/console/admin/users", {"action": "disable", "name": "staff-b"}),
    ("/console/admin/users", {"action": "password", "name": "staff-b", "password": "another long secret"}),
    ("/console/admin/users", {"action": "role", "name": "staff-b", "role": "admin"}),
    ("/console/admin/tokens", {"action": "create", "name": "forged-token", "role": "admin", "days": "30"}),
    ("/console/admin/tokens", {"action": "revoke", "name": "kept-token"}),
]


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Iterator[str]:
    users = UserStore.open(gateway.data)
    users.add(ADMIN, "admin", PASSWORD)
    users.close()
    tokens = TokenStore(gateway.data / "tokens.sqlite3")
    tokens.create("uploader", "kept-token", 30)
    tokens.close()
    yield ADMIN


def records(gateway: Gateway, event: str) -> list[dict[str, object]]:
    log = AuditLog(gateway.data / "audit.sqlite3")
    try:
        rows = [json.loads(row[0]) for row in log.db.query("SELECT record FROM audit ORDER BY seq")]
    finally:
        log.close()
    return [row for row in rows if row.get("event") == event]


def state(gateway: Gateway) -> tuple[list[list[object]], list[dict[str, Any]], int]:
    """What a change would change: the accounts (with their password hashes), the tokens, the access records."""
    users = UserStore.open(gateway.data)
    try:
        accounts = [list(row) for row in users.db.query("SELECT * FROM console_users ORDER BY name")]
    finally:
        users.close()
    tokens = TokenStore(gateway.data / "tokens.sqlite3")
    try:
        held = tokens.listing()
    finally:
        tokens.close()
    return accounts, held, len(records(gateway, "access"))


def deferred_job(gateway: Gateway) -> str:
    """A mail waiting in ``deferred`` for its next attempt in an hour (as a failed delivery leaves it)."""
    spool = Spool(gateway.data / "spool")
    envelope = {"mail_from": "a@example.com", "rcpt_tos": ["b@example.lg.jp"], "attempts": 3,
                "first_attempt": time.time() - 600, "next_attempt": time.time() + 3600}
    job_id = spool.stage(envelope, b"From: a@example.com\r\nTo: b@example.lg.jp\r\nSubject: x\r\n\r\nbody\r\n")
    spool.commit(job_id, Queue.DEFERRED)
    return job_id


def test_admin_forms_refuse_a_missing_or_wrong_csrf_token_and_change_nothing(gateway: Gateway, admin: str) -> None:
    chief = login(gateway.lgwan, admin)
    assert chief.get("/console/admin").status_code == 200
    before = state(gateway)
    for path, fields in FORMS:
        for token in ({}, {"csrf": "forged"}, {"csrf": ""}):
            answer = chief.post(path, data={**fields, **token})
            assert answer.status_code == 403, (path, fields, token, answer.status_code)
    assert state(gateway) == before


def test_admin_forms_refuse_roles_that_may_not_change_accounts(gateway: Gateway, admin: str) -> None:
    before = state(gateway)
    for name in ("auditor", "staff-a"):
        browser = login(gateway.lgwan, name)
        csrf = form_csrf(browser.get("/console/receive").text)  # the account's own, valid token
        assert browser.get("/console/admin").status_code == 403
        for path, fields in FORMS:
            assert browser.post(path, data={**fields, "csrf": csrf}).status_code == 403, (name, path, fields)
    anonymous = httpx.Client(base_url=gateway.lgwan, follow_redirects=False)
    for path, fields in FORMS:
        assert anonymous.post(path, data={**fields, "csrf": "x"}).headers["location"] == "/console/login"
    after = state(gateway)
    assert after[:2] == before[:2]  # only the logins were recorded
    assert after[2] == before[2] + 2


def test_admin_forms_do_change_with_the_right_token(gateway: Gateway, admin: str) -> None:
    # the refusals above are refusals of the token or the role, not of a form that never works
    chief = login(gateway.lgwan, admin)
    csrf = form_csrf(chief.get("/console/admin").text)
    added = chief.post("/console/admin/users", data={"action": "add", "name": "newcomer", "role": "uploader",
                                                     "password": PASSWORD, "csrf": csrf})
    assert added.status_code == 303 and added.headers["location"] == "/console/admin?done=user_added"
    assert chief.post("/console/admin/users", data={"action": "role", "name": "newcomer", "role": "auditor",
                                                    "csrf": csrf}).status_code == 303
    assert chief.post("/console/admin/users", data={"action": "disable", "name": "newcomer",
                                                    "csrf": csrf}).status_code == 303
    users = UserStore.open(gateway.data)
    try:
        assert next(u for u in users.listing() if u["name"] == "newcomer")["state"] == "disabled"
        assert users.role("newcomer") is None
    finally:
        users.close()
    subjects = [r["subject"] for r in records(gateway, "access") if r.get("user") == admin]
    assert "web user add newcomer (uploader)" in subjects and "web user disable newcomer" in subjects


def test_verify_needs_the_token_and_a_reviewing_role(gateway: Gateway, admin: str) -> None:
    auditor = login(gateway.lgwan, "auditor")
    csrf = form_csrf(auditor.get("/console/status").text)
    assert auditor.post("/console/status/verify", data={}).status_code == 403
    assert auditor.post("/console/status/verify", data={"csrf": "forged"}).status_code == 403
    done = auditor.post("/console/status/verify", data={"csrf": csrf})
    assert done.status_code == 200 and '<p class="ok" role="status" id="verified">' in done.text
    staff = login(gateway.lgwan, "staff-a")
    staff_csrf = form_csrf(staff.get("/console/receive").text)
    assert staff.post("/console/status/verify", data={"csrf": staff_csrf}).status_code == 403


def test_retry_now_needs_the_token_and_an_administrator_then_moves_the_job_and_is_recorded(
        gateway: Gateway, admin: str) -> None:
    job = deferred_job(gateway)
    waiting = gateway.data / "spool" / "deferred" / job
    auditor = login(gateway.lgwan, "auditor")
    page = auditor.get("/console/status").text
    assert job in page and "/console/status/retry" not in page  # an auditor is shown no retry button
    assert auditor.post("/console/status/retry", data={"id": job, "csrf": form_csrf(page)}).status_code == 403
    chief = login(gateway.lgwan, admin)
    page = chief.get("/console/status").text
    assert job in page and "/console/status/retry" in page
    assert chief.post("/console/status/retry", data={"id": job}).status_code == 403
    assert chief.post("/console/status/retry", data={"id": job, "csrf": "forged"}).status_code == 403
    assert waiting.is_dir() and json.loads((waiting / "envelope.json").read_text())["next_attempt"] > time.time()
    assert not [r for r in records(gateway, "operator") if r.get("transfer_id") == job]

    answer = chief.post("/console/status/retry", data={"id": job, "csrf": form_csrf(page)})
    assert answer.status_code == 303 and answer.headers["location"] == f"/console/status?done=retried&job={job}"
    # due now: gone from deferred, or (its next attempt failed at once) back with a new, later retry time
    assert not waiting.is_dir() or "next_attempt" not in json.loads((waiting / "envelope.json").read_text()) \
        or json.loads((waiting / "envelope.json").read_text()).get("attempts", 0) > 3
    [record] = [r for r in records(gateway, "operator") if r.get("transfer_id") == job]
    assert record["operator"] == admin and record["detail"] == f"retry by {admin}: from deferred to outbox"
    assert record["delivery_status"] == "queued"
    again = chief.post("/console/status/retry", data={"id": "0" * 32, "csrf": form_csrf(page)})
    assert again.headers["location"] == f"/console/status?done=gone&job={'0' * 32}"


def test_purge_from_the_browser_needs_an_administrator_the_token_and_a_confirmation(
        gateway: Gateway, admin: str) -> None:
    """``gateway audit purge --before`` from 運用状況: admins only, CSRF, a date and a ticked box;
    the purge keeps the chain verifiable and says who did it."""
    auditor = login(gateway.lgwan, "auditor")
    page = auditor.get("/console/status").text
    assert "/console/status/purge" not in page  # not shown to an auditor, and refused if sent
    assert auditor.post("/console/status/purge", data={"csrf": form_csrf(page), "before": "2000-01-01",
                                                       "confirm": "yes"}).status_code == 403
    chief = login(gateway.lgwan, admin)
    csrf = form_csrf(chief.get("/console/status").text)
    assert chief.post("/console/status/purge", data={"before": "2000-01-01", "confirm": "yes"}).status_code == 403
    assert chief.post("/console/status/purge", data={"csrf": csrf, "before": "2000-01-01"}).status_code == 400
    assert chief.post("/console/status/purge", data={"csrf": csrf, "before": "last week",
                                                     "confirm": "yes"}).status_code == 400
    before = len(list(AuditLog(gateway.data / "audit.sqlite3").records()))
    done = chief.post("/console/status/purge", data={"csrf": csrf, "before": "2000-01-01", "confirm": "yes"})
    assert done.status_code == 200 and 'id="purged"' in done.text  # nothing that old: 0 records, nothing lost
    log = AuditLog(gateway.data / "audit.sqlite3")
    assert len(list(log.records())) == before + 1 and log.verify().ok
    [purge] = [r for r in log.records() if str(r.get("subject", "")).startswith("web purge")]
    assert purge["user"] == admin and purge["detail"] == "0 records purged"
