"""A long-lived sandboxed worker that forks a fresh child for every job (``python -m converters
zygote``), so that a job costs a fork instead of a sandbox and interpreter start.

The zygote itself never parses untrusted bytes: it reads a request from standard input (one
JSON line, then the input's bytes), forks, and the child does the work in a private scratch
directory, writes its answer into a pipe and exits. The zygote relays that answer (capped) on
standard output, then kills every process the child may have left behind and removes the
scratch directory before it takes the next request, so no job ever sees another's state.

The zygote is not dumpable (its children inherit this): a child taken over by hostile input
can neither ptrace it nor read its memory. The child lowers its own CPU limit; the zygote
enforces the wall-clock limit and kills a child that overruns it.

Commands: ``mail-split`` (a mail's parts), ``convert`` (one file disarmed, rebuild method),
``inspect`` (the independent check of outputs). ``--preload mail|files`` says which modules
the zygote loads before its first fork.

Request:  {"command": "mail-split", "size": N, "options": {...}, "cpu_seconds": S, "timeout": T}\\n + N bytes
          (the request line is at most MAX_REQUEST_LINE bytes: anything long goes in the N bytes)
Answer:   {"status": "ok"|"crash"|"limit"|"timeout"|"oversize", "size": M}\\n + M bytes
The M bytes (status ok) are the child's payload: {"report": ..., "files": [[name, size], ...]}\\n
followed by the files' bytes in that order. Those of a crash say where the child failed:
{"type": exception type, "frames": [[file, line, function], ...]} (never the exception's message,
which may quote the input), or {"signal": N} / {"exit": N} when it left no record.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import mmap
import os
import resource
import select
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from converters.protocol import MAX_ANSWER_BYTES, MAX_REQUEST_LINE

CHILD_LOG = "child.log"
CHILD_LOG_TAIL = 4000
CRASH_FRAMES = 8
MAX_CRASH_BYTES = 8192
PR_SET_DUMPABLE = 4
EXIT_LIMIT = 3
WARM_UP_MAIL = (
    b"From: =?ISO-2022-JP?B?GyRCJTUlcyVXJWsbKEI=?= <a@example.jp>\r\nTo: b@example.jp\r\n"
    b"Subject: =?shift_jis?B?g1SDk4N2g4s=?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B%5%s%W%k\x1b(B\r\n--b\r\n"
    b"Content-Type: text/html; charset=EUC-JP\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"PHA+pbWls6W3peunzzwvcD4=\r\n--b--\r\n")


def _mail_split(data: bytes, options: dict[str, Any], scratch: Path) -> Any:
    """The mail's parts: body.txt and att-N files in the scratch directory."""
    from converters.mail.split import split_mail

    return split_mail(data, scratch, defang=bool(options.get("defang", True)))


def _convert(data: bytes, options: dict[str, Any], scratch: Path) -> Any:
    """One file disarmed by the engine (rebuild only: no pixel stream); outputs under out/."""
    from converters.base import Limits
    from converters.engine import Engine

    source = scratch / "in" / "input"
    source.parent.mkdir()
    source.write_bytes(data)
    engine = Engine(scratch / "out", options["method"], Limits.from_dict(dict(options["limits"])))
    return engine.process(source, str(options["name"])).to_dict()


def _inspect(data: bytes, options: dict[str, Any], scratch: Path) -> Any:
    """Verdicts on the listed outputs. The input is their listing, one JSON line
    ``[[relative path, size], ...]``, then their bytes one after another (the listing travels
    with the bytes: an archive's thousands of outputs would not fit in a request line)."""
    from converters.inspect.outputs import inspect_file

    end = data.index(b"\n")
    root, offset, paths = scratch / "final", end + 1, []
    for relative, size in json.loads(data[:end]):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[offset:offset + size])
        offset += size
        paths.append(target)
    (scratch / "inspect").mkdir()
    return [inspect_file(path, scratch / "inspect").to_dict() for path in paths]


COMMANDS: dict[str, Callable[[bytes, dict[str, Any], Path], Any]] = {
    "mail-split": _mail_split, "convert": _convert, "inspect": _inspect}
ANSWER_FILES = {"mail-split": "", "convert": "out"}  # the files that go back: everything under this


