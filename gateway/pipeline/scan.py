"""The antivirus stage: every original is scanned before it is disarmed (and, with
``[antivirus] scan_outputs``, every disarmed output too), by the engines ``[antivirus]`` names
(``gateway/antivirus/``: clamd, ICAP; all must say clean).

What each verdict becomes (``MalwareStage.check``):

* clean → the file goes on to be disarmed (``scanned: true``);
* infected → the file is blocked, ``reason_code = "malware"``, one ``malware_found`` finding per
  signature name, counted in the spool (``gateway_malware_found_total``);
* too large for an engine's stream limit → ``on_too_large``: blocked (``scan_too_large``), or
  disarmed without a scan with a ``scan_skipped_too_large`` finding (never a silent pass);
* an engine down, timing out, answering nonsense, or with stale signatures → ``on_unavailable``:
  ``defer`` raises :class:`ScanDeferred` (the service puts the job back and tries again after
  ``retry_seconds``; the command line, which has no queue, blocks instead), ``block`` blocks
  (``scan_unavailable``, or ``signatures_stale``). Never "the scan failed, so pass".

Archives are scanned as one file: clamd looks inside them itself (ScanArchive); their members
never leave the sandbox as originals, so each member is scanned again only as a disarmed output
(``scan_outputs``). With no engine configured nothing is scanned and every report says
``scanned: false`` (``gateway serve`` warns at start).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.antivirus import CODE_MALWARE, ClamdClient, CombinedScanner, Engine, IcapClient, ScanSource
from gateway.antivirus.errors import ScanSourceError
from gateway.antivirus.verdict import EngineStatus, Verdict
from gateway.config import MIB, AntivirusSettings
from gateway.sandbox.crash_report import current_transfer

log = logging.getLogger(__name__)
MALWARE_COUNTER = "malware-found"  # one byte per file found infected (as the crash counter: O_APPEND, size = count)
UNAVAILABLE_COUNTER = "scan-unavailable"  # one byte per scan that could not be done (deferred or blocked)
STATUS_TIMEOUT = 5.0  # the start-up summary asks each engine with at most this timeout
STATUS_TTL = 60.0  # a worker asks an engine's status (VERSION; ICAP: OPTIONS and the EICAR probe) this often
READY_TTL = 5.0  # /readyz and /metrics: an engine that went away is seen within seconds, not after a minute
FINDING_MALWARE = "malware_found"
FINDING_TOO_LARGE = "scan_skipped_too_large"


class ScanDeferred(Exception):
    """The engines cannot scan now and ``on_unavailable = "defer"``: the job must wait, untouched.
    Deliberately not a GatewayError, so no per-file handler can turn it into a block (or a pass)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Check:
    """The stage's decision on one file. ``blocked`` is the reason code when the file must not go
    on; ``findings`` go into its report either way."""

    scanned: bool
    blocked: str | None = None
    reason: str = ""
    signatures: tuple[str, ...] = ()
    findings: tuple[dict[str, str], ...] = field(default=())

    @property
    def infected(self) -> bool:
        return self.blocked == CODE_MALWARE


NOT_SCANNED = Check(False)


def build_engines(settings: AntivirusSettings, timeout: float | None = None) -> list[Engine]:
    """The clients ``[antivirus] engines`` names, in that order."""
    wait = timeout if timeout is not None else settings.timeout_seconds
    engines: list[Engine] = []
    for name in settings.engine_list:
        if name == "clamd":
            engines.append(ClamdClient(settings.clamd, timeout=wait,
                                       max_stream_bytes=settings.clamd_stream_max_mb * MIB))
        elif name == "icap":
            engines.append(IcapClient(settings.icap_host, settings.icap_port, settings.icap_service, timeout=wait))
        else:
            raise ValueError(f"unknown antivirus engine {name!r}")
    return engines


def build_scanner(settings: AntivirusSettings, timeout: float | None = None,
                  status_ttl: float = STATUS_TTL) -> CombinedScanner | None:
    """The configured engines as one scanner, or None when none is configured."""
    engines = build_engines(settings, timeout)
    if not engines:
        return None
    age = settings.max_signature_age_hours or None  # 0: not checked
    return CombinedScanner(engines, max_signature_age_hours=age, status_ttl_seconds=status_ttl)


