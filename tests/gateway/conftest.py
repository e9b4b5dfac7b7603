"""Fixtures shared by the gateway's tests: one real clamd and one real c-icap per test session, in a
temporary directory (tests/gateway/antivirus/daemons.py), for the engine clients and for the
pipeline and service tests that scan."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.antivirus.daemons import Cicap, Clamd, icap_module_dir, start_cicap, start_clamd, stop


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    if not (shutil.which("clamd") or Path("/usr/sbin/clamd").exists()):
        pytest.skip("clamd is not installed (scripts/setup.sh installs clamav-daemon)")
    daemon = start_clamd(tmp_path_factory.mktemp("clamd"))
    yield daemon
    stop(daemon.proc)


@pytest.fixture(scope="session")
def cicap(clamd: Clamd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cicap]:
    if not (shutil.which("c-icap") or Path("/usr/bin/c-icap").exists()) or icap_module_dir() is None:
        pytest.skip("c-icap or its virus_scan module is not installed (scripts/setup.sh installs "
                    "c-icap and libc-icap-mod-virus-scan)")
    server = start_cicap(tmp_path_factory.mktemp("cicap"), clamd.socket_path)
    yield server
    stop(server.proc)