def _files_under(root: Path) -> list[tuple[str, Path]]:
    """Regular files below ``root`` (no symlink followed), as (relative path, path), sorted."""
    found = []
    for folder, directories, names in os.walk(root):
        directories[:] = [d for d in directories if not os.path.islink(os.path.join(folder, d))]
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _payload(report: Any, root: Path | None) -> list[bytes]:
    files = _files_under(root) if root is not None and root.is_dir() else []
    chunks = [path.read_bytes() for _, path in files]
    header = {"report": report, "files": [[name, len(chunk)] for (name, _), chunk in zip(files, chunks, strict=True)]}
    return [json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n", *chunks]


def _short_path(filename: str) -> str:
    """A source file as a module path (``email/feedparser.py``): the import root it is under
    taken off, so that a report names code, never this machine's layout."""
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # converters/ itself may not be on sys.path
    roots = sorted((entry.rstrip("/") + "/" for entry in [*sys.path, project] if entry), key=len, reverse=True)
    for root in roots:
        if filename.startswith(root):
            return filename[len(root):]
    return os.path.basename(filename)


def crash_record(exc: BaseException) -> dict[str, Any]:
    """Where the child failed, for the operator: the exception's type and the last frames (file,
    line, function). Never the exception's message, which may quote the input."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    frames = traceback.extract_tb(exc.__traceback__)[-CRASH_FRAMES:]
    return {"type": name, "frames": [[_short_path(f.filename), f.lineno or 0, f.name] for f in frames]}


def _child(request: dict[str, Any], data: bytes, scratch: Path, answer: int, crash: mmap.mmap) -> None:
    """Runs in the forked child; never returns. It shares no open file with the zygote but its
    own answer pipe: standard input is /dev/null, standard output and error a file of its own
    (fcntl settings such as F_SETOWN/O_ASYNC on a shared stderr would outlive the child).
    When the job raises, where it failed goes into ``crash`` (memory shared with the zygote: no
    disk, which may be what ran out) for the zygote to answer with."""
    code = 1
    try:
        gc.disable()  # a child lives for one job: collections would only copy shared pages
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        log = os.open(scratch / CHILD_LOG, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for descriptor in (devnull, log):
            os.close(descriptor)
        scratch = scratch / "work"
        scratch.mkdir()
        cpu = int(request.get("cpu_seconds", 60))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        command = str(request["command"])
        report = COMMANDS[command](data, dict(request.get("options") or {}), scratch)
        files = ANSWER_FILES.get(command)
        with os.fdopen(answer, "wb", closefd=True) as channel:
            for chunk in _payload(report, None if files is None else scratch / files):
                channel.write(chunk)
        code = 0
    except MemoryError:
        code = EXIT_LIMIT
    except BaseException as exc:  # the child's boundary: report on stderr and in ``crash``, exit non-zero
        with contextlib.suppress(Exception):
            record = json.dumps(crash_record(exc)).encode("ascii")
            if len(record) <= MAX_CRASH_BYTES:
                crash[4:4 + len(record)] = record
                crash[:4] = len(record).to_bytes(4, "big")
        traceback.print_exc()
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)


def _collect(reader: int, pid: int, deadline: float) -> tuple[str, bytes]:
    """Read the child's answer until it exits, the deadline passes or the cap is hit."""
    answer = bytearray()
    pidfd = os.pidfd_open(pid)
    open_pipe = True
    status: int | None = None
    try:
        while status is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", b""
            watched = [pidfd, reader] if open_pipe else [pidfd]
            ready, _, _ = select.select(watched, [], [], remaining)
            if reader in ready:
                chunk = os.read(reader, 1024 * 1024)
                if not chunk:
                    open_pipe = False
                answer.extend(chunk)
                if len(answer) > MAX_ANSWER_BYTES:
                    return "oversize", b""
            if pidfd in ready and not (open_pipe and reader in ready):
                _, status = os.waitpid(pid, 0)
        os.set_blocking(reader, False)  # a process the child left behind may still hold the pipe open
        while open_pipe:  # whatever is still buffered
            try:
                chunk = os.read(reader, 1024 * 1024)
            except BlockingIOError:
                break
            if not chunk:
                break
            answer.extend(chunk)
            if len(answer) > MAX_ANSWER_BYTES:
                return "oversize", b""
    finally:
        os.close(pidfd)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return "ok", bytes(answer)
    signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if signalled in (signal.SIGXCPU, signal.SIGKILL) or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_LIMIT):
        return "limit", b""
    ended = {"signal": signalled} if signalled else {"exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}
    return "crash", json.dumps(ended).encode("ascii")


def _crash_answer(crash: mmap.mmap, ended: bytes) -> bytes:
    """The payload of a "crash" answer: the record the child left in ``crash``, else how it
    ended (``ended``: its signal or exit code)."""
    size = int.from_bytes(crash[:4], "big")
    return bytes(crash[4:4 + size]) if 0 < size <= MAX_CRASH_BYTES else ended


def _relay_child_log(scratch: Path) -> None:
    """The tail of what the child wrote on stdout/stderr, onto the zygote's standard error."""
    try:
        descriptor = os.open(scratch / CHILD_LOG, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - CHILD_LOG_TAIL))
        tail = handle.read(CHILD_LOG_TAIL)
    if tail:
        sys.stderr.write(tail.decode("utf-8", "replace"))
        sys.stderr.flush()


