"""Several engines as one (real clamd + real c-icap), fail-closed combination, and freshness."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.antivirus import (
    CODE_MALWARE,
    CODE_STALE,
    CODE_TOO_LARGE,
    CODE_UNAVAILABLE,
    ClamdClient,
    CombinedScanner,
    IcapClient,
    ScanResult,
    Verdict,
    combine,
)
from gateway.antivirus.canary import eicar
from tests.gateway.antivirus.daemons import (
    MARKER,
    MARKER_SIGNATURE,
    STREAM_MAX,
    Cicap,
    Clamd,
    FakeServer,
    clamd_answer,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def engines(clamd: Clamd, cicap: Cicap) -> tuple[ClamdClient, IcapClient]:
    return (ClamdClient(str(clamd.socket_path), timeout=10),
            IcapClient("127.0.0.1", cicap.port, "avscan", timeout=10))


def test_all_clean_is_clean(clamd: Clamd, cicap: Cicap) -> None:
    result = CombinedScanner(engines(clamd, cicap)).scan("年度末の予算執行について".encode() * 100)
    assert result.verdict is Verdict.CLEAN and result.engine == "clamd+icap"
    assert [part.verdict for part in result.parts] == [Verdict.CLEAN, Verdict.CLEAN]


def test_infected_names_from_every_engine(clamd: Clamd, cicap: Cicap, tmp_path: Path) -> None:
    path = tmp_path / "添付.bin"
    path.write_bytes(b"x" * 5000 + MARKER)
    result = CombinedScanner(engines(clamd, cicap)).scan(path)
    assert result.verdict is Verdict.INFECTED and result.reason_code == CODE_MALWARE
    assert len(result.signatures) == 1 and result.signatures[0].startswith(MARKER_SIGNATURE)  # once
    assert all(part.verdict is Verdict.INFECTED for part in result.parts)
    assert "clamd:" in result.reason and "icap:" in result.reason


def test_a_file_object_is_read_again_by_every_engine(clamd: Clamd, cicap: Cicap) -> None:
    import io

    handle = io.BytesIO(b"y" * 3000 + MARKER)
    result = CombinedScanner(engines(clamd, cicap)).scan(handle)
    assert [part.verdict for part in result.parts] == [Verdict.INFECTED, Verdict.INFECTED]
    assert handle.tell() == 0


def test_one_engine_down_is_unavailable_never_clean(clamd: Clamd, cicap: Cicap, tmp_path: Path) -> None:
    down = ClamdClient(str(tmp_path / "gone.sock"), name="clamd-b", timeout=2)
    clamd_engine, icap_engine = engines(clamd, cicap)
    scanner = CombinedScanner([clamd_engine, down, icap_engine])
    result = scanner.scan(b"harmless")
    assert result.verdict is Verdict.UNAVAILABLE and result.reason_code == CODE_UNAVAILABLE
    assert "clamd-b" in result.reason and "no such socket" in result.reason
    ready, reasons = scanner.ready()
    assert not ready and len(reasons) == 1 and reasons[0].startswith("clamd-b:")
    # a hit by the engines that work is still a hit
    assert scanner.scan(MARKER).verdict is Verdict.INFECTED


def test_too_large_for_clamd_is_too_large(clamd: Clamd, cicap: Cicap) -> None:
    result = CombinedScanner(engines(clamd, cicap)).scan(b"\0" * (STREAM_MAX + 4096))
    clamd_part, icap_part = (part.verdict for part in result.parts)
    assert icap_part is Verdict.CLEAN
    # clamd refuses the stream, or now and then closes before its answer arrives (unavailable):
    # the combined verdict follows it and is never clean
    assert clamd_part in (Verdict.TOO_LARGE, Verdict.UNAVAILABLE) and result.verdict is clamd_part
    if result.verdict is Verdict.TOO_LARGE:
        assert result.reason_code == CODE_TOO_LARGE


def test_real_clamd_without_daily_database_cannot_prove_freshness(clamd: Clamd) -> None:
    scanner = CombinedScanner([ClamdClient(str(clamd.socket_path), timeout=10)], max_signature_age_hours=24)
    result = scanner.scan(b"harmless")
    assert result.verdict is Verdict.UNAVAILABLE and result.reason_code == CODE_STALE
    assert "signatures older than 24 hours cannot be ruled out" in result.reason
    status = scanner.statuses()[0]
    assert status.stale and status.available and status.signature_date is None


def _versioned_clamd(tmp_path: Path, built: datetime) -> FakeServer:
    answer = f"ClamAV 1.4.6/27500/{built.strftime('%a %b %d %H:%M:%S %Y')}\0".encode()
    return FakeServer(clamd_answer(b"stream: OK\0", version=answer), unix_path=tmp_path / "versioned.sock")


def test_stale_signatures_are_unavailable_and_not_scanned(tmp_path: Path) -> None:
    with _versioned_clamd(tmp_path, NOW - timedelta(hours=30)) as fake:
        client = ClamdClient(str(tmp_path / "versioned.sock"), timeout=2, signature_timezone=UTC)
        scanner = CombinedScanner([client], max_signature_age_hours=24, clock=lambda: NOW)
        result = scanner.scan(b"harmless")
        status = scanner.statuses()[0]
    assert result.verdict is Verdict.UNAVAILABLE and result.reason_code == CODE_STALE
    assert "signatures older than 24 hours" in result.reason and "27500" in result.reason
    assert not any(raw.startswith(b"zINSTREAM") for raw in fake.received)  # never asked to scan
    assert status.as_dict() == {
        "engine": "clamd", "available": True, "reason": status.reason, "version": "ClamAV 1.4.6",
        "signature_version": "27500", "signature_date": "2026-11-29T06:00:00+00:00", "age_hours": 30.0,
        "stale": True, "checked_at": NOW.isoformat(),
    }


def test_fresh_signatures_scan_and_status_is_cached(tmp_path: Path) -> None:
    with _versioned_clamd(tmp_path, NOW - timedelta(hours=2)) as fake:
        client = ClamdClient(str(tmp_path / "versioned.sock"), timeout=2, signature_timezone=UTC)
        scanner = CombinedScanner([client], max_signature_age_hours=24, clock=lambda: NOW)
        results = [scanner.scan(b"harmless") for _ in range(3)]
    assert all(result.verdict is Verdict.CLEAN for result in results)
    versions = [raw for raw in fake.received if raw.startswith(b"zVERSION")]
    scans = [raw for raw in fake.received if raw.startswith(b"zINSTREAM")]
    assert len(versions) == 1 and len(scans) == 3  # one VERSION per status interval, not per file
    assert scanner.ready() == (True, [])


def test_icap_engine_is_not_judged_by_a_date_it_cannot_give(clamd: Clamd, cicap: Cicap) -> None:
    scanner = CombinedScanner([IcapClient("127.0.0.1", cicap.port, "avscan", timeout=10)],
                              max_signature_age_hours=24)
    assert scanner.scan(b"harmless").verdict is Verdict.CLEAN
    assert scanner.scan(eicar()).verdict is Verdict.INFECTED


def test_engine_hanging_is_unavailable_in_the_combination(tmp_path: Path) -> None:
    def silent(conn: socket.socket, server: FakeServer) -> None:
        server.stopping.wait(5)

    with FakeServer(silent, unix_path=tmp_path / "silent.sock"):
        scanner = CombinedScanner([ClamdClient(str(tmp_path / "silent.sock"), timeout=0.3)])
        result = scanner.scan(b"harmless")
    assert result.verdict is Verdict.UNAVAILABLE and "did not respond" in result.reason


# -- the combination rules alone ------------------------------------------------------------------------


def _part(name: str, verdict: Verdict, *signatures: str) -> ScanResult:
    if verdict is Verdict.INFECTED:
        return ScanResult.make_infected(name, signatures, 10, 1)
    if verdict is Verdict.TOO_LARGE:
        return ScanResult.make_too_large(name, "big", 10, 1)
    if verdict is Verdict.UNAVAILABLE:
        return ScanResult.make_unavailable(name, "down")
    return ScanResult.make_clean(name, 10, 1)


@pytest.mark.parametrize(("verdicts", "expected"), [
    ([Verdict.CLEAN, Verdict.CLEAN], Verdict.CLEAN),
    ([Verdict.CLEAN, Verdict.INFECTED], Verdict.INFECTED),
    ([Verdict.UNAVAILABLE, Verdict.INFECTED], Verdict.INFECTED),
    ([Verdict.TOO_LARGE, Verdict.INFECTED], Verdict.INFECTED),
    ([Verdict.CLEAN, Verdict.UNAVAILABLE], Verdict.UNAVAILABLE),
    ([Verdict.TOO_LARGE, Verdict.UNAVAILABLE], Verdict.UNAVAILABLE),
    ([Verdict.CLEAN, Verdict.TOO_LARGE], Verdict.TOO_LARGE),
])
def test_combination_rules(verdicts: list[Verdict], expected: Verdict) -> None:
    parts = [_part(f"e{i}", verdict, f"Sig.{i}") for i, verdict in enumerate(verdicts)]
    result = combine("all", parts, 2)
    assert result.verdict is expected
    assert (result.reason_code is None) == (expected is Verdict.CLEAN)


def test_stale_code_only_when_staleness_is_the_only_cause() -> None:
    stale = ScanResult.make_unavailable("a", "signatures older than 24 hours", code=CODE_STALE)
    assert combine("x", [stale, _part("b", Verdict.CLEAN)], 0).reason_code == CODE_STALE
    assert combine("x", [stale, _part("b", Verdict.UNAVAILABLE)], 0).reason_code == CODE_UNAVAILABLE


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CombinedScanner([])
    one = ClamdClient("/nonexistent.sock")
    with pytest.raises(ValueError, match="must differ"):
        CombinedScanner([one, ClamdClient("/other.sock")])
    with pytest.raises(ValueError, match="positive"):
        CombinedScanner([one], max_signature_age_hours=0)
