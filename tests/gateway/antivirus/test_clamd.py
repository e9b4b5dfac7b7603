"""The clamd client against a real clamd (own signature database) and fake servers for failures."""

from __future__ import annotations

import io
import subprocess
import time
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.antivirus import (
    CODE_MALWARE,
    CODE_TOO_LARGE,
    CODE_UNAVAILABLE,
    ClamdAddress,
    ClamdClient,
    EngineProtocolError,
    EngineUnavailable,
    ScanSourceError,
    Verdict,
    parse_version,
)
from gateway.antivirus.canary import eicar
from tests.gateway.antivirus.daemons import (
    EICAR_SIGNATURE,
    MARKER,
    MARKER_SIGNATURE,
    STREAM_MAX,
    TESTFILE_SIGNATURE,
    TESTFILES,
    Clamd,
    FakeServer,
    clamd_answer,
    env_tz,
    hang,
    hang_without_reading,
    instream_payload,
    start_clamd,
    stop,
)

JAPANESE_TEXT = "請求書の送付について\r\n株式会社テスト 経理部\r\n".encode("cp932")


def client(clamd: Clamd, **kwargs: object) -> ClamdClient:
    return ClamdClient(ClamdAddress(unix_path=str(clamd.socket_path)), timeout=10, **kwargs)  # type: ignore[arg-type]


# -- real clamd ---------------------------------------------------------------------------------------


def test_clean_file_is_clean(clamd: Clamd) -> None:
    result = client(clamd).scan(JAPANESE_TEXT * 100)
    assert result.verdict is Verdict.CLEAN and result.reason_code is None
    assert result.scanned_bytes == len(JAPANESE_TEXT) * 100


def test_marker_is_reported_with_its_signature_name(clamd: Clamd) -> None:
    result = client(clamd).scan(JAPANESE_TEXT + MARKER + JAPANESE_TEXT)
    assert result.verdict is Verdict.INFECTED and result.reason_code == CODE_MALWARE
    assert len(result.signatures) == 1 and result.signatures[0].startswith(MARKER_SIGNATURE)
    assert result.signatures[0] in result.reason


def test_eicar_is_found_with_the_test_database(clamd: Clamd) -> None:
    result = client(clamd).scan(eicar())
    assert result.verdict is Verdict.INFECTED
    assert result.signatures[0].startswith(EICAR_SIGNATURE)


def test_marker_across_a_chunk_boundary_from_a_path(clamd: Clamd, tmp_path: Path) -> None:
    chunk = 4096
    data = b"a" * (chunk * 3 - 10) + MARKER + b"b" * 5000  # the marker straddles chunks 3 and 4
    path = tmp_path / "sample.bin"
    path.write_bytes(data)
    result = client(clamd, chunk_size=chunk).scan(path)
    assert result.verdict is Verdict.INFECTED and result.scanned_bytes == len(data)


