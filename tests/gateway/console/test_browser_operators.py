"""The operators' pages clicked through in a real browser (Debian's headless Chromium through
Selenium, as test_browser.py): an auditor finds a transfer by its hash in the 転送ログ, opens its
detail and exports the search as CSV (the file read back: BOM, CRLF, the export's columns); hostile
subjects, senders and file names are shown as text on the list and the detail; an uploader has
no link to the log and gets 403 for the log, a transfer's detail, the status and the admin page;
an administrator verifies the audit chain and reads its head hash, retries nothing it may not,
adds a user and creates a token (shown once) - each change an audit record. No page may break
the Content-Security-Policy. Screenshots go to $CONSOLE_SCREENSHOTS (or the test's temp dir)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.audit.rows import EXPORT_COLUMNS
from gateway.console.users import UserStore
from tests.gateway.console.conftest import PASSWORD, Gateway, login, wait_done
from tests.gateway.console.test_browser import browser, log_in, log_out, policy_violations, wait_for  # noqa: F401
from tests.gateway.console.test_pages import upload

pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

HOSTILE_SUBJECT = "<script>alert('件名')</script>見積"
HOSTILE_SENDER = "evil<img src=x onerror=alert(5)>@example.com"
HOSTILE_NAME = "<script>alert(4)</script>名簿.txt"


def hostile_mail(gateway: Gateway) -> None:
    """A mail transfer whose subject, sender and attachment name are markup (as the pipeline records one)."""
    log = AuditLog(gateway.data / "audit.sqlite3")
    try:
        recorder = Recorder(log)
        transfer = "hostile0000000000000000000000001"
        recorder.write(records.received_mail(transfer, {"client_ip": "192.0.2.9", "sender": HOSTILE_SENDER,
                                                        "recipients": ["kikaku@example.lg.jp"]}, 999))
        summary = {"attachments": [{"input": HOSTILE_NAME, "sha256": "ab" * 32, "outcome": "blocked",
                                    "reason_code": "script", "reason": "a script"}],
                   "subject": HOSTILE_SUBJECT, "message_id": "<h@example.com>", "from": HOSTILE_SENDER,
                   "sha256": "ee" * 32, "findings": []}
        recorder.write(*records.attachments(transfer, summary), records.mail_sanitized(transfer, summary, b"m"))
    finally:
        log.close()


def access_subjects(gateway: Gateway) -> list[str]:
    log = AuditLog(gateway.data / "audit.sqlite3")
    try:
        rows = [json.loads(r[0]) for r in log.db.query("SELECT record FROM audit ORDER BY seq")]
    finally:
        log.close()
    return [str(r.get("subject")) for r in rows if r.get("event") == "access" and r.get("channel") == "web"]


def no_alert(driver: Any) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (asking is the check)


def test_auditor_uploader_and_admin_on_the_operators_pages(gateway: Gateway, browser: Any, samples: Path,  # noqa: F811
                                                           tmp_path: Path) -> None:
    started = time.monotonic()
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    users = UserStore.open(gateway.data)
    users.add("管理者-鈴木", "admin", PASSWORD)
    users.close()
    program = (samples / "exe-stub.exe").read_bytes()
    staff = login(gateway.internet, "staff-a")
    transfer = upload(staff, "setup.exe", program)
    other = upload(staff, HOSTILE_NAME, "ただのテキスト\n".encode())
    for done in (transfer, other):
        wait_done(staff, done)
    hostile_mail(gateway)

    # an auditor finds the upload by the program's SHA-256 and opens it
    log_in(browser, gateway.lgwan, "auditor")
    browser.find_element(By.ID, "nav-log").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text == "転送ログ", what="the log page")
    browser.find_element(By.ID, "sha256").send_keys(hashlib.sha256(program).hexdigest())
    browser.find_element(By.ID, "search").click()
    wait_for(lambda: "sha256=" in browser.current_url, what="the search sent")  # (the page before has rows too)
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"), what="the result")
    assert [row.get_attribute("data-id") for row in rows] == [transfer]
    assert "GW-" in rows[0].text and "staff-a" in rows[0].text
    rows[0].find_element(By.TAG_NAME, "a").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text == "転送の詳細", what="the detail page")
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "setup.exe" in page and "executable" in page and "プログラム（実行ファイル）" in page
    assert hashlib.sha256(program).hexdigest() in page
    assert next(cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#timeline tbody td:nth-child(3)")) \
        .startswith("received")
    browser.save_screenshot(str(shots / "05-log-detail.png"))

    # the same search as CSV, read back as Excel would read it
    browser.back()
    wait_for(lambda: browser.find_elements(By.ID, "export"), what="the export link")
    browser.find_element(By.ID, "export").click()
    saved = wait_for(lambda: [p for p in browser.downloads.iterdir() if p.suffix == ".csv"], 20, "the CSV")
    raw = saved[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    exported = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    assert list(exported[0]) == list(EXPORT_COLUMNS)
    assert [row["id"] for row in exported] == [transfer]
    assert json.loads(exported[0]["blocked"]) == ["executable"] and exported[0]["outcome"] == "blocked"
    assert json.loads(exported[0]["parts"])[0]["sha256"] == hashlib.sha256(program).hexdigest()
    assert any(s == "web export" for s in access_subjects(gateway))

    # hostile text from mail and file names: shown as the text it is, on the list and the detail
    browser.get(f"{gateway.lgwan}/console/log?name=script")
    table = browser.find_element(By.ID, "results")
    assert HOSTILE_SUBJECT in table.text and HOSTILE_SENDER in table.text  # (the upload's name was made safe)
    assert not table.find_elements(By.TAG_NAME, "script") and not table.find_elements(By.TAG_NAME, "img")
    browser.save_screenshot(str(shots / "06-log-search.png"))
    browser.find_element(By.CSS_SELECTOR, "tr[data-id='hostile0000000000000000000000001'] a").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text == "転送の詳細", what="the hostile detail")
    main = browser.find_element(By.TAG_NAME, "main")
    assert HOSTILE_SUBJECT in main.text and HOSTILE_NAME in main.text
    assert not main.find_elements(By.TAG_NAME, "script") and not main.find_elements(By.TAG_NAME, "img")
    no_alert(browser)
    log_out(browser)

    # an uploader: no link, and 403 for every operator page (and a transfer's detail)
    log_in(browser, gateway.lgwan, "staff-a")
    assert not browser.find_elements(By.ID, "nav-log") and not browser.find_elements(By.ID, "nav-admin")
    for path in ("/console/log", f"/console/log/{transfer}", "/console/log/export.csv", "/console/status",
                 "/console/admin"):
        browser.get(f"{gateway.lgwan}{path}")
        assert browser.find_element(By.TAG_NAME, "h1").text == "この操作は許可されていません。", path
    log_out(browser)

    # an administrator: verify the chain and read its head hash; add a user; create a token
    log_in(browser, gateway.lgwan, "管理者-鈴木")
    browser.find_element(By.ID, "nav-status").click()
    wait_for(lambda: browser.find_elements(By.ID, "verify"), what="the status page")
    browser.find_element(By.ID, "verify").click()
    verified = wait_for(lambda: browser.find_elements(By.ID, "verified"), what="the verification")[0]
    assert verified.text.startswith("検証しました: 改ざんはありません")
    head = browser.find_element(By.ID, "head-hash").text
    log = AuditLog(gateway.data / "audit.sqlite3")
    try:
        assert len(head) == 64 and head in {r["hash"] for r in log.records()}
    finally:
        log.close()
    assert browser.find_element(By.CSS_SELECTOR, "svg.chart rect.series-upload")  # drawn on the server
    browser.save_screenshot(str(shots / "07-status.png"))
    browser.find_element(By.ID, "nav-admin").click()
    form = wait_for(lambda: browser.find_elements(By.ID, "add-user"), what="the admin page")[0]
    form.find_element(By.NAME, "name").send_keys("新人-佐藤")
    form.find_element(By.NAME, "password").send_keys("とても長いパスワード2026")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "done"), what="the user added")
    assert browser.find_element(By.CSS_SELECTOR, "tr[data-user='新人-佐藤']")
    form = browser.find_element(By.ID, "create-token")
    form.find_element(By.NAME, "name").send_keys("企画課スキャナ")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    token = wait_for(lambda: browser.find_elements(By.ID, "token-value"), what="the new token")[0].text
    browser.save_screenshot(str(shots / "08-admin.png"))
    answer = httpx.get(f"{gateway.internet}/api/v1/transfers/{transfer}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (403, 404)  # a valid uploader token: known, but not its transfer
    assert httpx.get(f"{gateway.internet}/api/v1/transfers/{transfer}",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    browser.refresh()  # the token is shown once: never again
    assert token not in browser.page_source
    subjects = access_subjects(gateway)
    assert "web user add 新人-佐藤 (uploader)" in subjects
    assert "web token create 企画課スキャナ (uploader, 90 days)" in subjects
    assert policy_violations(browser) == []
    assert time.monotonic() - started < 60
