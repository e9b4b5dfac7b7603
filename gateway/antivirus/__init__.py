"""Antivirus engine layer: clamd and ICAP clients, several engines combined, signature freshness.

Self-contained (standard library only). A scan never raises for an engine problem: it returns a
:class:`ScanResult` whose verdict is clean, infected (with signature names), too large, or
unavailable (with a plain reason), and a stable ``reason_code`` for everything that is not clean:

=====================  ====================================================================
``malware``            an engine found something (``signatures`` names it when it said)
``scan_unavailable``   an engine is down, timed out, answered nonsense, or is not scanning
``scan_too_large``     the file exceeds an engine's stream limit (block or disarm-unscanned)
``signatures_stale``   signatures older than ``max_signature_age_hours`` (or of unknown age)
=====================  ====================================================================

Modules: ``verdict`` (result types), ``source`` (what is read), ``clamd``, ``icap``,
``engines`` (several engines as one), ``freshness``, ``canary`` (EICAR), ``errors``.
"""

from gateway.antivirus.clamd import ClamdAddress, ClamdClient, ClamdVersion, parse_version
from gateway.antivirus.engines import CombinedScanner, Engine, combine
from gateway.antivirus.errors import AntivirusError, EngineProtocolError, EngineUnavailable, ScanSourceError
from gateway.antivirus.icap import IcapClient, IcapOptions
from gateway.antivirus.source import ScanSource
from gateway.antivirus.verdict import (
    CODE_MALWARE,
    CODE_STALE,
    CODE_TOO_LARGE,
    CODE_UNAVAILABLE,
    EngineStatus,
    ScanResult,
    Verdict,
)

__all__ = [
    "CODE_MALWARE",
    "CODE_STALE",
    "CODE_TOO_LARGE",
    "CODE_UNAVAILABLE",
    "AntivirusError",
    "ClamdAddress",
    "ClamdClient",
    "ClamdVersion",
    "CombinedScanner",
    "Engine",
    "EngineProtocolError",
    "EngineStatus",
    "EngineUnavailable",
    "IcapClient",
    "IcapOptions",
    "ScanResult",
    "ScanSource",
    "ScanSourceError",
    "Verdict",
    "combine",
    "parse_version",
]
