"""Log lines operators can use: a UTC time on every line, the process role, JSON when asked; the
service's own lines at INFO, libraries only from WARNING; an HTTP access log with no secrets."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.audit.log import AuditLog
from gateway.config import ServeSettings, Settings, with_serve_flags
from gateway.errors import ConfigError
from gateway.intake.http_api import ApiContext, create_app
from gateway.intake.tokens import TokenStore
from gateway.logs import configure
from gateway.spool import Spool


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, ours = list(root.handlers), root.level, logging.getLogger("gateway").level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("gateway").setLevel(ours)


def test_text_lines_carry_a_utc_time_and_the_role(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    configure("pipeline-0", "text")
    logging.getLogger("gateway.delivery.worker").info("delivered %s", "0123abcd")
    logging.getLogger("aiosmtpd.somewhere").info("chatter from a library")
    logging.getLogger("aiosmtpd.somewhere").warning("a library's warning")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pipeline-0 INFO gateway\.delivery\.worker: "
                        r"delivered 0123abcd", lines[0])
    assert lines[1].endswith("WARNING aiosmtpd.somewhere: a library's warning")


def test_json_lines_are_one_object_each(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    configure("main", "json")
    logging.getLogger("gateway.service").warning("受信 %d 件", 3)
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["role"] == "main" and entry["level"] == "WARNING" and entry["message"] == "受信 3 件"
    assert entry["time"].endswith("Z") and entry["logger"] == "gateway.service"


def test_log_format_is_checked_like_every_setting() -> None:
    with pytest.raises(ConfigError, match="--log-format must be text or json"):
        with_serve_flags(Settings(), {"log_format": "xml"})
    assert with_serve_flags(Settings(), {"log_format": "json"}).serve.log_format == "json"


def test_the_access_log_has_one_line_per_request_and_no_token(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              restore_logging: None) -> None:
    context = ApiContext(Spool(tmp_path / "spool"), AuditLog(tmp_path / "audit.sqlite3"),
                         TokenStore(tmp_path / "tokens.sqlite3"), tmp_path / "results", 1_000_000, 1024,
                         ServeSettings().max_queue)
    guessed = "s3cr3t-token-value"
    with caplog.at_level(logging.INFO, logger="gateway.intake.access"):
        client = TestClient(create_app(context))
        assert client.get("/api/v1/transfers/0123abcd?x=private-query",
                          headers={"Authorization": f"Bearer {guessed}"}).status_code == 401
        assert client.get("/healthz").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.intake.access"]
    assert len(lines) == 2
    assert re.fullmatch(r"testclient GET /api/v1/transfers/0123abcd 401 \d+ ms", lines[0])
    assert guessed not in caplog.text and "private-query" not in caplog.text


def test_each_state_change_is_one_log_line_without_content(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from gateway.audit import records
    from gateway.audit.recorder import Recorder

    recorder = Recorder(AuditLog(tmp_path / "audit.sqlite3"), Spool(tmp_path / "spool"))
    received = records.received_mail("0123abcd", {"sender": "yamada@example.jp", "recipients": ["soumu@city.lg.jp"],
                                                  "client_ip": "192.0.2.1", "subject": "請求書"}, 1234)
    with caplog.at_level(logging.INFO, logger="gateway.audit.recorder"):
        recorder.write(received)
        recorder.write(records.failed("0123abcd", "請求書.pdf.exe could not be delivered", "failed"))
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit.recorder"]
    assert lines[0].startswith("received 0123abcd received") and "channel=smtp" in lines[0]
    assert lines[1].startswith("failed 0123abcd ") and "delivery_status=failed" in lines[1]
    assert not any(word in caplog.text for word in ("yamada", "soumu", "請求書", ".exe"))
    recorder.audit.close()
