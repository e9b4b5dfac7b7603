"""Several engines as one: every configured engine must say clean, and signatures must be fresh.

Rules of the combined verdict (fail closed):

* any engine infected → infected, with every engine's signature names;
* otherwise any engine unavailable (down, timing out, answering nonsense, or with stale
  signatures) → unavailable; the code is ``signatures_stale`` when staleness is the only cause;
* otherwise any engine too large → too large (the caller decides block or disarm-without-scan);
* only when every engine said clean → clean.

Engines are asked one after the other (each reads the source again). Their status (version,
signature date, an ICAP server's EICAR canary) is cached for ``status_ttl_seconds`` so health and
freshness cost one VERSION (or OPTIONS) per engine per interval, not per file; a status that is not
good is asked again at the next scan, and an engine whose status is not good is not asked to scan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from gateway.antivirus.freshness import judge
from gateway.antivirus.source import ScanSource
from gateway.antivirus.verdict import (
    CODE_STALE,
    CODE_UNAVAILABLE,
    EngineStatus,
    ScanResult,
    Verdict,
)

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What :class:`CombinedScanner` needs of an engine client (ClamdClient, IcapClient)."""

    name: str
    reports_signature_date: bool

    def scan(self, source: ScanSource) -> ScanResult: ...

    def status(self, now: datetime | None = None) -> EngineStatus: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CombinedScanner:
    """The engines a deployment configured, scanned as one. Thread-safe."""

    def __init__(self, engines: Sequence[Engine], *, max_signature_age_hours: float | None = None,
                 status_ttl_seconds: float = 60.0, clock: Callable[[], datetime] = _utc_now) -> None:
        if not engines:
            raise ValueError("at least one antivirus engine is needed")
        names = [engine.name for engine in engines]
        if len(set(names)) != len(names):
            raise ValueError(f"antivirus engine names must differ: {names}")
        if max_signature_age_hours is not None and max_signature_age_hours <= 0:
            raise ValueError("max_signature_age_hours must be positive")
        self.engines = tuple(engines)
        self.max_signature_age_hours = max_signature_age_hours
        self.status_ttl_seconds = status_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, EngineStatus]] = {}

    @property
    def name(self) -> str:
        return "+".join(engine.name for engine in self.engines)

    # -- health ---------------------------------------------------------------------------------

    def statuses(self, refresh: bool = False) -> list[EngineStatus]:
        """Every engine's status, judged for freshness (for /readyz, /metrics, ``gateway status``)."""
        return [self._status(engine, refresh) for engine in self.engines]

    def ready(self) -> tuple[bool, list[str]]:
        """(all engines available with fresh signatures, the reasons why not)."""
        reasons = [f"{s.engine}: {s.reason}" for s in self.statuses() if not s.available or s.stale]
        return not reasons, reasons

    def _status(self, engine: Engine, refresh: bool) -> EngineStatus:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(engine.name)
        if cached and not refresh and now - cached[0] < self.status_ttl_seconds:
            status = cached[1]
            if status.available and not status.stale:
                return status
        status = judge(engine.status(self._clock()), self.max_signature_age_hours, engine.reports_signature_date)
        with self._lock:
            self._cache[engine.name] = (now, status)
        if not status.available or status.stale:
            log.warning("antivirus engine=%s not usable: %s", engine.name, status.reason)
        return status

    # -- scanning -------------------------------------------------------------------------------

    def scan(self, source: ScanSource) -> ScanResult:
        """Every engine's verdict on ``source`` combined (see the module's rules)."""
        started = time.monotonic()
        parts: list[ScanResult] = []
        for engine in self.engines:
            status = self._status(engine, refresh=False)
            if status.stale:
                parts.append(ScanResult.make_unavailable(engine.name, status.reason, code=CODE_STALE))
            elif not status.available:
                parts.append(ScanResult.make_unavailable(engine.name, status.reason))
            else:
                parts.append(engine.scan(source))
        result = combine(self.name, parts, int((time.monotonic() - started) * 1000))
        if len(parts) > 1:
            log.info("antivirus combined=%s verdict=%s code=%s signatures=%s ms=%d", result.engine,
                     result.verdict.value, result.reason_code or "-", ",".join(result.signatures) or "-",
                     result.duration_ms)
        return result


def combine(name: str, parts: Sequence[ScanResult], duration_ms: int) -> ScanResult:
    """The combined verdict of ``parts`` (one per engine)."""
    if not parts:
        raise ValueError("no engine results to combine")
    scanned = max(part.scanned_bytes for part in parts)
    infected = [part for part in parts if part.verdict is Verdict.INFECTED]
    if infected:
        names: list[str] = []
        for part in infected:
            names.extend(sig for sig in part.signatures if sig not in names)
        reason = "; ".join(f"{part.engine}: {part.reason}" for part in infected)
        return ScanResult(name, Verdict.INFECTED, "malware", reason, tuple(names), scanned, duration_ms, tuple(parts))
    down = [part for part in parts if part.verdict is Verdict.UNAVAILABLE]
    if down:
        code = CODE_STALE if all(part.reason_code == CODE_STALE for part in down) else CODE_UNAVAILABLE
        reason = "; ".join(f"{part.engine}: {part.reason}" for part in down)
        return ScanResult(name, Verdict.UNAVAILABLE, code, reason, (), scanned, duration_ms, tuple(parts))
    large = [part for part in parts if part.verdict is Verdict.TOO_LARGE]
    if large:
        reason = "; ".join(f"{part.engine}: {part.reason}" for part in large)
        return ScanResult(name, Verdict.TOO_LARGE, large[0].reason_code, reason, (), scanned, duration_ms,
                          tuple(parts))
    if all(part.verdict is Verdict.CLEAN for part in parts):
        return ScanResult(name, Verdict.CLEAN, None, "", (), scanned, duration_ms, tuple(parts))
    unknown = "an engine gave a verdict this gateway does not know"
    return ScanResult(name, Verdict.UNAVAILABLE, CODE_UNAVAILABLE, unknown, (), scanned, duration_ms, tuple(parts))
