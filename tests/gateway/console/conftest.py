"""A running gateway with both HTTP listeners (internet side: uploads; LGWAN side: receive) and
console accounts, shared by the console's tests of one module."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.config import ServeSettings, Settings
from gateway.console.users import UserStore
from gateway.service import Service
from tests.gateway.test_service import free_port, wait_answering

PASSWORD = "correct horse battery"  # noqa: S105 (the test accounts')
ACCOUNTS = {"staff-a": "uploader", "staff-b": "uploader", "auditor": "auditor", "guessed": "uploader"}


@dataclass
class Gateway:
    service: Service
    internet: str
    lgwan: str

    @property
    def data(self) -> Path:
        return self.service.serve.data_path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    internet, lgwan = free_port(), free_port()
    data = tmp_path_factory.mktemp("console") / "data"
    serve = ServeSettings(data_dir=str(data), smtp_listen=f"127.0.0.1:{free_port()}",
                          recipient_domains="example.lg.jp", workers=1, http_listen=f"127.0.0.1:{internet}",
                          lgwan_http_listen=f"127.0.0.1:{lgwan}", max_upload_mb=5, min_free_mb=1)
    service = Service(Settings(serve=serve))
    service.start()
    users = UserStore.open(data)
    for name, role in ACCOUNTS.items():
        users.add(name, role, PASSWORD)
    users.close()
    running = Gateway(service, f"http://127.0.0.1:{internet}", f"http://127.0.0.1:{lgwan}")
    for base in (running.internet, running.lgwan):
        wait_answering(base)
    yield running
    service.stop()


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(base: str, name: str, password: str = PASSWORD, **client: object) -> httpx.Client:
    """A client logged in on one side (its cookie jar holds the session)."""
    browser = httpx.Client(base_url=base, follow_redirects=False, timeout=30, **client)  # type: ignore[arg-type]
    page = browser.get("/console/login")
    answer = browser.post("/console/login", data={"name": name, "password": password,
                                                   "csrf": form_csrf(page.text)})
    assert answer.status_code == 303, answer.text
    return browser


def wait_done(browser: httpx.Client, transfer: str, seconds: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        view = browser.get(f"/console/api/transfers/{transfer}").json()
        if view["state"] in ("done", "failed"):
            return dict(view)
        time.sleep(0.2)
    raise AssertionError(f"transfer {transfer} not done in {seconds} s")
