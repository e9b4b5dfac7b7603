"""The trusted side of ``converters/zygote.py``: keeps one sandboxed zygote running and sends it
jobs, one at a time. Each job is parsed in a fresh child forked inside the sandbox; what comes
back is a report and named files, both capped and validated here before anyone uses them.

Any trouble (timeout, a malformed or oversized answer, the zygote gone) fails that job with a
sandbox error and discards the zygote; the next job starts a new one. The zygote is also
replaced after ``MAX_JOBS`` jobs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass

from converters.protocol import MAX_ANSWER_BYTES, MAX_REQUEST_LINE
from gateway.errors import ReportInvalid, SandboxCrash, SandboxResourceLimit, SandboxTimeout
from gateway.sandbox.crash_report import report_crash
from gateway.sandbox.runner import MAX_REPORT_BYTES, Capture, Sandbox

log = logging.getLogger(__name__)
MAX_JOBS = 1000
MAX_HEADER_LINE = 4096
START_SECONDS = 60
ZYGOTE_CPU_SECONDS = 3600


class AnswerTooLarge(SandboxResourceLimit):
    """The child's answer was over the cap (the caller may try the job another way)."""


@dataclass(frozen=True)
class ZygoteAnswer:
    report: object
    files: dict[str, bytes]


class _Reader:
    """Reads a pipe with a deadline, keeping whatever came after the part asked for."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.buffer = bytearray()

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SandboxTimeout("processing took too long and was stopped")
        ready, _, _ = select.select([self.descriptor], [], [], remaining)
        if not ready:
            raise SandboxTimeout("processing took too long and was stopped")
        chunk = os.read(self.descriptor, 1024 * 1024)
        if not chunk:
            raise SandboxCrash("the sandboxed worker stopped unexpectedly; the input was not passed")
        self.buffer.extend(chunk)

    def line(self, limit: int, deadline: float) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > limit:
                raise ReportInvalid("the sandboxed worker sent an oversized header")
            self._fill(deadline)
        data = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return data

    def exact(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            self._fill(deadline)
        with memoryview(self.buffer) as view:
            data = bytes(view[:size])  # one copy (a bytearray slice would make two)
        del self.buffer[:size]
        return data


def _write_all(descriptor: int, data: bytes, deadline: float) -> None:
    """Write everything to a non-blocking pipe, or raise SandboxTimeout at the deadline (a
    zygote that stopped reading must not hang the worker)."""
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([], [descriptor], [], remaining)[1]:
            raise SandboxTimeout("the sandboxed worker stopped taking work")
        try:
            view = view[os.write(descriptor, view):]
        except BlockingIOError:
            continue


def _header(raw: bytes) -> dict[str, object]:
    try:
        header = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportInvalid("the sandboxed worker sent a malformed header") from exc
    if not isinstance(header, dict):
        raise ReportInvalid("the sandboxed worker sent a malformed header")
    return header


def _size(value: object, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ReportInvalid("the sandboxed worker announced an impossible size")
    return value


def parse_payload(payload: bytes, file_name: re.Pattern[str]) -> ZygoteAnswer:
    """The child's payload: a JSON line {"report", "files": [[name, size]...]}, then the files."""
    end = payload.find(b"\n")
    if end < 0 or end > MAX_REPORT_BYTES:
        raise ReportInvalid("the sandboxed child sent no usable report")
    try:
        header = json.loads(payload[:end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportInvalid("the sandboxed child's report is not valid JSON") from exc
    listing = header.get("files") if isinstance(header, dict) else None
    if not isinstance(listing, list):
        raise ReportInvalid("the sandboxed child's report has an unexpected shape")
    files: dict[str, bytes] = {}
    offset = end + 1
    for item in listing:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise ReportInvalid("the sandboxed child listed a malformed file")
        name, size = item[0], _size(item[1], len(payload) - offset)
        if not file_name.fullmatch(name) or name in files:
            raise ReportInvalid("the sandboxed child named an unexpected file")
        files[name] = payload[offset:offset + size]
        offset += size
    if offset != len(payload):
        raise ReportInvalid("the sandboxed child's files do not add up")
    return ZygoteAnswer(header.get("report"), files)


@dataclass
class _Live:
    process: subprocess.Popen[bytes]
    errors: Capture
    requests: int
    answers: _Reader


class Zygote:
    """One sandboxed zygote; not thread-safe (give each worker thread its own)."""

    def __init__(self, sandbox: Sandbox, preload: str = "mail") -> None:
        self.sandbox, self.preload = sandbox, preload
        self.live: _Live | None = None
        self.jobs = 0

    def start(self) -> _Live:
        """Start the zygote now (otherwise the first job does) and wait until it is ready."""
        if self.live is not None:
            return self.live
        own_namespace = ["--own-pid-namespace"] if self.sandbox.settings.mode == "bwrap" else []
        process, errors = self.sandbox.spawn_server(
            self.sandbox.python_argv("zygote", *own_namespace, f"--preload={self.preload}"), uid=self.sandbox.new_uid(),
            cpu_seconds=ZYGOTE_CPU_SECONDS)
        if process.stdin is None or process.stdout is None:
            raise SandboxCrash("the sandboxed worker has no pipes")
        os.set_blocking(process.stdin.fileno(), False)
        self.live = _Live(process, errors, process.stdin.fileno(), _Reader(process.stdout.fileno()))
        self.jobs = 0
        try:
            ready = _header(self.live.answers.line(MAX_HEADER_LINE, time.monotonic() + START_SECONDS))
            if ready.get("status") != "ready":
                raise SandboxCrash("the sandboxed worker did not start")
        except Exception:
            self.close()
            raise
        return self.live

    def run(self, command: str, data: bytes, options: dict[str, object], file_name: re.Pattern[str]) -> ZygoteAnswer:
        """Run one job in a fresh child; raise a SandboxFailure (or ReportInvalid) unless it
        answered in time with a well-formed payload."""
        live = self.start()
        settings = self.sandbox.settings
        request = {"command": command, "size": len(data), "options": options, "cpu_seconds": settings.cpu_seconds,
                   "timeout": settings.timeout_seconds}
        line = json.dumps(request).encode("ascii") + b"\n"
        if len(line) > MAX_REQUEST_LINE:  # the zygote would read it cut short: long content goes in the data
            raise ReportInvalid("the request for the sandboxed worker is too long")
        deadline = time.monotonic() + settings.timeout_seconds + 10
        try:
            _write_all(live.requests, line + data, deadline)
            header = _header(live.answers.line(MAX_HEADER_LINE, deadline))
            payload = live.answers.exact(_size(header.get("size"), MAX_ANSWER_BYTES), deadline)
        except (OSError, ValueError) as exc:
            self.close()
            report_crash(command, hashlib.sha256(data).hexdigest(), b"")
            raise SandboxCrash("the sandboxed worker stopped unexpectedly; the input was not passed") from exc
        except Exception:
            self.close()
            raise
        self.jobs += 1
        status = header.get("status")
        if self.jobs >= MAX_JOBS or status != "ok":  # after any trouble, a fresh zygote for the next job
            self.close()
        if status == "ok":
            return parse_payload(payload, file_name)
        log.warning("sandboxed child failed: %s", str(status)[:20])
        if status == "timeout":
            raise SandboxTimeout(f"processing took longer than {settings.timeout_seconds} s and was stopped")
        if status == "oversize":
            raise AnswerTooLarge("the converter's output is larger than a forked job may return")
        if status == "limit":
            raise SandboxResourceLimit("the input needs more time, memory or output than allowed")
        report_crash(command, hashlib.sha256(data).hexdigest(), payload)
        raise SandboxCrash("the converter stopped unexpectedly; the input was not passed")

    def close(self) -> None:
        live, self.live = self.live, None
        if live is None:
            return
        self.sandbox.kill_group(live.process)
        for stream in (live.process.stdin, live.process.stdout):
            if stream is not None:
                stream.close()
        live.process.wait()
        live.errors.join()
