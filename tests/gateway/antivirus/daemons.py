"""Test daemons: a real clamd and a real c-icap started in a temporary directory on loopback, with a
signature database the tests write, and small fake servers for the failure paths.

The marker and EICAR strings are assembled at run time so that no file of the repository carries
them whole (a scanner reading the repository stays quiet).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.antivirus.canary import eicar

MARKER = b"LGWAN-GATEWAY-" + b"TEST-MARKER-7d1f0c2e"
MARKER_SIGNATURE = "Gateway.Test.Marker"
EICAR_SIGNATURE = "Eicar-Test-Signature"
TESTFILE_SIGNATURE = "ClamAV-Test-File"
TESTFILES = Path("/usr/share/clamav-testfiles")
STREAM_MAX = 1024 * 1024  # StreamMaxLength of the test clamd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_signatures(db: Path) -> None:
    """EICAR and the marker as body signatures (.ndb), and clam.exe of clamav-testfiles by hash (.hdb)."""
    db.mkdir(parents=True, exist_ok=True)
    (db / "gateway-test.ndb").write_text(
        f"{MARKER_SIGNATURE}:0:*:{MARKER.hex()}\n{EICAR_SIGNATURE}:0:0:{eicar().hex()}\n", encoding="ascii")
    clam_exe = TESTFILES / "clam.exe"
    if clam_exe.is_file():
        data = clam_exe.read_bytes()
        (db / "gateway-test.hdb").write_text(
            f"{hashlib.md5(data).hexdigest()}:{len(data)}:{TESTFILE_SIGNATURE}\n", encoding="ascii")  # noqa: S324


def _user_line() -> str:
    """clamd as root must be told which user to stay (the one starting it)."""
    return f"User {pwd.getpwuid(os.geteuid()).pw_name}\n" if os.geteuid() == 0 else ""


def _wait(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {text}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {seconds} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Clamd:
    base: Path
    socket_path: Path
    port: int
    proc: subprocess.Popen[bytes]


def start_clamd(base: Path, stream_max: int = STREAM_MAX, extra: str = "") -> Clamd:
    """``extra``: more clamd.conf lines (limits, for instance)."""
    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    base.mkdir(parents=True, exist_ok=True)
    write_signatures(base / "db")
    (base / "tmp").mkdir(exist_ok=True)
    sock = base / "clamd.sock"
    port = free_port()
    log = base / "clamd.log"
    conf = base / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\n"
        f"DatabaseDirectory {base / 'db'}\nTemporaryDirectory {base / 'tmp'}\nLogFile {log}\n"
        f"PidFile {base / 'clamd.pid'}\nStreamMaxLength {stream_max}\nMaxThreads 4\nSelfCheck 3600\n"
        f"{_user_line()}{extra}", encoding="ascii")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(1)
                probe.connect(str(sock))
                probe.sendall(b"zPING\0")
                return probe.recv(16).startswith(b"PONG")
        except OSError:
            return False

    try:
        _wait(answers, proc, "clamd", log, 60)
    except BaseException:
        stop(proc)
        raise
    return Clamd(base, sock, port, proc)


def icap_module_dir() -> Path | None:
    for candidate in glob.glob("/usr/lib/*/c_icap/virus_scan.so"):
        return Path(candidate).parent
    return None


@dataclass
class Cicap:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]


def start_cicap(base: Path, clamd_socket: Path, port: int | None = None) -> Cicap:
    """c-icap with virus_scan over clamd: ``avscan`` (simple mode, no size limit: what the gateway
    should use), ``avstream`` (the default streaming mode) and the built-in ``echo``. ``port``: the
    one a stopped server had, to start it again where its clients look for it."""
    modules = icap_module_dir()
    if modules is None:
        raise RuntimeError("c-icap's virus_scan module is not installed")
    base.mkdir(parents=True, exist_ok=True)
    (base / "tmp").mkdir(exist_ok=True)
    port = port or free_port()
    log = base / "server.log"
    conf = base / "c-icap.conf"
    conf.write_text("\n".join([
        f"PidFile {base / 'c-icap.pid'}", f"CommandsSocket {base / 'c-icap.ctl'}",
        f"Port 127.0.0.1:{port}", f"TmpDir {base / 'tmp'}", "Timeout 30",
        "StartServers 1", "MaxServers 1", "MinSpareThreads 2", "MaxSpareThreads 8", "ThreadsPerChild 8",
        "MaxMemObject 131072", "DebugLevel 1",
        f"ModulesDir {modules}", f"ServicesDir {modules}",
        "TemplateDir /usr/share/c_icap/templates/", "TemplateDefaultLanguage en",
        "LoadMagicFile /etc/c-icap/c-icap.magic",
        f"ServerLog {log}", f"AccessLog {base / 'access.log'}",
        "Service echo srv_echo.so",
        "Module common clamd_mod.so", f"clamd_mod.ClamdSocket {clamd_socket}",
        "Service antivirus_module virus_scan.so",
        "ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple",
        "ServiceAlias avstream virus_scan?allow204=on",
        "virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GRAPHICS STREAM DOCUMENT",
        "virus_scan.DefaultEngine clamd",
        "virus_scan.Allow204Responces on",
        "virus_scan.MaxObjectSize 5M",
        "",
    ]), encoding="ascii")
    binary = shutil.which("c-icap") or "/usr/bin/c-icap"
    proc = subprocess.Popen([binary, "-N", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(f"OPTIONS icap://127.0.0.1:{port}/avscan ICAP/1.0\r\nHost: 127.0.0.1\r\n"
                              "Encapsulated: null-body=0\r\n\r\n".encode("ascii"))
                return probe.recv(32).startswith(b"ICAP/1.0 200")
        except OSError:
            return False

    try:
        _wait(answers, proc, "c-icap", log, 60)
    except BaseException:
        stop(proc)
        raise
    return Cicap(base, port, proc)


# -- fake servers for the failure paths -----------------------------------------------------------------


@dataclass
class FakeServer:
    """Accepts connections on a Unix socket or loopback TCP and hands each to ``handler`` in a thread.
    ``received`` collects everything each connection sent (in order)."""

    handler: Callable[[socket.socket, FakeServer], None]
    unix_path: Path | None = None
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> FakeServer:
        if self.unix_path is not None:
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(self.unix_path))
        else:
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            self.port = int(listener.getsockname()[1])
        listener.listen(8)
        listener.settimeout(0.1)
        self._listener = listener
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            with contextlib.suppress(OSError):
                self.handler(conn, self)

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=15)


def read_until(conn: socket.socket, ends: tuple[bytes, ...], server: FakeServer, limit: int = 64 << 20) -> bytes:
    """Read until the data ends with one of ``ends`` (or the peer closes); record it."""
    data = b""
    while not any(data.endswith(end) for end in ends) and len(data) < limit:
        part = conn.recv(65536)
        if not part:
            break
        data += part
    server.received.append(data)
    return data


def read_instream(conn: socket.socket, server: FakeServer) -> bytes:
    """Read one clamd command; for zINSTREAM the whole chunked stream. Returns what was read."""
    data = b""
    while b"\0" not in data:
        part = conn.recv(4096)
        if not part:
            server.received.append(data)
            return data
        data += part
    command, _, rest = data.partition(b"\0")
    if command != b"zINSTREAM":
        server.received.append(data)
        return data
    buffer = rest
    while True:
        while len(buffer) < 4:
            part = conn.recv(65536)
            if not part:
                server.received.append(data + buffer)
                return data
            buffer += part
            data += part
        size = int.from_bytes(buffer[:4], "big")
        buffer = buffer[4:]
        if size == 0:
            break
        while len(buffer) < size:
            part = conn.recv(65536)
            if not part:
                server.received.append(data)
                return data
            buffer += part
            data += part
        buffer = buffer[size:]
    server.received.append(data)
    return data


def instream_payload(raw: bytes) -> bytes:
    """The file content carried by a recorded zINSTREAM exchange."""
    command, _, rest = raw.partition(b"\0")
    assert command == b"zINSTREAM"
    out = b""
    while True:
        size = int.from_bytes(rest[:4], "big")
        if size == 0:
            return out
        out += rest[4:4 + size]
        rest = rest[4 + size:]


def hang(conn: socket.socket, server: FakeServer) -> None:
    """Accept, read whatever comes, never answer (until the test ends)."""
    conn.settimeout(0.2)
    while not server.stopping.is_set():
        try:
            if not conn.recv(65536):
                return
        except TimeoutError:
            continue


def hang_without_reading(conn: socket.socket, server: FakeServer) -> None:
    """Accept and never read: the client's send blocks once the buffers are full."""
    server.stopping.wait(30)


def clamd_answer(answer: bytes, version: bytes = b"ClamAV 1.4.6\0") -> Callable[[socket.socket, FakeServer], None]:
    def handler(conn: socket.socket, server: FakeServer) -> None:
        raw = read_instream(conn, server)
        if raw.startswith(b"zVERSION"):
            conn.sendall(version)
        elif raw.startswith(b"zPING"):
            conn.sendall(b"PONG\0")
        elif answer:
            conn.sendall(answer)
    return handler


@contextlib.contextmanager
def env_tz(name: str) -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()
