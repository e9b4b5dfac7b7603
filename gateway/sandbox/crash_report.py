"""Sandboxed children that crash, made diagnosable: where the child failed (exception type, last
frames: file, line, function; never the exception's message, which may quote the input) goes to
the log with the transfer id and the SHA-256 of the job's input, and a counter every process of
the service adds to and ``/metrics`` reads.

The counter is a file in the spool (``sandbox-crashes``) that grows by one byte per crash:
appends with O_APPEND are atomic between the worker processes, and its size is the count.

The transfer id is set by the service around each job (``transfer``); outside the service
(``gateway mail``, ``gateway sanitize``) it is "-" and nothing is counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
COUNTER_FILE = "sandbox-crashes"
MAX_FRAMES = 8
TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,150}")
FILE_NAME = re.compile(r"[A-Za-z0-9_.<>/ -]{1,200}")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_.<>]{1,100}")


@dataclass(frozen=True)
class _Job:
    transfer_id: str
    spool: Path | None


_CURRENT: ContextVar[_Job | None] = ContextVar("gateway_transfer", default=None)


@contextlib.contextmanager
def transfer(transfer_id: str, spool: Path | None) -> Iterator[None]:
    """Crashes while this runs are logged with ``transfer_id`` and counted in ``spool``."""
    token = _CURRENT.set(_Job(transfer_id, spool))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def describe(payload: bytes) -> str:
    """The crash record a zygote answered with, as one log-safe line: ``Type at file:line in
    function < ...`` (innermost first), ``signal N``, ``exit N``; whatever does not fit the
    expected shape is "unreadable" (the record comes from the sandbox: it is checked, not trusted)."""
    if not payload:
        return "no crash record (the sandboxed worker itself stopped)"
    try:
        record = json.loads(payload.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "unreadable crash record"
    if not isinstance(record, dict):
        return "unreadable crash record"
    for key in ("signal", "exit"):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and -1 <= value <= 255:
            return f"{key} {value}"
    kind, frames = record.get("type"), record.get("frames")
    if not (isinstance(kind, str) and TYPE_NAME.fullmatch(kind) and isinstance(frames, list)):
        return "unreadable crash record"
    places = []
    for frame in reversed(frames[-MAX_FRAMES:]):
        if not (isinstance(frame, list) and len(frame) == 3 and isinstance(frame[0], str)
                and FILE_NAME.fullmatch(frame[0]) and isinstance(frame[1], int) and not isinstance(frame[1], bool)
                and isinstance(frame[2], str) and FUNCTION_NAME.fullmatch(frame[2])):
            places.append("?")
            continue
        places.append(f"{frame[0]}:{frame[1]} in {frame[2]}")
    return f"{kind} at {' < '.join(places) or '?'}"


def report_crash(command: str, input_sha256: str, payload: bytes) -> str:
    """Log one crashed child and count it; returns the logged description."""
    job = _CURRENT.get()
    description = describe(payload)
    log.error("sandboxed child crashed: transfer %s, input sha256 %s, %s: %s",
              job.transfer_id if job else "-", input_sha256, command, description)
    if job is not None and job.spool is not None:
        try:
            descriptor = os.open(job.spool / COUNTER_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, b"+")
            finally:
                os.close(descriptor)
        except OSError as exc:
            log.error("the crash counter could not be written: %s", type(exc).__name__)
    return description


def crash_count(spool: Path) -> int:
    """Crashed sandboxed children counted in ``spool`` so far."""
    try:
        return (spool / COUNTER_FILE).stat().st_size
    except FileNotFoundError:
        return 0
