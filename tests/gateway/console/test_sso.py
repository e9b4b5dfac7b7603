"""Single sign-on from a trusted reverse proxy, against the running service: the header is believed
only when the connection itself comes from a configured proxy address (not when X-Forwarded-For
names one), only for an existing, enabled account, and every such login (or refusal) is an audit
record; the session it makes is a normal one (CSRF and roles unchanged). The settings are checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.audit.log import AuditLog
from gateway.config import ServeSettings, Settings, with_serve_flags
from gateway.console.users import UserStore
from gateway.errors import ConfigError
from gateway.service import Service
from tests.gateway.console.conftest import PASSWORD, form_csrf
from tests.gateway.test_service import free_port, wait_answering

PROXY = "127.0.0.2"  # the reverse proxy's address: the tests connect from it (all of 127/8 is loopback)
HEADER = "X-Remote-User"


@pytest.fixture(scope="module")
def lgwan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    data = tmp_path_factory.mktemp("sso") / "data"
    serve = ServeSettings(data_dir=str(data), smtp_listen=f"127.0.0.1:{free_port()}",
                          recipient_domains="example.lg.jp", workers=1, lgwan_http_listen=f"127.0.0.1:{port}",
                          min_free_mb=1, sso_header=HEADER, sso_proxies=f"{PROXY}/32")
    service = Service(Settings(serve=serve))
    service.start()
    users = UserStore.open(data)
    for name, role in (("tanaka", "auditor"), ("佐藤", "uploader"), ("gone", "uploader"), ("chief", "admin")):
        users.add(name, role, PASSWORD)
    users.disable("gone")
    users.close()
    base = f"http://127.0.0.1:{port}"
    wait_answering(base)
    yield base, data
    service.stop()


def client(base: str, source: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=base, follow_redirects=False, timeout=30, headers=headers,
                        transport=httpx.HTTPTransport(local_address=source))


def web_records(data: Path) -> list[dict[str, object]]:
    log = AuditLog(data / "audit.sqlite3")
    try:
        rows = [json.loads(row[0]) for row in log.db.query("SELECT record FROM audit ORDER BY seq")]
    finally:
        log.close()
    return [row for row in rows if row.get("event") == "access" and row.get("channel") == "web"]


def test_the_header_from_the_proxy_signs_in_with_a_normal_session(lgwan: tuple[str, Path]) -> None:
    base, data = lgwan
    proxy = client(base, PROXY, **{HEADER: "tanaka", "X-Forwarded-For": "192.0.2.10"})
    assert proxy.get("/console/receive").headers["location"] == "/console/login"
    answer = proxy.get("/console/login")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/receive"
    assert any(c.startswith("gw-session-lgwan=") and "HttpOnly" in c for c in answer.headers.get_list("set-cookie"))
    page = proxy.get("/console/status")
    assert page.status_code == 200  # an auditor's page
    assert proxy.get("/console/admin").status_code == 403  # the account's role, as after a password login
    assert proxy.post("/console/status/verify", data={"csrf": "forged"}).status_code == 403
    assert proxy.post("/console/status/verify", data={"csrf": form_csrf(page.text)}).status_code == 200
    [record] = [r for r in web_records(data) if r["subject"] == "web login" and r["user"] == "tanaka"]
    assert record["detail"] == f"lgwan side, single sign-on via {PROXY}"
    assert record["client_ip"] == PROXY  # X-Forwarded-For is believed from FORWARDED_ALLOW_IPS only (127.0.0.1)


def test_a_japanese_name_comes_as_utf_8(lgwan: tuple[str, Path]) -> None:
    base, data = lgwan
    proxy = httpx.Client(base_url=base, follow_redirects=False, transport=httpx.HTTPTransport(local_address=PROXY),
                         headers=[(HEADER.encode(), "佐藤".encode())])
    assert proxy.get("/console/login").status_code == 303
    assert proxy.get("/console/receive").status_code == 200
    assert [r for r in web_records(data) if r["subject"] == "web login" and r["user"] == "佐藤"]


def test_the_header_from_anyone_else_is_ignored(lgwan: tuple[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    base, data = lgwan
    before = len(web_records(data))
    direct = client(base, "127.0.0.1", **{HEADER: "chief"})
    page = direct.get("/console/login")
    assert page.status_code == 200 and "gw-session" not in page.headers.get("set-cookie", "")
    assert direct.get("/console/admin").headers["location"] == "/console/login"
    # uvicorn believes X-Forwarded-For from 127.0.0.1: naming the proxy there must not make the request the proxy's
    forged = client(base, "127.0.0.1", **{HEADER: "chief", "X-Forwarded-For": PROXY})
    assert forged.get("/console/login").status_code == 200
    assert forged.get("/console/admin").headers["location"] == "/console/login"
    assert len(web_records(data)) == before
    assert any("single sign-on header x-remote-user from 127.0.0.1 ignored" in r.getMessage() for r in caplog.records)


def test_unknown_and_disabled_names_are_refused_and_recorded(lgwan: tuple[str, Path]) -> None:
    base, data = lgwan
    for name in ("nobody", "gone", ""):
        proxy = client(base, PROXY, **{HEADER: name})
        answer = proxy.get("/console/login")
        assert answer.status_code == 403 and "有効なアカウントがありません" in answer.text
        assert "gw-session" not in answer.headers.get("set-cookie", "")
        assert proxy.get("/console/receive").headers["location"] == "/console/login"
    refused = [r for r in web_records(data) if r["subject"] == "web login failed"]
    assert [r["user"] for r in refused] == ["nobody", "gone", ""]
    assert all(str(r["detail"]).endswith(": no enabled account") for r in refused)


def test_another_name_from_the_proxy_ends_the_old_session(lgwan: tuple[str, Path]) -> None:
    base, _ = lgwan
    proxy = client(base, PROXY, **{HEADER: "chief"})
    assert proxy.get("/console/login").status_code == 303
    assert proxy.get("/console/admin").status_code == 200
    proxy.headers[HEADER] = "tanaka"  # someone else at the same browser
    assert proxy.get("/console/admin").headers["location"] == "/console/login"
    assert proxy.get("/console/login").status_code == 303
    assert proxy.get("/console/admin").status_code == 403


@pytest.mark.parametrize(("flags", "wrong"), [
    ({"sso_header": "X-Remote-User"}, "set together"),
    ({"sso_proxies": "10.0.0.1"}, "set together"),
    ({"sso_header": "X Remote User", "sso_proxies": "10.0.0.1"}, "--sso-header must be an HTTP header name"),
    ({"sso_header": "Cookie", "sso_proxies": "10.0.0.1"}, "--sso-header may not be Cookie"),
    ({"sso_header": "X-Forwarded-For", "sso_proxies": "10.0.0.1"}, "may not be"),
    ({"sso_header": "X-Remote-User", "sso_proxies": "10.0.0.0/33"}, "--sso-proxies must be comma-separated"),
    ({"sso_header": "X-Remote-User", "sso_proxies": "10.0.0.1/24"}, "not '10.0.0.1/24'"),
    ({"sso_header": "X-Remote-User", "sso_proxies": "proxy.example.lg.jp"}, "addresses or CIDRs"),
])
def test_settings_are_checked(flags: dict[str, str], wrong: str) -> None:
    with pytest.raises(ConfigError, match=wrong):
        with_serve_flags(Settings(), flags)


def test_good_settings_are_taken() -> None:
    settings = with_serve_flags(Settings(), {"sso_header": "X-Remote-User",
                                             "sso_proxies": "10.0.0.1, 192.0.2.0/24,::1"})
    assert settings.serve.sso_header == "X-Remote-User"