def _count(name: str) -> None:
    """One more in the spool's counter ``name`` (only inside a service job: ``transfer``)."""
    job = current_transfer()
    if job is None or job[1] is None:
        return
    try:
        descriptor = os.open(job[1] / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, b"+")
        finally:
            os.close(descriptor)
    except OSError as exc:
        log.error("the antivirus counter %s could not be written: %s", name, type(exc).__name__)


def count_malware() -> None:
    _count(MALWARE_COUNTER)


def counted(spool: Path, name: str) -> int:
    try:
        return (spool / name).stat().st_size
    except FileNotFoundError:
        return 0


class MalwareStage:
    """The configured engines and the two policies. ``can_defer``: the caller can put the job back
    (the service); without it (``gateway sanitize``, ``gateway mail``) "defer" blocks instead.
    ``timeout`` (default: the configured one) bounds each engine's answers, e.g. for /readyz."""

    def __init__(self, settings: AntivirusSettings, *, can_defer: bool = False, timeout: float | None = None,
                 status_ttl: float = STATUS_TTL) -> None:
        self.settings = settings
        self.scanner = build_scanner(settings, timeout, status_ttl)
        self.can_defer = can_defer

    @property
    def configured(self) -> bool:
        return self.scanner is not None

    @property
    def scan_outputs(self) -> bool:
        return self.scanner is not None and self.settings.scan_outputs

    def check(self, source: ScanSource, what: str = "file", *, count: bool = True) -> Check:
        """The decision on ``source`` (a path, bytes or a file object); raises :class:`ScanDeferred`.
        ``count``: a hit adds to ``gateway_malware_found_total`` (a whole mail's hit is counted by the
        caller, only when no attachment it removes accounts for it)."""
        if self.scanner is None:
            return NOT_SCANNED
        try:
            result = self.scanner.scan(source)
        except ScanSourceError as exc:  # our own copy cannot be read: not the engine's fault, never a pass
            return Check(False, "internal_error", f"the {what} could not be read for the malware scan: {exc.reason}")
        job = current_transfer()
        transfer_id = job[0] if job else "-"
        if result.verdict is Verdict.CLEAN:
            return Check(True)
        if result.verdict is Verdict.INFECTED:
            names = result.signatures or ("(unnamed)",)
            log.warning("malware found: transfer %s, %s, engines %s, signatures %s", transfer_id, what,
                        result.engine, ", ".join(names))
            if count:
                count_malware()
            return Check(True, CODE_MALWARE, f"malware found by {result.engine}: {', '.join(names)}", names,
                         tuple({"code": FINDING_MALWARE, "detail": name} for name in names))
        if result.verdict is Verdict.TOO_LARGE:
            if self.settings.on_too_large == "disarm_unscanned":
                return Check(False, findings=({"code": FINDING_TOO_LARGE, "detail": result.reason[:300]},))
            return Check(False, "scan_too_large", f"too large for the malware scan: {result.reason}"[:400])
        _count(UNAVAILABLE_COUNTER)
        reason = f"the malware scan could not be done: {result.reason}"[:400]
        if self.settings.on_unavailable == "defer" and self.can_defer:
            log.warning("malware scan unavailable, transfer %s waits: %s", transfer_id, result.reason[:300])
            raise ScanDeferred(result.reason[:300])
        log.warning("malware scan unavailable, transfer %s: the %s is blocked: %s", transfer_id, what,
                    result.reason[:300])
        return Check(False, result.reason_code or "scan_unavailable", reason)

    # health -----------------------------------------------------------------------------------
    def statuses(self) -> list[EngineStatus]:
        return self.scanner.statuses() if self.scanner is not None else []

    def engines_answer(self) -> bool:
        """Every engine answers now with fresh signatures (asked again, not from the cache): a scan
        that failed then failed for its file, not because the engines are away."""
        return self.scanner is not None and all(s.available and not s.stale for s in self.scanner.statuses(True))

    def ready(self) -> tuple[bool, list[str]]:
        return self.scanner.ready() if self.scanner is not None else (True, [])


