"""The sandbox really isolates: no network, no foreign files, bounded time, memory, processes."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.config import SandboxSettings
from gateway.errors import SandboxCrash, SandboxResourceLimit, SandboxTimeout
from gateway.sandbox.runner import Bind, Sandbox


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxSettings(timeout_seconds=60))


def test_runs_unprivileged_with_a_minimal_filesystem(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = Path("/tmp") / f"host-marker-{tmp_path.name}"
    marker.write_text("host /tmp")
    try:
        code = f"import os; print(os.getuid(), sorted(os.listdir('/')), os.path.exists('/var/lib'), " \
               f"os.path.exists('{marker}'))"
        uid, listing = sandbox.run(python(code), []).stdout.decode().split(" ", 1)
    finally:
        marker.unlink()
    assert int(uid) != 0
    assert "'home'" not in listing and "'mnt'" not in listing and "'srv'" not in listing
    assert listing.endswith("False False\n")  # no /var/lib, and /tmp is private


def test_cannot_connect_to_the_host_network(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[object] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    code = ("import socket\ntry:\n"
            f" socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\n"
            "except OSError as e: print('refused', type(e).__name__)")
    assert sandbox.run(python(code), []).stdout.startswith(b"refused")
    code = ("import socket\ntry:\n socket.getaddrinfo('example.com', 443); print('resolved')\n"
            "except OSError as e: print('no dns')")
    assert sandbox.run(python(code), []).stdout.startswith(b"no dns")
    time.sleep(0.2)
    assert not accepted
    server.close()


def test_cannot_read_or_write_outside_its_binds(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("original")
    out = tmp_path / "out"
    sandbox.prepare_writable(out, sandbox.settings.uid_base)
    code = (
        "import os\nresults = []\n"
        f"for p in ['{secret}', '/etc/shadow', '/root/.bashrc']:\n"
        "    try: open(p).read(); results.append('read')\n    except OSError: results.append('denied')\n"
        "for p in ['/usr/evil', '/out-escape']:\n"
        "    try: open(p, 'w').write('x'); results.append('wrote')\n"
        "    except OSError: results.append('denied')\n"
        "open('/job/out/ok.txt', 'w').write('fine')\nprint(' '.join(results))")
    result = sandbox.run(python(code), [Bind(out, "/job/out", writable=True)])
    assert result.stdout.decode().split() == ["denied"] * 5
    assert (out / "ok.txt").read_text() == "fine"
    assert secret.read_text() == "original"


def test_endless_loop_is_killed_on_time(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        sandbox.run(python("while True: pass"), [], timeout=2)
    assert time.monotonic() - started < 10


def test_unbounded_allocation_is_stopped() -> None:
    sandbox = Sandbox(SandboxSettings(memory_mb=512))
    with pytest.raises(SandboxResourceLimit):
        sandbox.run(python("blocks = []\nwhile True: blocks.append(bytearray(64 * 1024 * 1024))"), [])


def test_cpu_limit_stops_a_busy_child() -> None:
    sandbox = Sandbox(SandboxSettings(cpu_seconds=1, timeout_seconds=30))
    with pytest.raises(SandboxResourceLimit):
        sandbox.run(python("while True: pass"), [])


def test_process_count_is_limited() -> None:
    sandbox = Sandbox(SandboxSettings(max_processes=20))
    code = ("import os, time\nmade = 0\nfor _ in range(200):\n"
            "    try:\n        pid = os.fork()\n    except OSError: break\n"
            "    if pid == 0:\n        time.sleep(5); os._exit(0)\n    made += 1\nprint(made)")
    made = int(sandbox.run(python(code), [], timeout=30).stdout)
    assert made < 20


def test_crash_is_reported_not_hidden(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxCrash):
        sandbox.run(python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"), [])
