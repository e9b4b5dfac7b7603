"""The console's pages over HTTP, against the running service: the login (CSRF, throttle, a new
session id, cookie flags), the security headers, uploads only with a session and its CSRF token,
an uploader seeing only its own transfers, escaping of hostile names, audited logins and
downloads, the English switch and /docs without a CDN."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import zipfile
from io import BytesIO
from pathlib import Path

import httpx

from gateway.audit.log import AuditLog
from gateway.pipeline.progress import write_progress
from gateway.spool.basics import lock_job
from tests.gateway.console.conftest import PASSWORD, Gateway, form_csrf, login, wait_done


def access_records(gateway: Gateway) -> list[dict[str, object]]:
    log = AuditLog(gateway.data / "audit.sqlite3")
    try:
        rows = [json.loads(row[0]) for row in log.db.query("SELECT record FROM audit ORDER BY seq")]
    finally:
        log.close()
    return [row for row in rows if row.get("event") == "access" and row.get("channel") == "web"]


def upload(browser: httpx.Client, name: str, content: bytes) -> str:
    page = browser.get("/console/upload")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf
    answer = browser.post("/console/api/transfers", files={"file": (name, content)},
                          headers={"X-CSRF-Token": csrf.group(1)})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_login_needs_its_form_token_and_gives_a_fresh_strict_session_cookie(gateway: Gateway) -> None:
    browser = httpx.Client(base_url=gateway.internet, follow_redirects=False)
    assert browser.get("/console/upload").headers["location"] == "/console/login"
    page = browser.get("/console/login")
    assert page.status_code == 200 and '<html lang="ja">' in page.text
    refused = browser.post("/console/login", data={"name": "staff-a", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 400 and "gw-session" not in refused.headers.get("set-cookie", "")
    browser.cookies.set("gw-session-internet", "planted-by-someone-else", domain="127.0.0.1")
    page = browser.get("/console/login")
    answer = browser.post("/console/login", data={"name": "staff-a", "password": PASSWORD,
                                                   "csrf": form_csrf(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/upload"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("gw-session-internet="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
    assert "planted-by-someone-else" not in cookie
    assert browser.get("/console/upload").status_code == 200
    planted = httpx.Client(base_url=gateway.internet, cookies={"gw-session-internet": "planted-by-someone-else"})
    assert planted.get("/console/upload", follow_redirects=False).status_code == 303


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(gateway: Gateway) -> None:
    # a TLS proxy on the same host says so in X-Forwarded-Proto (uvicorn believes it from 127.0.0.1 only)
    proxied = {"X-Forwarded-Proto": "https"}
    browser = httpx.Client(base_url=gateway.internet, follow_redirects=False, headers=proxied)
    page = browser.get("/console/login")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    login_cookie = page.headers["set-cookie"]
    assert login_cookie.startswith("__Host-gw-login-internet=") and "Secure" in login_cookie
    # the client speaks plain HTTP to the test server, so it keeps no Secure cookie: handed over as the browser would
    browser.cookies.set("__Host-gw-login-internet", login_cookie.split(";")[0].split("=", 1)[1], domain="127.0.0.1")
    answer = browser.post("/console/login", data={"name": "staff-a", "password": PASSWORD,
                                                   "csrf": form_csrf(page.text)})
    session = next(c for c in answer.headers.get_list("set-cookie") if "gw-session" in c)
    assert session.startswith("__Host-gw-session-internet=") and "Secure" in session and "HttpOnly" in session
    assert "strict-transport-security" not in httpx.get(f"{gateway.internet}/console/login").headers


def test_every_answer_carries_a_strict_content_security_policy(gateway: Gateway) -> None:
    for url in (f"{gateway.internet}/console/login", f"{gateway.lgwan}/console/login", f"{gateway.internet}/docs",
                f"{gateway.internet}/healthz"):
        headers = httpx.get(url).headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    page = httpx.get(f"{gateway.internet}/console/login").text
    assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_failed_logins_are_limited_per_name_and_address_and_every_attempt_is_audited(gateway: Gateway) -> None:
    outsider = {"X-Forwarded-For": "192.0.2.77"}  # as a proxy on this host names the client

    def attempt(name: str, password: str) -> httpx.Response:
        browser = httpx.Client(base_url=gateway.internet, follow_redirects=False, headers=outsider)
        page = browser.get("/console/login")
        return browser.post("/console/login", data={"name": name, "password": password, "csrf": form_csrf(page.text)})

    for _ in range(10):
        answer = attempt("guessed", "guessed wrong again")
        assert answer.status_code == 401 and "利用者名またはパスワードが違います" in answer.text
    answer = attempt("guessed", PASSWORD)  # the name is held back, right password or not
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    assert "gw-session" not in answer.headers.get("set-cookie", "") and "しばらくログインできません" in answer.text
    assert attempt("staff-b", "a wrong one").status_code == 429  # the address's failures are refused now
    assert attempt("staff-b", PASSWORD).status_code == 303  # but a colleague behind it still logs in
    failed = [r for r in access_records(gateway)
              if r["subject"] == "web login failed" and r["client_ip"] == "192.0.2.77"]
    assert len(failed) == 12 and [r["user"] for r in failed[:11]] == ["guessed"] * 11
    assert str(failed[10]["detail"]).endswith("refused by the failed-login limit")
    gateway.service.auth_throttle.unlock("user:guessed")  # what `gateway auth unlock --user` asks for
    assert attempt("guessed", PASSWORD).status_code == 303


def test_uploads_need_a_session_its_csrf_token_and_an_uploading_role(gateway: Gateway) -> None:
    files = {"file": ("a.txt", b"hello")}
    assert httpx.post(f"{gateway.internet}/console/api/transfers", files=files).status_code == 401
    staff = login(gateway.internet, "staff-a")
    assert staff.post("/console/api/transfers", files=files).status_code == 403
    assert staff.post("/console/api/transfers", files=files, headers={"X-CSRF-Token": "forged"}).status_code == 403
    auditor = login(gateway.internet, "auditor")
    page = auditor.get("/console/upload")
    assert "アップロードできません" in page.text and 'id="files"' not in page.text
    assert auditor.post("/console/api/transfers", files=files,
                        headers={"X-CSRF-Token": re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]}
                        ).status_code == 403
    assert httpx.post(f"{gateway.lgwan}/console/api/transfers", files=files).status_code in (404, 405)


def test_results_in_plain_words_only_for_their_uploader_and_audited_downloads(gateway: Gateway, samples: Path) -> None:
    staff = login(gateway.internet, "staff-a")
    macro = upload(staff, "見積書.xlsm", (samples / "xlsm-macro.xlsm").read_bytes())
    program = upload(staff, "setup.exe", (samples / "exe-stub.exe").read_bytes())
    sanitized, blocked = wait_done(staff, macro), wait_done(staff, program)
    assert isinstance(sanitized["files"], list) and isinstance(blocked["files"], list)
    [file] = sanitized["files"]
    assert file["state"] == "sanitized" and "マクロ（VBA）を取り除きました。" in file["removed"]
    assert file["reference"].startswith("GW-") and file["outputs"][0]["name"] == "見積書.xlsx"
    [file] = blocked["files"]
    assert file["state"] == "blocked" and file["reason"].startswith("プログラム（実行ファイル）のため")
    english = staff.get(f"/console/api/transfers/{program}?lang=en").json()
    assert english["files"][0]["reason"] == "It is a program (an executable), which may not enter LGWAN."

    receiving = login(gateway.lgwan, "staff-a")
    page = receiving.get("/console/receive").text
    assert page.index(program) < page.index(macro)  # newest first
    assert "プログラム（実行ファイル）のため" in page and f"/console/transfers/{macro}/files/0" in page
    download = receiving.get(f"/console/transfers/{macro}/files/0")
    assert download.status_code == 200
    assert "filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.xlsx" in download.headers["content-disposition"]
    assert "xl/vbaProject.bin" not in zipfile.ZipFile(BytesIO(download.content)).namelist()
    [record] = [r for r in access_records(gateway) if r["subject"] == f"web download {macro} file 0"]
    assert record["user"] == "staff-a" and record["outputs"] == [hashlib.sha256(download.content).hexdigest()]

    other = login(gateway.lgwan, "staff-b")
    assert macro not in other.get("/console/receive").text
    assert other.get(f"/console/api/transfers/{macro}").status_code == 404
    assert other.get(f"/console/transfers/{macro}/files/0").status_code == 404
    assert not [r for r in access_records(gateway) if r["user"] == "staff-b" and "download" in str(r["subject"])]
    auditor = login(gateway.lgwan, "auditor")
    assert macro in auditor.get("/console/receive").text
    assert login(gateway.internet, "staff-b").get(f"/console/api/transfers/{macro}").status_code == 404


def test_names_from_files_are_shown_escaped(gateway: Gateway) -> None:
    # what the upload worker writes for a transfer, with a name no safe-naming rule touched
    transfer = "18ed00000000000000000000000000ab"
    folder = gateway.data / "results" / transfer
    folder.mkdir(parents=True)
    hostile = "<script>alert(1)</script>&amp;.pdf"
    (folder / "meta.json").write_text(json.dumps({"user": "staff-a"}))
    (folder / "result.json").write_text(json.dumps({"files": [
        {"input": hostile, "sha256": "ab" * 32, "outcome": "blocked", "reason_code": "<b>bold</b>", "outputs": [],
         "findings": [{"code": "<img src=x onerror=alert(1)>", "detail": "<script>"}]}]}))
    page = login(gateway.lgwan, "staff-a").get("/console/receive").text
    assert "<script>alert(1)" not in page and "<b>bold" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;.pdf" in page
    assert "(&lt;b&gt;bold&lt;/b&gt;)" in page  # an unknown code stays visible, as text


def test_logout_needs_the_form_token_ends_the_session_and_is_audited(gateway: Gateway) -> None:
    staff = login(gateway.lgwan, "staff-b")
    page = staff.get("/console/receive")
    staff.post("/console/logout", data={"csrf": "forged"})
    assert staff.get("/console/receive").status_code == 200  # a forged form changes nothing
    answer = staff.post("/console/logout", data={"csrf": form_csrf(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    staff.cookies.clear()
    assert staff.get("/console/receive").status_code == 303
    subjects = [(r["user"], r["subject"]) for r in access_records(gateway)]
    assert ("staff-b", "web logout") in subjects and ("staff-b", "web login") in subjects


def test_english_switch_is_remembered(gateway: Gateway) -> None:
    browser = httpx.Client(base_url=gateway.lgwan)
    page = browser.get("/console/login?lang=en")
    assert '<html lang="en">' in page.text and ">Log in<" in page.text and 'href="?lang=ja"' in page.text
    assert '<html lang="en">' in browser.get("/console/login").text


def test_api_docs_load_nothing_from_outside_and_can_send_files(gateway: Gateway) -> None:
    page = httpx.get(f"{gateway.internet}/docs").text
    assert "http://" not in page and "https://" not in page and "<script>" not in page
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert httpx.get(f"{gateway.internet}{asset}").status_code == 200, asset
    body = httpx.get(f"{gateway.internet}/openapi.json").json()["paths"]["/api/v1/transfers"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"]["items"]["format"] == "binary" and schema["required"] == ["file"]


def test_a_held_upload_shows_as_held_to_its_uploader(gateway: Gateway) -> None:
    # an upload an operator holds (gateway queue hold) waits in the spool's hold queue with its envelope
    transfer = "18ed00000000000000000000000000ef"
    job = gateway.service.spool.queue("hold") / transfer
    job.mkdir(parents=True)
    (job / "envelope.json").write_text(json.dumps({"user": "staff-a", "names": ["稟議書.docx"]}), encoding="utf-8")
    staff = login(gateway.lgwan, "staff-a")
    view = staff.get(f"/console/api/transfers/{transfer}").json()
    assert view["state"] == "held" and [(f["name"], f["state"]) for f in view["files"]] == [("稟議書.docx", "held")]
    page = staff.get("/console/receive").text
    assert "稟議書.docx" in page and "保留（管理者が確認しています）" in page
    assert login(gateway.lgwan, "staff-b").get(f"/console/api/transfers/{transfer}").status_code == 404


def test_a_file_being_processed_shows_whether_it_is_scanned_or_disarmed(gateway: Gateway) -> None:
    # an upload in the worker's hands (locked, as a worker holds it) and the worker's note on it
    transfer = "18ed00000000000000000000000000f0"
    job = gateway.service.spool.queue("working") / transfer
    job.mkdir(parents=True)
    names = ["一.docx", "二.xlsx", "三.pdf"]
    (job / "envelope.json").write_text(json.dumps({"user": "staff-a", "names": names}), encoding="utf-8")
    lock = lock_job(job)
    assert lock is not None
    folder = gateway.data / "results" / transfer
    staff = login(gateway.internet, "staff-a")
    try:
        def states() -> list[str]:
            view = staff.get(f"/console/api/transfers/{transfer}").json()
            assert view["state"] == "processing" and [f["name"] for f in view["files"]] == names
            return [f["state"] for f in view["files"]]
        assert states() == ["processing"] * 3  # before the worker's first note
        write_progress(folder, "scanning", 2, 3)
        assert states() == ["processing", "scanning", "queued"]  # the first waits, disarmed, for the others
        write_progress(folder, "disarming", 2, 3)
        assert states() == ["processing", "disarming", "queued"]
        write_progress(folder, "disarming", 3, 3)
        assert states() == ["processing", "processing", "disarming"]
    finally:
        os.close(lock)
        shutil.rmtree(job)
    for language, scanning, disarming in (("ja", "検査中", "無害化中"), ("en", "Scanning", "Disarming")):
        words = re.search(r'data-words="([^"]+)"', staff.get("/console/upload", params={"lang": language}).text)
        assert words, "the upload page's words for its script"
        catalogue = json.loads(html.unescape(words.group(1)))
        assert (catalogue["state_scanning"], catalogue["state_disarming"]) == (scanning, disarming)
