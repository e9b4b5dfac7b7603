"""Run untrusted parsing in a child process: bubblewrap (no network, read-only system, private
/tmp, only the job's directories bound), rlimits (CPU, address space, file size, processes),
an unprivileged user, and a wall-clock timeout that kills the whole process group.

Started as root, the sandbox switches to a uid of its own for each job inside bubblewrap
(setpriv), so the process limit counts only that job's processes and no two jobs can touch each
other's files. Started as another user, bubblewrap's
user namespace is used instead.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import converters
from gateway.config import SandboxSettings
from gateway.errors import (
    GatewayError,
    SandboxCrash,
    SandboxFailure,
    SandboxResourceLimit,
    SandboxTimeout,
    SandboxUnavailable,
)
from gateway.sandbox.crash_report import crash_record, report_crash
from gateway.sandbox.seccomp import filter_program, program_descriptor

log = logging.getLogger(__name__)
MAX_REPORT_BYTES = 32 * 1024 * 1024
LOADED_FILTERS: set[bytes] = set()  # filters seen to load in bubblewrap in this process
STDERR_TAIL = 4000
SYSTEM_RO_BINDS = ("/usr", "/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/etc/libreoffice",
                   "/var/cache/fontconfig")
MAGIC_DATABASE = "/usr/lib/file/magic.mgc"  # libmagic reads only this, never $HOME/.magic (HOME is /tmp)
SYSTEM_SYMLINKS = (("usr/lib", "/lib"), ("usr/lib64", "/lib64"), ("usr/bin", "/bin"),
                   ("usr/sbin", "/sbin"))


@dataclass(frozen=True)
class Bind:
    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class SandboxResult:
    stdout: bytes
    stderr_tail: str


def _ancestors(targets: list[str]) -> list[str]:
    """Every parent directory of the bind targets, shallowest first (bwrap would make them 0700)."""
    parents: set[str] = set()
    for target in targets:
        parents.update(str(p) for p in Path(target).parents if str(p) != "/")
    return sorted(parents, key=lambda p: (p.count("/"), p))


class Capture:
    """Reads one pipe of a child on a thread, keeping at most ``limit`` bytes (the first ones, or
    with ``tail`` the last ones); a child that overflows a head-capped pipe is killed."""

    def __init__(self, process: subprocess.Popen[bytes], limit: int, *, tail: bool = False) -> None:
        self.process, self.limit, self.tail = process, limit, tail
        self.data = bytearray()
        self.overflowed = False
        stream = process.stderr if tail else process.stdout
        if stream is None:
            raise SandboxCrash("the sandboxed process has no output pipe")
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        while chunk := stream.read(65536):
            if self.overflowed:
                continue  # drain until the killed process closes the pipe
            self.data.extend(chunk)
            if len(self.data) <= self.limit:
                continue
            if self.tail:
                del self.data[: len(self.data) - self.limit]
            else:
                self.overflowed = True
                self.data.clear()
                Sandbox.kill_group(self.process)

    def join(self) -> None:
        self.thread.join(timeout=30)


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    output: Capture
    errors: Capture


class Sandbox:
    """Runs a command under the configured isolation; see the module docstring."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.bwrap = shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit")
        self.setpriv = shutil.which("setpriv")
        if settings.mode == "bwrap":
            if self.bwrap is None or self.prlimit is None:
                raise SandboxUnavailable(
                    "bubblewrap (bwrap) and prlimit are required; install them with scripts/setup.sh "
                    "or set [sandbox] mode = \"none\" with allow_unsandboxed = true")
            self.as_root = os.geteuid() == 0
            if self.as_root and self.setpriv is None:
                raise SandboxUnavailable("setpriv (util-linux) is required to drop root in the sandbox")
        else:
            self.as_root = False
        self.seccomp = filter_program() if settings.mode == "bwrap" and settings.seccomp else None
        if self.seccomp is not None and self.seccomp not in LOADED_FILTERS:
            self._check_filter_loads(self.seccomp)

    def _check_filter_loads(self, program: bytes) -> None:
        """Run one sandboxed /bin/true under the filter (once per process): a kernel or container
        that cannot load it must stop the start, not turn every mail into a sandbox failure."""
        self.self_test()
        LOADED_FILTERS.add(program)

    def self_test(self) -> None:
        """One sandboxed /bin/true; a kernel or container where bubblewrap cannot make the sandbox
        (no user namespaces, a masked /proc, no CAP_NET_ADMIN for a root-owned network namespace, a
        filter it cannot load) raises SandboxUnavailable with bubblewrap's own last line."""
        running = self.spawn(["/bin/true"], [])
        try:
            self.finish(running, 60)
        except GatewayError as exc:
            said = [line for line in bytes(running.errors.data).decode("utf-8", "replace").splitlines()
                    if line.startswith("bwrap:")]
            hint = "" if self.seccomp is None else ", or set [sandbox] seccomp = false if bubblewrap names --seccomp"
            raise SandboxUnavailable(f"the sandbox cannot be loaded here ({said[-1][:200] if said else exc.reason}); "
                                     "fix the kernel or container settings (in a container: the options at the "
                                     f"top of the Dockerfile){hint}") from exc

    def new_uid(self) -> int:
        """A uid for one job (only meaningful when started as root)."""
        return self.settings.uid_base + secrets.randbelow(self.settings.uid_count)

    def prepare_writable(self, path: Path, uid: int) -> None:
        """Make ``path`` writable by the job's sandbox user."""
        path.mkdir(parents=True, exist_ok=True)
        if self.as_root and self.settings.mode == "bwrap":
            os.chown(path, uid, uid)

    def python_argv(self, *args: str) -> list[str]:
        """Isolated mode (-I): no current directory (the writable /tmp) or environment on the
        import path, so nothing a job writes can ever be imported; -B: no bytecode written."""
        return [sys.executable, "-I", "-B", "-m", "converters", *args]

    def _python_binds(self) -> list[Bind]:
        roots = {Path(sys.base_prefix), Path(sys.prefix), Path(converters.__file__).resolve().parent}
        return [Bind(root, str(root)) for root in sorted(roots)]

    def _limits_prefix(self, prlimit: str, cpu_seconds: int | None) -> list[str]:
        s = self.settings
        return [prlimit, f"--cpu={cpu_seconds or s.cpu_seconds}", f"--as={s.memory_mb * 1024 * 1024}",
                f"--fsize={s.file_size_mb * 1024 * 1024}", f"--nproc={s.max_processes}",
                "--core=0", "--"]

    def command(self, argv: list[str], binds: list[Bind], uid: int | None = None,
                cpu_seconds: int | None = None, seccomp_fd: int | None = None) -> list[str]:
        """The full command line; ``seccomp_fd`` is a descriptor (passed to the child) holding
        the system-call filter, required when the filter is on."""
        if self.settings.mode == "none":
            return argv
        if self.bwrap is None or self.prlimit is None:
            raise SandboxUnavailable("bubblewrap or prlimit disappeared")
        if self.seccomp is not None and seccomp_fd is None:
            raise SandboxUnavailable("the system-call filter was not handed to the sandbox")
        cmd = [*self._limits_prefix(self.prlimit, cpu_seconds), self.bwrap, "--die-with-parent", "--new-session",
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if seccomp_fd is not None:
            cmd += ["--seccomp", str(seccomp_fd)]
        if not self.as_root:
            cmd.append("--unshare-user")
        cmd += ["--perms", "0755", "--dir", "/etc"]
        for path in SYSTEM_RO_BINDS:
            cmd += ["--ro-bind-try", path, path]
        for link, target in SYSTEM_SYMLINKS:
            cmd += ["--symlink", link, target]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size",
                str(self.settings.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        all_binds = [*self._python_binds(), *binds]
        for directory in _ancestors([b.target for b in all_binds]):
            cmd += ["--perms", "0755", "--dir", directory]
        for bind in all_binds:
            cmd += ["--bind" if bind.writable else "--ro-bind", str(bind.source), bind.target]
        cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                "--setenv", "PYTHONNOUSERSITE", "1", "--setenv", "OMP_NUM_THREADS", "1",
                *(["--setenv", "MAGIC", MAGIC_DATABASE] if Path(MAGIC_DATABASE).is_file() else []),
                "--chdir", "/tmp"]
        if self.as_root and self.setpriv is not None:
            user = str(self.settings.uid_base if uid is None else uid)
            cmd += ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", self.setpriv, f"--reuid={user}",
                    f"--regid={user}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                    "--no-new-privs", "--"]
        else:
            cmd.append("--")
        return [*cmd, *argv]

    def spawn(self, argv: list[str], binds: list[Bind], *, pass_fds: tuple[int, ...] = (), uid: int | None = None,
              with_stdin: bool = False) -> Running:
        """Start ``argv`` in the sandbox. ``pass_fds`` are handed to the child and closed here;
        with ``with_stdin`` the caller may write the child's standard input (a spare's job)."""
        seccomp_fd = None
        try:
            seccomp_fd = self._seccomp_fd()
            process = subprocess.Popen(
                self.command(argv, binds, uid, seccomp_fd=seccomp_fd),
                stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, env=self._env(),
                pass_fds=(*pass_fds, *([] if seccomp_fd is None else [seccomp_fd])))
        finally:
            for descriptor in (*pass_fds, *([] if seccomp_fd is None else [seccomp_fd])):
                os.close(descriptor)
        return Running(process, Capture(process, MAX_REPORT_BYTES), Capture(process, STDERR_TAIL, tail=True))

    def _seccomp_fd(self) -> int | None:
        return program_descriptor(self.seccomp) if self.seccomp is not None else None

    def spawn_server(self, argv: list[str], *, uid: int, cpu_seconds: int) -> tuple[subprocess.Popen[bytes], Capture]:
        """Start a long-lived sandboxed process that talks over its standard input and output
        (both raw pipes for the caller); only the tail of its standard error is kept."""
        seccomp_fd = self._seccomp_fd()
        try:
            process = subprocess.Popen(self.command(argv, [], uid, cpu_seconds, seccomp_fd), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                       env=self._env(), bufsize=0, pass_fds=() if seccomp_fd is None else (seccomp_fd,))
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        return process, Capture(process, STDERR_TAIL, tail=True)

    def finish(self, running: Running, timeout: float | None = None, *, input_sha256: str = "-") -> SandboxResult:
        """Wait for a started child; raise a SandboxFailure unless it exits 0. Standard output is
        capped at MAX_REPORT_BYTES (the child is killed beyond it); only stderr's tail is kept.
        A crash (not a timeout or a resource limit) is logged with where it happened, the job's
        transfer id and ``input_sha256``, and counted (gateway/sandbox/crash_report.py)."""
        limit = timeout if timeout is not None else self.settings.timeout_seconds
        process = running.process
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill_group(process)
            process.wait()
            raise SandboxTimeout(f"processing took longer than {int(limit)} s and was stopped") from None
        finally:
            running.output.join()
            running.errors.join()
        if running.output.overflowed:
            raise SandboxCrash("the converter produced an oversized report")
        tail = bytes(running.errors.data).decode("utf-8", "replace")
        if process.returncode != 0:
            failure = self._failure(process.returncode, tail)
            if isinstance(failure, SandboxCrash):
                report_crash("sandboxed process", input_sha256, crash_record(process.returncode, tail))
            raise failure
        return SandboxResult(bytes(running.output.data), tail)

    def run(self, argv: list[str], binds: list[Bind], *, timeout: float | None = None,
            pass_fds: tuple[int, ...] = (), uid: int | None = None, input_sha256: str = "-") -> SandboxResult:
        """Run ``argv`` in the sandbox to completion (see ``spawn`` and ``finish``)."""
        return self.finish(self.spawn(argv, binds, pass_fds=pass_fds, uid=uid), timeout, input_sha256=input_sha256)

    def stop(self, running: Running) -> None:
        self.kill_group(running.process)
        running.process.wait()
        running.output.join()
        running.errors.join()

    def _env(self) -> dict[str, str]:
        if self.settings.mode == "bwrap":
            return {"PATH": "/usr/bin:/bin"}
        return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    @staticmethod
    def kill_group(process: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @staticmethod
    def _failure(returncode: int, stderr_tail: str) -> SandboxFailure:
        signalled = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
        log.warning("sandboxed process failed: exit %s", returncode)
        if signalled in (signal.SIGXCPU, signal.SIGXFSZ, signal.SIGKILL) or "MemoryError" in stderr_tail:
            return SandboxResourceLimit("the file needs more time, memory or disk than allowed")
        return SandboxCrash("the converter stopped unexpectedly; the file was not passed")
