"""The sandbox's system-call filter, tried from inside the real sandbox: what a parser taken over
by a hostile file would reach for next (namespaces, ptrace, bpf, io_uring, mounts, exotic
sockets) is refused, while what parsers need (fork, UNIX sockets) still works."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import pytest

from gateway.config import SandboxSettings
from gateway.errors import SandboxUnavailable
from gateway.sandbox import runner as sandbox_module
from gateway.sandbox.runner import Bind, Sandbox

PROBE = r'''
import ctypes, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)

def call(function, *args):
    return 0 if function(*args) >= 0 else ctypes.get_errno()

found = {
    "unshare a user namespace": call(libc.unshare, 0x10000000),
    "unshare a mount namespace": call(libc.unshare, 0x00020000),
    "ptrace": call(libc.ptrace, 0, 0, 0, 0),
    "bpf": call(libc.syscall, 321, 0, 0, 0),
    "perf_event_open": call(libc.syscall, 298, 0, 0, -1, -1, 0),
    "userfaultfd": call(libc.syscall, 323, 0),
    "io_uring_setup": call(libc.syscall, 425, 1, 0),
    "keyctl": call(libc.syscall, 250, 0, 0),
    "mount": call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None),
    "clone3": call(libc.syscall, 435, 0, 0),
    "statmount (newer than libseccomp's names)": call(libc.syscall, 457, 0, 0, 0, 0),
}
for name, family, kind in (("packet socket", 17, socket.SOCK_RAW), ("vsock socket", 40, socket.SOCK_STREAM)):
    try:
        socket.socket(family, kind).close()
        found[name] = 0
    except OSError as exc:
        found[name] = exc.errno
found["vsock, high bits set"] = call(libc.syscall, 41, (1 << 32) | 40, 1, 0)  # the kernel reads 32 bits
pair = (ctypes.c_int * 2)()
found["vsock socketpair"] = call(libc.socketpair, 40, 1, 0, pair)
child = os.fork()
if child == 0:
    os._exit(7)
found["fork"] = os.waitpid(child, 0)[1] >> 8
socket.socket(socket.AF_UNIX).close()
print(json.dumps(found))
'''


def probe(tmp_path: Path, *, seccomp: bool) -> dict[str, int]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    sandbox = Sandbox(SandboxSettings(seccomp=seccomp))
    result = sandbox.run([sys.executable, "-I", "/probe/probe.py"], [Bind(script, "/probe/probe.py")])
    found: dict[str, int] = json.loads(result.stdout)
    return found


def test_the_filter_refuses_what_an_escape_needs_and_keeps_what_parsers_need(tmp_path: Path) -> None:
    found = probe(tmp_path, seccomp=True)
    sockets = ("packet socket", "vsock socket", "vsock, high bits set", "vsock socketpair")
    refused = {name: code for name, code in found.items() if name not in ("fork", "clone3", *sockets)}
    assert refused == dict.fromkeys(refused, errno.EPERM)
    assert found["clone3"] == errno.ENOSYS  # so the C library falls back to clone, whose flags are checked
    assert {found[name] for name in sockets} == {errno.EAFNOSUPPORT}
    assert found["fork"] == 7


def test_without_the_filter_the_same_probe_gets_further(tmp_path: Path) -> None:
    """The probe is not refused by the other walls alone: the filter is what stops it."""
    found = probe(tmp_path, seccomp=False)
    assert found["unshare a user namespace"] == 0 or found["mount"] == 0 or found["vsock socket"] == 0


def test_without_libseccomp_the_sandbox_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # as if it were not installed
    with pytest.raises(SandboxUnavailable, match="libseccomp"):
        Sandbox(SandboxSettings())


def test_a_filter_the_kernel_cannot_load_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise every mail would fail in the sandbox and be turned into a rejection."""
    monkeypatch.setattr(sandbox_module, "filter_program", lambda: b"not a BPF program")
    with pytest.raises(SandboxUnavailable, match="cannot be loaded"):
        Sandbox(SandboxSettings())
