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


def current_transfer() -> tuple[str, Path | None] | None:
    """(transfer id, spool) of the job this runs for, or None outside a service job."""
    job = _CURRENT.get()
    return None if job is None else (job.transfer_id, job.spool)


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


TRACEBACK_FRAME = re.compile(r'^  File "(?P<file>[^"\n]{1,400})", line (?P<line>[0-9]{1,9}), '
                             r"in (?P<function>\S{1,100})$")
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][A-Za-z0-9_.]{0,150})(:|$)")


def crash_record(returncode: int, stderr_tail: str) -> bytes:
    """A per-job sandboxed process that ended with ``returncode``, in the zygote's crash-record
    shape (so ``describe`` checks and words it the same way): the last Python traceback in its
    standard error when there is one (frames and exception type only, never the message line,
    which may quote the input), else the signal or the exit status."""
    frames: list[list[str | int]] = []
    kind = ""
    for line in stderr_tail.splitlines():
        frame = TRACEBACK_FRAME.match(line)
        if line.startswith("Traceback (most recent call last)"):
            frames, kind = [], ""
        elif frame:
            path = frame["file"]
            short = path[path.rfind("/converters/") + 1:] if "/converters/" in path else path.rsplit("/", 1)[-1]
            frames.append([short, int(frame["line"]), frame["function"]])
        elif frames and not kind and (found := EXCEPTION_LINE.match(line)):
            kind = found["type"]
    if frames and kind:
        return json.dumps({"type": kind, "frames": frames[-MAX_FRAMES:]}).encode("ascii")
    if returncode < 0 or returncode > 128:  # killed by a signal (bubblewrap reports 128 + N)
        return json.dumps({"signal": -returncode if returncode < 0 else returncode - 128}).encode("ascii")
    return json.dumps({"exit": returncode}).encode("ascii")


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