def test_file_object_is_read_in_chunks_and_put_back(clamd: Clamd) -> None:
    reads: list[int] = []

    class Recording(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    handle = Recording(b"x" * 100_000 + MARKER)
    handle.seek(10)
    result = client(clamd, chunk_size=8192).scan(handle)
    assert result.verdict is Verdict.INFECTED
    assert result.scanned_bytes == 100_000 + len(MARKER) - 10
    assert reads and max(reads) == 8192 and -1 not in reads  # never "read everything"
    assert handle.tell() == 10


@pytest.mark.skipif(not (TESTFILES / "clam.zip").exists(), reason="clamav-testfiles is not installed")
@pytest.mark.parametrize("name", ["clam.zip", "clam.tar.gz", "clam.7z", "clam.exe.bz2"])
def test_member_of_an_archive_is_found(clamd: Clamd, name: str) -> None:
    result = client(clamd).scan(TESTFILES / name)
    assert result.verdict is Verdict.INFECTED, result
    assert result.signatures[0].startswith(TESTFILE_SIGNATURE)


def test_tcp_socket(clamd: Clamd) -> None:
    tcp = ClamdClient(f"tcp://127.0.0.1:{clamd.port}", timeout=10)
    assert tcp.scan(b"hello").verdict is Verdict.CLEAN
    assert tcp.scan(MARKER).verdict is Verdict.INFECTED
    tcp.ping()


def test_over_stream_max_length_is_too_large_never_clean(clamd: Clamd) -> None:
    result = client(clamd).scan(b"\0" * (STREAM_MAX * 2))
    # clamd answers "INSTREAM size limit exceeded", or (a few times in a hundred) closes the
    # connection before its answer arrives: too large, or unavailable - never clean
    assert result.verdict in (Verdict.TOO_LARGE, Verdict.UNAVAILABLE)
    if result.verdict is Verdict.TOO_LARGE:
        assert result.reason_code == CODE_TOO_LARGE and "StreamMaxLength" in result.reason
    # just under the limit is still scanned, to the last byte
    tail = client(clamd).scan(b"\0" * (STREAM_MAX - len(MARKER) - 1) + MARKER)
    assert tail.verdict is Verdict.INFECTED


def test_known_limit_is_too_large_without_sending(clamd: Clamd) -> None:
    result = client(clamd, max_stream_bytes=1000).scan(b"\0" * 1001)
    assert result.verdict is Verdict.TOO_LARGE and result.scanned_bytes == 0
    assert "1001 bytes" in result.reason


def test_version_ping_and_status_of_custom_databases(clamd: Clamd) -> None:
    c = client(clamd)
    c.ping()
    version = c.version()
    printed = subprocess.run(["clamd", "--version"], capture_output=True, text=True, check=True).stdout
    assert printed.startswith(f"ClamAV {version.engine_version}")
    # only custom databases: clamd answers without a signature number or date
    assert version.signature_version is None and version.signature_date is None
    status = c.status()
    assert status.available and status.version == f"ClamAV {version.engine_version}"
    assert status.as_dict()["signature_date"] is None


def test_japanese_file_name_is_opened_here_and_never_sent(clamd: Clamd, tmp_path: Path) -> None:
    path = tmp_path / "見積書（ウイルス検査）.txt"  # a name that is not in the content
    path.write_bytes(JAPANESE_TEXT + MARKER)
    assert client(clamd).scan(path).verdict is Verdict.INFECTED  # the real daemon reads the content
    with FakeServer(clamd_answer(b"stream: OK\0"), unix_path=tmp_path / "fake.sock") as fake:
        result = ClamdClient(str(tmp_path / "fake.sock"), timeout=5).scan(path)
    assert result.verdict is Verdict.CLEAN
    raw = fake.received[0]
    assert instream_payload(raw) == JAPANESE_TEXT + MARKER
    for encoding in ("utf-8", "cp932", "utf-16-le"):
        assert "見積書".encode(encoding) not in raw and "ウイルス".encode(encoding) not in raw
    assert b"txt" not in raw and str(tmp_path).encode() not in raw


# -- failures -----------------------------------------------------------------------------------------


def test_daemon_down_is_unavailable(tmp_path: Path) -> None:
    missing = ClamdClient(str(tmp_path / "nothing.sock"), timeout=2).scan(b"x")
    assert missing.verdict is Verdict.UNAVAILABLE and missing.reason_code == CODE_UNAVAILABLE
    assert "no such socket" in missing.reason
    import socket

    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(stale))  # a socket file nobody listens on (clamd killed)
    refused = ClamdClient(str(stale), timeout=2).scan(b"x")
    assert refused.verdict is Verdict.UNAVAILABLE and "refused" in refused.reason
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tcp = ClamdClient(f"127.0.0.1:{port}", timeout=2).scan(b"x")
    assert tcp.verdict is Verdict.UNAVAILABLE and "refused" in tcp.reason
    with pytest.raises(EngineUnavailable):
        ClamdClient(str(stale), timeout=2).ping()


def test_daemon_that_never_answers_times_out(tmp_path: Path) -> None:
    with FakeServer(hang, unix_path=tmp_path / "hang.sock"):
        started = time.monotonic()
        result = ClamdClient(str(tmp_path / "hang.sock"), timeout=0.5).scan(b"x" * 1000)
        elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNAVAILABLE
    assert "did not respond within 0.5 s" in result.reason
    assert elapsed < 3


def test_daemon_that_stops_reading_times_out_while_sending(tmp_path: Path) -> None:
    with FakeServer(hang_without_reading, unix_path=tmp_path / "full.sock"):
        result = ClamdClient(str(tmp_path / "full.sock"), timeout=0.5).scan(b"x" * (16 << 20))
    assert result.verdict is Verdict.UNAVAILABLE
    assert "while taking the file" in result.reason


@pytest.mark.parametrize("answer", [
    b"stream: OKAY\0",
    b"stream:  FOUND\0",
    b"stream: OK\0stream: Evil FOUND\0",  # contradicts itself
    b"\xff\xfe\x00garbage",
    b"UNKNOWN COMMAND\0",
    b"stream: lstat() failed: Permission denied. ERROR\0",
    b"",  # closes without a word
])
def test_malformed_or_error_answers_are_unavailable(tmp_path: Path, answer: bytes) -> None:
    with FakeServer(clamd_answer(answer), unix_path=tmp_path / "odd.sock"):
        result = ClamdClient(str(tmp_path / "odd.sock"), timeout=2).scan(b"data")
    assert result.verdict is Verdict.UNAVAILABLE, result
    assert result.reason_code == CODE_UNAVAILABLE and result.reason


