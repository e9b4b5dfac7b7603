"""Signature freshness: is an engine's pattern file young enough to trust its "clean"?

An engine that reports its signature date (clamd) is stale when the date is older than
``max_signature_age_hours``, or unknown (clamd with no daily database loaded cannot prove it is
up to date, so it fails closed). Engines that cannot report a date (ICAP servers: RFC 3507 has no
such field; the ISTag changes when their signatures do) are left to their own update checks.
A stale engine's scans count as unavailable with reason code ``signatures_stale``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from gateway.antivirus.verdict import EngineStatus


def stale_reason(max_age_hours: float) -> str:
    return f"signatures older than {max_age_hours:g} hours"


def judge(status: EngineStatus, max_age_hours: float | None, reports_signature_date: bool) -> EngineStatus:
    """``status`` with ``stale`` and ``reason`` set when the maximum age applies and is not met."""
    if not status.available or max_age_hours is None or not reports_signature_date:
        return status
    if status.signature_date is None or status.age_hours is None:
        return replace(status, stale=True, reason=(
            f"{stale_reason(max_age_hours)} cannot be ruled out: {status.engine} reports no signature date "
            "(no daily database loaded)"))
    if status.age_hours > max_age_hours:
        number = f" {status.signature_version}" if status.signature_version else ""
        return replace(status, stale=True, reason=(
            f"{stale_reason(max_age_hours)}: {status.engine}'s signatures{number} were built "
            f"{_when(status.signature_date)}, {status.age_hours:.1f} hours ago"))
    return status


def _when(date: datetime) -> str:
    return date.isoformat(timespec="minutes")
