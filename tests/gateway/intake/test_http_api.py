"""The HTTP API: token roles, uploads spooled before 202, size cap, status, download of the
disarmed output (never the original), health and metrics."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.rows import export
from gateway.cli.main import main
from gateway.config import ServeSettings, Settings
from gateway.intake.tokens import TokenStore
from gateway.messages import REASONS
from gateway.pipeline.progress import write_progress
from gateway.service import Service
from gateway.spool.basics import lock_job
from tests.gateway.test_service import free_port, wait_answering


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    port = free_port()
    serve = ServeSettings(data_dir=str(tmp_path / "data"), smtp_listen=f"127.0.0.1:{free_port()}",
                          recipient_domains="example.lg.jp", workers=1, http_listen=f"127.0.0.1:{port}",
                          max_upload_mb=2, min_free_mb=1)
    running = Service(Settings(serve=serve))
    running.start()
    wait_answering(f"http://127.0.0.1:{port}")
    yield running
    running.stop()


def url(service: Service, path: str) -> str:
    assert service.serve.http_address is not None
    return f"http://127.0.0.1:{service.serve.http_address[1]}{path}"


def tokens(service: Service) -> TokenStore:
    return TokenStore(service.serve.data_path / "tokens.sqlite3")


def test_upload_status_and_download(service: Service, samples: Path) -> None:
    token = tokens(service).create("uploader", "staff-1")
    headers = {"Authorization": f"Bearer {token}"}
    files = [("file", ("見積書①.docm", (samples / "docm-macro.docm").read_bytes())),
             ("file", ("setup.exe", (samples / "exe-stub.exe").read_bytes()))]
    response = httpx.post(url(service, "/api/v1/transfers"), headers=headers, files=files,
                          data={"destination": "../総務課"}, timeout=30)
    assert response.status_code == 202
    transfer = response.json()["id"]
    status = wait_done(service, transfer, headers)
    assert status["status"] == "done"
    outcomes = [(f["input"], f["outcome"]) for f in status["files"]]
    assert outcomes == [("見積書①.docm", "sanitized"), ("setup.exe", "blocked")]
    assert status["files"][1]["reason_ja"] == REASONS["executable"][0]  # staff read why in Japanese
    [output] = status["files"][0]["outputs"]
    assert output["download"] == f"/api/v1/transfers/{transfer}/files/0"  # no index to work out
    download = httpx.get(url(service, output["download"]), headers=headers, timeout=10)
    assert download.status_code == 200 and download.content.startswith(b"PK")
    disposition = download.headers["content-disposition"]  # browsers read filename*, curl -OJ only filename
    assert disposition == ("attachment; filename=\"download.docx\"; "
                           "filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8%E2%91%A0.docx")
    assert b"vbaProject" not in download.content
    missing = httpx.get(url(service, f"/api/v1/transfers/{transfer}/files/1"), headers=headers)
    assert missing.status_code == 404 and missing.json()["detail"] == "そのファイルはありません。 / no such output"
    delivered = list((service.serve.data_path / "lgwan-files" / "_総務課" / transfer).rglob("*.docx"))
    assert [p.name for p in delivered] == ["見積書①.docx"]
    other = tokens(service).create("uploader", "staff-2")
    assert httpx.get(url(service, f"/api/v1/transfers/{transfer}"),
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404
    auditor = tokens(service).create("auditor", "audit")
    assert httpx.get(url(service, f"/api/v1/transfers/{transfer}"),
                     headers={"Authorization": f"Bearer {auditor}"}).status_code == 200


def test_tokens_roles_and_limits(service: Service, samples: Path) -> None:
    files = [("file", ("a.pdf", (samples / "pdf-clean.pdf").read_bytes()))]
    assert httpx.post(url(service, "/api/v1/transfers"), files=files).status_code == 401
    assert httpx.post(url(service, "/api/v1/transfers"), files=files,
                      headers={"Authorization": "Bearer nonsense"}).status_code == 401
    auditor = tokens(service).create("auditor", "audit")
    assert httpx.post(url(service, "/api/v1/transfers"), files=files,
                      headers={"Authorization": f"Bearer {auditor}"}).status_code == 403
    uploader = tokens(service).create("uploader", "staff")
    big = [("file", ("big.bin", b"x" * 3_000_000))]
    assert httpx.post(url(service, "/api/v1/transfers"), files=big,
                      headers={"Authorization": f"Bearer {uploader}"}).status_code == 413
    assert not list(service.spool.queue("uploads").iterdir())


def test_health_and_metrics(service: Service) -> None:
    assert httpx.get(url(service, "/healthz")).json() == {"status": "ok"}
    assert httpx.get(url(service, "/readyz")).status_code == 200
    metrics = httpx.get(url(service, "/metrics")).text
    assert "gateway_queue_depth 0" in metrics and 'gateway_queue_jobs{queue="corrupt"} 0' in metrics
    (service.spool.queue("corrupt") / "0123").mkdir()  # what a job parked for a person looks like
    assert 'gateway_queue_jobs{queue="corrupt"} 1' in httpx.get(url(service, "/metrics")).text
    assert httpx.get(url(service, "/openapi.json")).json()["info"]["title"]


def test_lgwan_side_listener_serves_downloads_but_takes_no_uploads(tmp_path: Path, samples: Path) -> None:
    lgwan_port = free_port()
    serve = ServeSettings(data_dir=str(tmp_path / "data"), smtp_listen=f"127.0.0.1:{free_port()}",
                          recipient_domains="example.lg.jp", workers=1, http_listen=f"127.0.0.1:{free_port()}",
                          lgwan_http_listen=f"127.0.0.1:{lgwan_port}", min_free_mb=1)
    service = Service(Settings(serve=serve))
    service.start()
    try:
        base = f"http://127.0.0.1:{lgwan_port}"
        for health in (f"{base}/healthz", url(service, "/healthz")):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(health, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        token = tokens(service).create("uploader", "staff")
        files = [("file", ("a.pdf", (samples / "pdf-clean.pdf").read_bytes()))]
        refused = httpx.post(f"{base}/api/v1/transfers", files=files, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code in (404, 405)  # no upload route on the LGWAN side
        accepted = httpx.post(url(service, "/api/v1/transfers"), files=files,
                              headers={"Authorization": f"Bearer {token}"})
        assert accepted.status_code == 202
        status = httpx.get(f"{base}/api/v1/transfers/{accepted.json()['id']}",
                           headers={"Authorization": f"Bearer {token}"})
        assert status.status_code == 200
    finally:
        service.stop()


def test_body_is_not_read_before_token_and_length_are_checked(service: Service) -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n"
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    assert httpx.post(url(service, "/api/v1/transfers"), content=body, headers=multipart).status_code == 401
    uploader = tokens(service).create("uploader", "staff")
    chunked = httpx.post(url(service, "/api/v1/transfers"), content=iter([body]),
                         headers={**multipart, "Authorization": f"Bearer {uploader}"})
    assert chunked.status_code == 411  # no Content-Length: refused before reading
    ok = httpx.post(url(service, "/api/v1/transfers"), content=body,
                    headers={**multipart, "Authorization": f"Bearer {uploader}"})
    assert ok.status_code == 202


def wait_done(service: Service, transfer: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status: dict[str, Any] = httpx.get(url(service, f"/api/v1/transfers/{transfer}"), headers=headers,
                                           timeout=10).json()
        if status["status"] == "done":
            return status
        time.sleep(0.2)
    raise AssertionError(f"transfer {transfer} did not finish")


def test_hostile_file_names_and_lying_content_types(service: Service, samples: Path) -> None:
    headers = {"Authorization": f"Bearer {tokens(service).create('uploader', 'staff-1')}"}
    pdf, exe = (samples / "pdf-clean.pdf").read_bytes(), (samples / "exe-stub.exe").read_bytes()
    files = [("file", ("../../etc/passwd", pdf, "text/plain")),                # traversal, type lies
             ("file", ("請求書.pdf", exe, "application/pdf")),                  # an executable named and typed as PDF
             ("file", ("invoice\u202efdp.exe", pdf, "application/x-msdownload")),  # right-to-left override
             ("file", ("CON.pdf", pdf, "application/pdf")),                    # a Windows device name
             ("file", ("x" * 400 + ".pdf", pdf, "application/pdf"))]           # longer than any file system allows
    response = httpx.post(url(service, "/api/v1/transfers"), headers=headers, files=files, timeout=30)
    assert response.status_code == 202
    transfer = response.json()["id"]
    status = wait_done(service, transfer, headers)
    outcomes = [(f["outcome"], f.get("reason_code")) for f in status["files"]]
    assert outcomes[1] == ("blocked", "executable")  # judged by its bytes, not its name or declared type
    assert all(outcome == "sanitized" or outcome == "passed" for outcome, _ in outcomes[:1] + outcomes[2:])
    root = service.serve.data_path / "lgwan-files"
    delivered = [p for p in root.rglob("*") if p.is_file()]
    assert len(delivered) == 4 and all(p.is_relative_to(root / transfer) for p in delivered), delivered
    names = [p.name for p in delivered]
    assert all(len(name.encode()) <= 255 and "\u202e" not in name and ".." not in name.split(".")[0]
               for name in names), names
    assert not any(name.split(".")[0].upper() == "CON" for name in names), names
    assert not (service.serve.data_path / "etc").exists()


def test_an_upload_whose_audit_record_fails_is_still_accepted_and_recorded_later(
        service: Service, samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def locked(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("database is locked")

    headers = {"Authorization": f"Bearer {tokens(service).create('uploader', 'staff-1')}"}
    files = [("file", ("a.pdf", (samples / "pdf-clean.pdf").read_bytes()))]
    with monkeypatch.context() as patch:
        patch.setattr(service.audit, "append", locked)  # the API shares the service's audit log
        response = httpx.post(url(service, "/api/v1/transfers"), headers=headers, files=files, timeout=30)
    assert response.status_code == 202  # spooled before the audit failed: a 500 would only bring it twice
    transfer = response.json()["id"]
    wait_done(service, transfer, headers)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        received = [r for r in service.audit.records() if r["event"] == "received" and r["transfer_id"] == transfer]
        if received:
            break
        time.sleep(0.2)
    assert received and "recorded late" in received[0]["detail"] and received[0]["channel"] == "http"
    assert service.audit.verify().ok


def test_failed_logins_are_limited_and_revoked_tokens_refused(service: Service) -> None:
    store = tokens(service)
    good = {"Authorization": f"Bearer {store.create('uploader', 'staff-1')}"}
    status = url(service, "/api/v1/transfers/0123abcd")
    assert httpx.get(status, headers=good).status_code == 404  # authenticated; no such transfer
    for attempt in range(10):
        assert httpx.get(status, headers={"Authorization": f"Bearer guess-{attempt}"}).status_code == 401
    refused = httpx.get(status, headers={"Authorization": "Bearer guess-10"})  # this address guesses no more
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # a colleague behind the same address (proxy, screen-transfer server) with a valid token goes on
    assert httpx.get(status, headers=good).status_code == 404
    upload = httpx.post(url(service, "/api/v1/transfers"), headers=good, files=[("file", ("a.txt", b"x"))])
    assert upload.status_code == 202
    assert main(["auth", "unlock", "127.0.0.1", "--data-dir", str(service.serve.data_path)]) == 0
    time.sleep(1.1)  # the service reads unlock requests at most once a second
    assert httpx.get(status, headers={"Authorization": "Bearer guess-11"}).status_code == 401  # counted afresh
    assert "127.0.0.1: failed logins unlocked" in export(service.audit, "jsonl", None, None)  # audited
    store.revoke("staff-1")
    assert httpx.get(status, headers=good).status_code == 401


def test_a_full_queue_answers_503_with_retry_after(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {"Authorization": f"Bearer {tokens(service).create('uploader', 'staff-1')}"}
    monkeypatch.setattr(service.spool, "depth", lambda: service.serve.max_queue)
    response = httpx.post(url(service, "/api/v1/transfers"), headers=headers, files=[("file", ("a.txt", b"x"))])
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert not list(service.spool.queue("uploads").iterdir()) and not list(service.spool.queue("tmp").iterdir())


def test_a_transfer_being_processed_says_which_file_is_scanned_or_disarmed(service: Service) -> None:
    # a job in the worker's hands (locked, as a worker holds it, so the supervisor leaves it be)
    transfer = f"{time.time_ns():016x}{'0' * 16}"
    job = service.spool.queue("working") / transfer
    job.mkdir(parents=True)
    (job / "envelope.json").write_text(json.dumps({"user": "staff-1", "names": ["一.txt", "二.txt"]}), "utf-8")
    lock = lock_job(job)
    assert lock is not None
    headers = {"Authorization": f"Bearer {tokens(service).create('uploader', 'staff-1')}"}
    folder = service.serve.data_path / "results" / transfer
    try:
        def status() -> dict[str, Any]:
            answer = httpx.get(url(service, f"/api/v1/transfers/{transfer}"), headers=headers, timeout=10)
            assert answer.status_code == 200
            shown: dict[str, Any] = answer.json()
            return shown
        assert status() == {"id": transfer, "status": "processing", "files": []}  # before the worker's first note
        write_progress(folder, "scanning", 1, 2)
        assert status() == {"id": transfer, "status": "processing", "files": [], "stage": "scanning", "file": 1,
                            "file_count": 2}
        write_progress(folder, "disarming", 2, 2)
        assert status()["stage"] == "disarming" and status()["file"] == 2
        (folder / "progress.json").write_text('{"stage": "<b>", "file": 1, "files": 2}', encoding="utf-8")
        assert "stage" not in status()  # a note that is not one is not shown
        write_progress(folder, "disarming", 2, 2)
        os.rename(job, service.spool.queue("hold") / transfer)  # the note counts only while it is processing
        assert status() == {"id": transfer, "status": "held", "files": []}
    finally:
        os.close(lock)
