"""Result types of the antivirus engines: one scan's verdict and one engine's health.

Every engine client answers a scan with a :class:`ScanResult`, never with an exception for an
engine problem, so a caller cannot mistake "the engine failed" for "the file is clean": the only
clean result is one an engine stated. Each result that is not clean carries a stable
``reason_code`` (the ``CODE_*`` constants) and a plain English ``reason``.

:class:`EngineStatus` is what an engine reports about itself (name, version, signature version and
date, age) for /readyz, /metrics and ``gateway status``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

CODE_MALWARE = "malware"
CODE_UNAVAILABLE = "scan_unavailable"
CODE_TOO_LARGE = "scan_too_large"
CODE_STALE = "signatures_stale"

# Longest reason or signature name kept from an engine's answer (answers are not file content, but
# an engine that misbehaves must not fill logs and reports).
MAX_TEXT = 200


class Verdict(enum.Enum):
    CLEAN = "clean"
    INFECTED = "infected"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ScanResult:
    """One engine's (or the combined engines') verdict on one file.

    ``signatures`` names what was found (infected only). ``reason_code`` is ``None`` only for clean.
    ``parts`` holds the single engines' results of a combined scan.
    """

    engine: str
    verdict: Verdict
    reason_code: str | None = None
    reason: str = ""
    signatures: tuple[str, ...] = ()
    scanned_bytes: int = 0
    duration_ms: int = 0
    parts: tuple[ScanResult, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return self.verdict is Verdict.CLEAN

    @staticmethod
    def make_clean(engine: str, scanned_bytes: int, duration_ms: int) -> ScanResult:
        return ScanResult(engine, Verdict.CLEAN, None, "", (), scanned_bytes, duration_ms)

    @staticmethod
    def make_infected(engine: str, signatures: tuple[str, ...], scanned_bytes: int,
                      duration_ms: int) -> ScanResult:
        names = ", ".join(signatures)
        return ScanResult(engine, Verdict.INFECTED, CODE_MALWARE, f"{engine} found malware: {names}",
                          signatures, scanned_bytes, duration_ms)

    @staticmethod
    def make_too_large(engine: str, reason: str, scanned_bytes: int, duration_ms: int) -> ScanResult:
        return ScanResult(engine, Verdict.TOO_LARGE, CODE_TOO_LARGE, reason, (), scanned_bytes, duration_ms)

    @staticmethod
    def make_unavailable(engine: str, reason: str, duration_ms: int = 0,
                         code: str = CODE_UNAVAILABLE) -> ScanResult:
        return ScanResult(engine, Verdict.UNAVAILABLE, code, reason, (), 0, duration_ms)


@dataclass(frozen=True)
class EngineStatus:
    """What one engine says about itself; ``available`` is False with a ``reason`` when it cannot.

    ``signature_version`` is ClamAV's daily database number, or an ICAP server's ISTag.
    ``signature_date`` is timezone-aware when known. ``age_hours`` is measured when the status was
    taken. ``stale`` is set by the freshness check when a maximum age applies and is exceeded (or
    the date is unknown).
    """

    engine: str
    available: bool
    reason: str = ""
    version: str | None = None
    signature_version: str | None = None
    signature_date: datetime | None = None
    age_hours: float | None = None
    stale: bool = False
    checked_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (dates as ISO 8601) for /readyz, /metrics and ``gateway status``."""
        return {
            "engine": self.engine,
            "available": self.available,
            "reason": self.reason or None,
            "version": self.version,
            "signature_version": self.signature_version,
            "signature_date": self.signature_date.isoformat() if self.signature_date else None,
            "age_hours": None if self.age_hours is None else round(self.age_hours, 2),
            "stale": self.stale,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


def printable(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` with control characters escaped and cut to ``limit`` characters (for reasons and logs)."""
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"
