"""The ICAP client against a real c-icap with its virus_scan module over the test clamd, and fake
ICAP servers for the answers c-icap does not give (errors, malformed answers, other engines' headers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.antivirus import CODE_MALWARE, CODE_UNAVAILABLE, EngineUnavailable, IcapClient, Verdict
from gateway.antivirus.canary import eicar
from tests.gateway.antivirus.daemons import (
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    TESTFILE_SIGNATURE,
    TESTFILES,
    Cicap,
    Clamd,
    FakeServer,
    hang,
    read_until,
    start_cicap,
    start_clamd,
    stop,
)

PREVIEWS: list[int | str | None] = ["auto", None, 0, 10]
JAPANESE_TEXT = "会議資料：来年度予算（案）\r\n".encode("cp932")


def icap(cicap: Cicap, service: str = "avscan", **kwargs: object) -> IcapClient:
    return IcapClient("127.0.0.1", cicap.port, service, timeout=15, **kwargs)  # type: ignore[arg-type]


# -- real c-icap --------------------------------------------------------------------------------------


def test_options(cicap: Cicap) -> None:
    options = icap(cicap).options()
    assert "RESPMOD" in options.methods
    assert options.preview == 1024 and options.allow_204
    assert options.istag and options.service and "Antivirus" in options.service


@pytest.mark.parametrize("preview", PREVIEWS)
def test_clean_and_infected_with_every_preview(cicap: Cicap, preview: int | str | None) -> None:
    client = icap(cicap, preview=preview)
    for size in (0, 5, 1024, 1025, 300_000):
        clean = client.scan((JAPANESE_TEXT * (size // len(JAPANESE_TEXT) + 1))[:size])
        assert clean.verdict is Verdict.CLEAN, (size, clean)
        assert clean.scanned_bytes == size
    found = client.scan(eicar())
    assert found.verdict is Verdict.INFECTED and found.reason_code == CODE_MALWARE
    assert found.signatures[0].startswith(EICAR_SIGNATURE)
    deep = client.scan(JAPANESE_TEXT * 1000 + MARKER)  # past the preview
    assert deep.verdict is Verdict.INFECTED and deep.signatures[0].startswith(MARKER_SIGNATURE)


@pytest.mark.parametrize("head", [b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"])
def test_every_file_type_is_scanned(cicap: Cicap, head: bytes) -> None:
    """With Debian's default ScanFileTypes c-icap lets PDF and PNG through unscanned (204); the
    configuration the tests use (all groups) is the one the gateway needs."""
    result = icap(cicap).scan(head + b"\0" * 2000 + MARKER)
    assert result.verdict is Verdict.INFECTED, result


def test_file_over_c_icap_max_object_size_is_scanned_in_simple_mode(cicap: Cicap, tmp_path: Path) -> None:
    path = tmp_path / "大きな添付ファイル.bin"
    with path.open("wb") as out:
        out.write(b"\0" * (6 << 20))  # MaxObjectSize is 5M; sizelimit=off scans it anyway
        out.write(MARKER)
    assert icap(cicap).scan(path).verdict is Verdict.INFECTED


@pytest.mark.skipif(not (TESTFILES / "clam.zip").exists(), reason="clamav-testfiles is not installed")
def test_member_of_an_archive_is_found(cicap: Cicap) -> None:
    result = icap(cicap).scan(TESTFILES / "clam.zip")
    assert result.verdict is Verdict.INFECTED and result.signatures[0].startswith(TESTFILE_SIGNATURE)


def test_streaming_mode_blocks_even_without_naming_the_threat(cicap: Cicap) -> None:
    """c-icap's default (streaming) mode may start its answer before the scan ends; a hit then
    truncates the body and names nothing. The body differs from ours: infected, never clean."""
    result = icap(cicap, "avstream", preview=None).scan(JAPANESE_TEXT * 1000 + MARKER)
    assert result.verdict is Verdict.INFECTED and result.reason_code == CODE_MALWARE
    clean = icap(cicap, "avstream", preview=None).scan(JAPANESE_TEXT * 30_000)
    assert clean.verdict is Verdict.CLEAN, clean


@pytest.mark.parametrize("preview", PREVIEWS)
def test_echo_service_returns_the_same_body_which_is_clean(cicap: Cicap, preview: int | str | None) -> None:
    """c-icap's echo service answers 200 with our body (or 204 after the preview): the body is
    compared with what was sent, so 200 + the same content is clean, not 'modified'."""
    result = icap(cicap, "echo", preview=preview, canary=False).scan(b"\x00\x01" * (3 << 20))
    assert result.verdict is Verdict.CLEAN, result


def test_status_with_canary(cicap: Cicap) -> None:
    status = icap(cicap).status()
    assert status.available and status.signature_version and status.version
    echo = icap(cicap, "echo").status()  # echo scans nothing: the EICAR canary comes back clean
    assert not echo.available and "EICAR" in echo.reason
    assert icap(cicap, "echo", canary=False).status().available


def test_unknown_service_is_unavailable(cicap: Cicap) -> None:
    result = icap(cicap, "nosuchservice").scan(b"x")
    assert result.verdict is Verdict.UNAVAILABLE and "404" in result.reason


def test_engine_behind_c_icap_stopped_mid_run(tmp_path: Path) -> None:
    """clamd killed while c-icap runs: c-icap fails the scan (500), which is unavailable, never clean.
    (c-icap started while clamd is down answers 204 to everything; the canary catches that.)"""
    own_clamd = start_clamd(tmp_path / "clamd")
    own_icap = start_cicap(tmp_path / "icap", own_clamd.socket_path)
    try:
        client = IcapClient("127.0.0.1", own_icap.port, "avscan", timeout=10)
        assert client.scan(MARKER).verdict is Verdict.INFECTED
        stop(own_clamd.proc)
        for data in (MARKER, b"harmless text"):
            result = client.scan(data)
            assert result.verdict is Verdict.UNAVAILABLE, result
            assert result.reason_code == CODE_UNAVAILABLE and "500" in result.reason
        assert not client.status().available
    finally:
        stop(own_icap.proc)
        stop(own_clamd.proc)


def test_c_icap_started_without_its_engine_fails_the_canary(tmp_path: Path, clamd: Clamd) -> None:
    broken = start_cicap(tmp_path / "icap", tmp_path / "no-clamd.sock")
    try:
        client = IcapClient("127.0.0.1", broken.port, "avscan", timeout=10)
        assert client.scan(eicar()).verdict is Verdict.CLEAN  # c-icap's fail-open, shown once
        status = client.status()
        assert not status.available and "EICAR" in status.reason
    finally:
        stop(broken.proc)


def test_server_down_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = IcapClient("127.0.0.1", port, "avscan", timeout=2)
    result = client.scan(b"x")
    assert result.verdict is Verdict.UNAVAILABLE and "refused" in result.reason
    assert not client.status().available
    with pytest.raises(EngineUnavailable):
        client.options()


# -- fake ICAP servers --------------------------------------------------------------------------------


def icap_answer(answer: bytes) -> Callable[[socket.socket, FakeServer], None]:
    def handler(conn: socket.socket, server: FakeServer) -> None:
        # the last chunk; "Content-Length: 50\r\n\r\n" must not pass for it
        read_until(conn, (b"\r\n0\r\n\r\n", b"\r\n0; ieof\r\n\r\n", b"null-body=0\r\n\r\n"), server)
        if answer:
            conn.sendall(answer)
    return handler


def test_server_that_never_answers_times_out() -> None:
    with FakeServer(hang) as fake:
        started = time.monotonic()
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=0.5, preview=None).scan(b"x" * 5000)
        elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNAVAILABLE and "did not respond within 0.5 s" in result.reason
    assert elapsed < 3
    with FakeServer(hang) as fake:
        auto = IcapClient("127.0.0.1", fake.port, "avscan", timeout=0.5).scan(b"x")  # hangs on OPTIONS
    assert auto.verdict is Verdict.UNAVAILABLE and "OPTIONS" in auto.reason


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\n\r\n",
    b"ICAP/1.0 500 Server Error\r\n\r\n",
    b"ICAP/1.0 400 Bad Request\r\nEncapsulated: null-body=0\r\n\r\n",
    b"ICAP/1.0 100 Continue\r\n\r\n",
    b"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, body=12\r\n\r\n",
    b"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, res-body=50\r\n\r\nHTTP/1.1 200 OK\r\n",
    b"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\nzz\r\n",
    b"ICAP/1.0 204 No Content\r\nBroken header line\r\n\r\n",
    b"ICAP/1.0 204",
    b"\xff\xfe\xfd",
    b"",
])
def test_malformed_or_error_answers_are_unavailable(answer: bytes) -> None:
    with FakeServer(icap_answer(answer)) as fake:
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=2, preview=None).scan(b"data")
    assert result.verdict is Verdict.UNAVAILABLE, result
    assert result.reason_code == CODE_UNAVAILABLE and result.reason


def test_other_engines_threat_headers() -> None:
    answer = (b"ICAP/1.0 200 OK\r\nISTag: \"x\"\r\nX-Virus-ID: Trojan.Generic.1\r\n"
              b"X-Infection-Found: Type=0; Resolution=2; Threat=W97M.Downloader;\r\n"
              b"X-Violations-Found: 2\r\n\t-\r\n\tW97M.Downloader\r\n\t0\r\n\t2\r\n"
              b"\t-\r\n\tJS.Agent\r\n\t0\r\n\t2\r\n"
              b"Encapsulated: res-hdr=0, null-body=19\r\n\r\nHTTP/1.1 403 Forbidden\r\n\r\n")
    with FakeServer(icap_answer(answer)) as fake:
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=2, preview=None).scan(b"data")
    assert result.verdict is Verdict.INFECTED
    assert result.signatures == ("W97M.Downloader", "JS.Agent", "Trojan.Generic.1")


def test_blocked_page_without_a_name_is_infected() -> None:
    page = b"<html>blocked</html>"
    http = b"HTTP/1.1 403 Forbidden\r\n\r\n"
    answer = (f"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, res-body={len(http)}\r\n\r\n".encode()
              + http + f"{len(page):x}\r\n".encode() + page + b"\r\n0\r\n\r\n")
    with FakeServer(icap_answer(answer)) as fake:
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=2, preview=None).scan(b"data")
    assert result.verdict is Verdict.INFECTED and result.signatures == ()
    assert "HTTP 403" in result.reason


def test_japanese_file_name_is_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "見積書（ウイルス検査）.xlsx"
    path.write_bytes(JAPANESE_TEXT * 50)
    with FakeServer(icap_answer(b"ICAP/1.0 204 No Content\r\nISTag: \"t\"\r\n\r\n")) as fake:
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=2, preview=None).scan(path)
    assert result.verdict is Verdict.CLEAN
    raw = fake.received[0]
    head = raw.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"RESPMOD icap://127.0.0.1:") and b"Allow: 204" in head
    for encoding in ("utf-8", "cp932", "utf-16-le"):
        assert "見積書".encode(encoding) not in raw and "ウイルス".encode(encoding) not in raw
    assert b"xlsx" not in raw and str(tmp_path).encode() not in raw
    assert (JAPANESE_TEXT * 50) in raw


def test_answer_before_the_whole_file_is_not_clean() -> None:
    """A server that says 204 before it has read the whole (non-preview) body gave no verdict on it."""
    def early(conn: socket.socket, server: FakeServer) -> None:
        conn.recv(4096)
        conn.sendall(b"ICAP/1.0 204 No Content\r\n\r\n")
        server.stopping.wait(5)

    with FakeServer(early) as fake:
        result = IcapClient("127.0.0.1", fake.port, "avscan", timeout=1, preview=None).scan(b"x" * (16 << 20))
    assert result.verdict is Verdict.UNAVAILABLE and "whole file" in result.reason