def status_lines(settings: AntivirusSettings) -> list[str]:
    """The start-up summary's antivirus lines (each engine asked once, with a short timeout)."""
    scanner = build_scanner(settings, min(settings.timeout_seconds, STATUS_TIMEOUT))
    if scanner is None:
        return ["  antivirus    OFF: no engine configured ([antivirus] engines); files are not scanned "
                "(reports say scanned: false)"]
    lines = []
    for status in scanner.statuses(refresh=True):
        lines.append(f"  antivirus    {describe(status)}")
    if settings.max_signature_age_hours == 0:
        lines.append("               signature age not checked ([antivirus] max_signature_age_hours = 0)")
    policy = ("files wait until it is back" if settings.on_unavailable == "defer"
              else "files are blocked while it is")
    lines.append(f"               when an engine is unavailable: {settings.on_unavailable} ({policy})")
    return lines


def describe(status: EngineStatus) -> str:
    """One engine in one line: name, version, signatures and their age, and whether it is usable."""
    if not status.available:
        return f"{status.engine}: UNAVAILABLE - {status.reason}"
    signatures = f"signatures {status.signature_version or '(no version)'}"
    if status.age_hours is not None:
        signatures += f", {status.age_hours:.1f} h old"
    state = f"NOT READY - {status.reason}" if status.stale else "ready"
    return f"{status.engine}: {status.version or '(version unknown)'}, {signatures}: {state}"


def metrics(stage: MalwareStage | None, spool: Path) -> str:
    """Prometheus lines: the counters, and each engine's state and signature age."""
    lines = ["# HELP gateway_malware_found_total Files (originals or outputs) an antivirus engine found infected.",
             "# TYPE gateway_malware_found_total counter",
             f"gateway_malware_found_total {counted(spool, MALWARE_COUNTER)}",
             "# HELP gateway_scan_unavailable_total Malware scans that could not be done (the file waited or was "
             "blocked).",
             "# TYPE gateway_scan_unavailable_total counter",
             f"gateway_scan_unavailable_total {counted(spool, UNAVAILABLE_COUNTER)}",
             "# HELP gateway_antivirus_configured Antivirus engines configured (0: files are not scanned).",
             "# TYPE gateway_antivirus_configured gauge",
             f"gateway_antivirus_configured {len(stage.scanner.engines) if stage and stage.scanner else 0}"]
    statuses = stage.statuses() if stage is not None else []
    if statuses:
        lines += ["# HELP gateway_antivirus_up 1 when the engine answers and its signatures are fresh enough.",
                  "# TYPE gateway_antivirus_up gauge"]
        lines += [f'gateway_antivirus_up{{engine="{_label(s.engine)}"}} {int(s.available and not s.stale)}'
                  for s in statuses]
        lines += ["# HELP gateway_antivirus_signature_age_hours Age of the engine's signatures (when it reports it).",
                  "# TYPE gateway_antivirus_signature_age_hours gauge"]
        lines += [f'gateway_antivirus_signature_age_hours{{engine="{_label(s.engine)}"}} {s.age_hours:.2f}'
                  for s in statuses if s.age_hours is not None]
        lines += ["# HELP gateway_antivirus_info The engine's version and signature version.",
                  "# TYPE gateway_antivirus_info gauge"]
        lines += [f'gateway_antivirus_info{{engine="{_label(s.engine)}",version="{_label(s.version or "")}",'
                  f'signature_version="{_label(s.signature_version or "")}"}} 1' for s in statuses]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")[:200]


def readiness(stage: MalwareStage | None) -> tuple[bool, list[str], list[dict[str, Any]]]:
    """(ready, reasons, every engine's status) for /readyz."""
    if stage is None or stage.scanner is None:
        return True, [], []
    statuses = stage.statuses()
    reasons = [f"antivirus {s.engine}: {s.reason}" for s in statuses if not s.available or s.stale]
    return not reasons, reasons, [s.as_dict() for s in statuses]


def signatures_of(results: Iterable[dict[str, Any]]) -> set[str]:
    """Every signature named in ``results`` (``gateway sanitize`` objects, members included)."""
    found: set[str] = set()
    for result in results:
        found.update(str(s) for s in result.get("signatures") or [])
        found |= signatures_of(m for m in result.get("members") or [] if isinstance(m, dict))
    return found