def _wipe_tmp(keep: frozenset[str]) -> None:
    """Empty the sandbox's private /tmp (shared by this zygote's jobs) between jobs, but for what
    was there before the first job (the folders leading to read-only binds, when the project
    itself lives under /tmp). Folders a job made read-only are opened up first."""
    for entry in os.scandir(tempfile.gettempdir()):
        if entry.name in keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            for folder, _, _ in os.walk(entry.path):
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o700)
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


LIMITS = tuple(getattr(resource, name) for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC",
                                                    "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_DATA", "RLIMIT_STACK",
                                                    "RLIMIT_MEMLOCK"))


def _rlimits() -> tuple[tuple[int, int], ...]:
    return tuple(resource.getrlimit(limit) for limit in LIMITS)


def _ipc_objects() -> int:
    """System V shared memory, queues and semaphores left in the sandbox's IPC namespace."""
    count = 0
    for kind in ("shm", "msg", "sem"):
        with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}", encoding="ascii") as listing:
            count += max(0, len(listing.read().splitlines()) - 1)
    return count


def _state_kept(keep: frozenset[str], limits: tuple[tuple[int, int], ...]) -> bool:
    """After a job in the sandbox: /tmp back to what it was, no IPC objects, our own rlimits
    unchanged (a child of the same uid may prlimit us). Otherwise the zygote must not go on."""
    _wipe_tmp(keep)
    return (frozenset(os.listdir(tempfile.gettempdir())) == keep and _ipc_objects() == 0
            and _rlimits() == limits)


def _clear_leftovers(pid: int, own_pid_namespace: bool) -> None:
    """Kill whatever the child left running and reap it. In the sandbox's own pid namespace that
    is every process but ourselves (and the namespace's init); otherwise the child's session."""
    if own_pid_namespace:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        try:
            reaped, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        if reaped == 0:
            return


def _read_exact(stream: Any, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _warm_up(preload: str) -> None:
    """Load every module and codec a job needs before the first fork, so children do not."""
    scratch = Path(tempfile.mkdtemp(prefix="warm-"))
    try:
        if preload == "files":
            import importlib

            from converters.inspect.outputs import inspect_file  # noqa: F401
            from converters.registry import REBUILD

            for target in sorted(set(REBUILD.values())):
                importlib.import_module(target.split(":")[0])
        else:
            import tnefparse  # noqa: F401  (only a winmail.dat needs it; loaded here, never from a job)

            _mail_split(WARM_UP_MAIL, {}, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _answer(status: str, payload: bytes = b"") -> None:
    header = json.dumps({"status": status, "size": len(payload)}).encode("ascii") + b"\n"
    os.write(1, header)
    view = memoryview(payload)
    while view:
        written = os.write(1, view)
        view = view[written:]


def serve(own_pid_namespace: bool, preload: str = "mail") -> int:
    """The zygote's loop (see the module docstring). Exit 0 when standard input closes.
    ``own_pid_namespace`` (only in the sandbox) lets it clear leftovers with kill(-1)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    _warm_up(preload)
    before_jobs = frozenset(os.listdir(tempfile.gettempdir()))
    limits = _rlimits()
    gc.freeze()  # what is loaded now is shared with every child, untouched by their collections
    requests = sys.stdin.buffer
    os.write(1, b'{"status": "ready", "size": 0}\n')
    while True:
        line = requests.readline(MAX_REQUEST_LINE)
        if not line:
            return 0
        request = json.loads(line)
        data = _read_exact(requests, int(request["size"]))
        if data is None:
            return 0
        if request.get("command") not in COMMANDS:
            _answer("crash")
            continue
        scratch = Path(tempfile.mkdtemp(prefix="job-"))
        reader, writer = os.pipe()
        crash = mmap.mmap(-1, MAX_CRASH_BYTES + 4)  # shared with the child: where it failed, if it does
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            _child(request, data, scratch, writer, crash)
        os.close(writer)
        del data
        try:
            status, payload = _collect(reader, pid, time.monotonic() + float(request.get("timeout", 60)))
            if status == "crash":
                payload = _crash_answer(crash, payload)
        finally:
            crash.close()
            os.close(reader)
            _clear_leftovers(pid, own_pid_namespace)
            _relay_child_log(scratch)
            shutil.rmtree(scratch, ignore_errors=True)
        if own_pid_namespace and not _state_kept(before_jobs, limits):
            _answer("crash")  # this job changed what the next one would inherit: it fails, we stop
            sys.stderr.write("zygote: a job left state behind; stopping\n")
            return 3
        _answer(status, payload)