def test_well_formed_fake_answers_are_read(tmp_path: Path) -> None:
    """The fake server speaks clamd's protocol: the same harness gives clean and infected."""
    with FakeServer(clamd_answer(b"stream: Win.Test.A FOUND\0stream: Win.Test.B FOUND\0"),
                    unix_path=tmp_path / "all.sock"):
        result = ClamdClient(str(tmp_path / "all.sock"), timeout=2).scan(b"data")
    assert result.verdict is Verdict.INFECTED and result.signatures == ("Win.Test.A", "Win.Test.B")


def test_unreadable_source_raises_its_own_error(tmp_path: Path, clamd: Clamd) -> None:
    with pytest.raises(ScanSourceError) as caught:
        client(clamd).scan(tmp_path / "missing.eml")
    assert caught.value.code == "scan_source_unreadable"


# -- parsing ------------------------------------------------------------------------------------------


def test_version_with_daily_database() -> None:
    jst = timezone(timedelta(hours=9))
    version = parse_version("ClamAV 1.4.6/27500/Mon Nov 30 09:00:00 2026\0", jst)
    assert version.engine_version == "1.4.6" and version.signature_version == 27500
    assert version.signature_date == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    single_digit_day = parse_version("ClamAV 0.103.11/26950/Tue Jun  3 08:14:02 2025", UTC)
    assert single_digit_day.signature_date == datetime(2025, 6, 3, 8, 14, 2, tzinfo=UTC)


def test_version_date_is_read_in_local_time_by_default() -> None:
    with env_tz("Asia/Tokyo"):
        version = parse_version("ClamAV 1.4.6/27500/Mon Nov 30 09:00:00 2026")
    assert version.signature_date is not None
    assert version.signature_date.astimezone(UTC) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("answer", ["", "PONG", "ClamAV", "ClamAV 1.4.6/abc/Mon Nov 30 09:00:00 2026",
                                    "ClamAV 1.4.6/27500/yesterday", "clamd 1.4.6"])
def test_unreadable_version_raises(answer: str) -> None:
    with pytest.raises(EngineProtocolError):
        parse_version(answer)


@pytest.mark.parametrize(("text", "expected"), [
    ("unix:/run/clamav/clamd.ctl", ClamdAddress(unix_path="/run/clamav/clamd.ctl")),
    ("/run/clamav/clamd.ctl", ClamdAddress(unix_path="/run/clamav/clamd.ctl")),
    ("tcp://127.0.0.1:3310", ClamdAddress(host="127.0.0.1", port=3310)),
    ("localhost:3310", ClamdAddress(host="localhost", port=3310)),
    ("tcp://[::1]:3310", ClamdAddress(host="::1", port=3310)),
])
def test_address_parsing(text: str, expected: ClamdAddress) -> None:
    assert ClamdAddress.parse(text) == expected


@pytest.mark.parametrize("text", ["", "clamd", "unix:relative.sock", "tcp://host", "host:0", "host:99999"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="clamd address"):
        ClamdAddress.parse(text)


def test_clamd_passes_a_compressed_member_over_max_file_size_unscanned(tmp_path: Path) -> None:
    """Why the README asks for MaxFileSize and MaxScanSize >= 1024M: ClamAV reports a deflated ZIP
    member larger than MaxFileSize as clean without scanning it, even with AlertExceedsMax (a
    plain file or a stored member over the limit is reported). If this test fails, ClamAV changed
    and the README's warning can go."""
    big = b"x" * (3 * 1024 * 1024) + MARKER

    def member(method: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as archive:
            archive.writestr("報告.txt", big)
        return buffer.getvalue()

    limited = start_clamd(tmp_path / "limited", 8 * 1024 * 1024, "MaxFileSize 1M\nAlertExceedsMax yes\n")
    try:
        client = ClamdClient(f"unix:{limited.socket_path}", timeout=10)
        assert client.scan(member(zipfile.ZIP_DEFLATED)).verdict is Verdict.CLEAN  # the hazard
        for reported in (member(zipfile.ZIP_STORED), big):
            assert client.scan(reported).signatures == ("Heuristics.Limits.Exceeded.MaxFileSize",)
    finally:
        stop(limited.proc)
    wide = start_clamd(tmp_path / "wide", 8 * 1024 * 1024,
                       "MaxFileSize 1024M\nMaxScanSize 1024M\nAlertExceedsMax yes\n")  # the README's
    try:
        found = ClamdClient(f"unix:{wide.socket_path}", timeout=10).scan(member(zipfile.ZIP_DEFLATED))
    finally:
        stop(wide.proc)
    assert found.signatures == (f"{MARKER_SIGNATURE}.UNOFFICIAL",)
