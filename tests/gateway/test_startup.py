"""`gateway serve` start-up as an operator meets it: every failure ends the process within
seconds with one line naming the address or path (exit 2 for configuration, 1 otherwise), one
instance per data directory, SIGTERM honoured while starting, readiness told to systemd, and
every file the service writes private to its user."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.startup import make_private, notify, take_data_dir

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-m", "gateway", "serve"]
DOMAIN = "city.example.lg.jp"
ENDS_WITHIN = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def serve_args(data: Path, *extra: str) -> list[str]:
    return [*GATEWAY, "--data-dir", str(data), "--recipient-domains", DOMAIN,
            "--smtp-listen", f"127.0.0.1:{free_port()}", *extra]


def run_to_end(command: list[str], prefix: list[str] | None = None) -> tuple[int, str, float]:
    """Exit code, what it printed and how long it took; killed (and failed) past the limit."""
    started = time.monotonic()
    process = subprocess.Popen([*(prefix or []), *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, cwd=ROOT)
    try:
        output, _ = process.communicate(timeout=ENDS_WITHIN)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"still running after {ENDS_WITHIN} s: {output[-500:]}")
    return process.returncode, output, time.monotonic() - started


class Running:
    """A `gateway serve` in the background, read until it says ready."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True, cwd=ROOT, env=env)
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("gateway: ready"):
                return
        raise AssertionError(f"did not start: {''.join(self.lines)}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit code and the rest of the output (killed, and failed, past the limit)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()
            pytest.fail("ignored SIGTERM")
        return self.process.returncode, "".join(self.lines) + rest


def test_smtp_port_in_use_ends_with_exit_1_naming_the_address(tmp_path: Path, busy_port: int) -> None:
    command = [*GATEWAY, "--data-dir", str(tmp_path / "data"), "--recipient-domains", DOMAIN,
               "--smtp-listen", f"127.0.0.1:{busy_port}"]
    code, output, _ = run_to_end(command)
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{busy_port} (SMTP intake" in output and "in use" in output
    assert "gateway: ready" not in output and "Traceback" not in output


def test_http_port_in_use_ends_before_ready(tmp_path: Path, busy_port: int) -> None:
    code, output, _ = run_to_end(serve_args(tmp_path / "data", "--http-listen", f"127.0.0.1:{busy_port}"))
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{busy_port} (HTTP uploads" in output
    assert "gateway: ready" not in output


@pytest.mark.parametrize("source", ["flag", "file"])
@pytest.mark.parametrize(("key", "value", "named"), [
    ("smtp_listen", "127.0.0.1:99999", "port from 1 to 65535"),
    ("workers", 0, "must be a positive integer"),
    ("relay_networks", "192.0.2.0/33", "CIDR"),
])
def test_flags_are_checked_like_the_file(tmp_path: Path, source: str, key: str, value: object, named: str) -> None:
    if source == "flag":
        command = [*GATEWAY, "--data-dir", str(tmp_path / "data"), "--recipient-domains", DOMAIN,
                   f"--{key.replace('_', '-')}", str(value)]
        label = f"--{key.replace('_', '-')}"
    else:
        config = tmp_path / "gateway.toml"
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        config.write_text(f'[serve]\n{key} = {shown}\nrecipient_domains = "{DOMAIN}"\n'
                          f'data_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
        command = [*GATEWAY, "--config", str(config)]
        label = f"[serve] {key}"
    code, output, _ = run_to_end(command)
    assert code == 2
    assert label in output and named in output and "config_invalid" in output
    assert not (tmp_path / "data").exists()  # refused before anything was written


def test_the_file_refuses_a_listen_port_out_of_range(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[serve]\nhttp_listen = "127.0.0.1:0"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[serve\] http_listen must be HOST:PORT"):
        load_settings(config)


def test_a_data_directory_that_is_a_file_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a directory", encoding="utf-8")
    code, output, _ = run_to_end(serve_args(data))
    assert code == 2 and f"data directory {data} is not a directory" in output


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap makes the read-only mount")
def test_a_read_only_data_directory_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    read_only = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(data), str(data), "--"]
    code, output, _ = run_to_end(serve_args(data), prefix=read_only)
    assert code == 2 and f"data directory {data} cannot be used: Read-only file system" in output


def test_one_instance_per_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Running(serve_args(data, "--workers", "1"))
    try:
        code, output, _ = run_to_end(serve_args(data, "--workers", "1"))
        assert code == 2
        assert f"data directory {data} is in use by another gateway serve (pid {first.process.pid})" in output
        assert "gateway: ready" not in output
    finally:
        code, output = first.stop()
    assert code == 0 and "stopping" in output
    again = Running(serve_args(data, "--workers", "1"))  # the lock went with the process
    assert again.stop()[0] == 0


def test_the_lock_names_its_holder(tmp_path: Path) -> None:
    held = take_data_dir(tmp_path / "data")
    try:
        assert (tmp_path / "data" / "gateway.lock").read_text(encoding="ascii").strip() == str(os.getpid())
        child = subprocess.run([sys.executable, "-c", "import sys, pathlib; from gateway.startup import "
                                "take_data_dir; take_data_dir(pathlib.Path(sys.argv[1]))", str(tmp_path / "data")],
                               capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert child.returncode != 0 and f"(pid {os.getpid()})" in child.stderr
    finally:
        os.close(held)
    os.close(take_data_dir(tmp_path / "data"))  # free once the holder let go


def test_sigterm_while_starting_ends_the_start_up(tmp_path: Path) -> None:
    """The audit database does not answer (a listener that never accepts): start-up waits on it
    (connect_timeout 10 s) and a SIGTERM meanwhile ends the process at once."""
    pytest.importorskip("psycopg")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://gateway@127.0.0.1:{silent.getsockname()[1]}/audit"
        config = tmp_path / "gateway.toml"
        config.write_text(f'[serve]\naudit_database = "{url}"\n', encoding="utf-8")
        command = serve_args(tmp_path / "data", "--config", str(config))
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True, cwd=ROOT)
        time.sleep(2.5)
        assert process.poll() is None  # still waiting for the database
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail("SIGTERM was not honoured during start-up")
    assert time.monotonic() - sent < 3
    assert process.returncode == 0 and "stopped during start-up (SIGTERM)" in output and "gateway: ready" not in output


def test_systemd_is_told_when_ready(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(30)
        running = Running(serve_args(tmp_path / "data", "--workers", "1"),
                          env={**os.environ, "NOTIFY_SOCKET": str(path)})
        try:
            assert systemd.recv(100) == b"READY=1"
        finally:
            assert running.stop()[0] == 0
        assert systemd.recv(100) == b"STOPPING=1"


def test_notify_without_systemd_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_make_private_takes_group_and_other_bits_off(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir(mode=0o755)
    (tmp_path / "spool" / "old.eml").write_bytes(b"x")
    (tmp_path / "spool" / "old.eml").chmod(0o644)
    (tmp_path / "link").symlink_to("/etc/hostname")
    tmp_path.chmod(0o755)
    assert make_private(tmp_path) == 3
    assert stat.S_IMODE((tmp_path / "spool" / "old.eml").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    assert make_private(tmp_path) == 0


def group_or_other_readable(data: Path) -> list[str]:
    found = []
    for directory, _, files in os.walk(data):
        for name in [".", *files]:
            mode = os.lstat(os.path.join(directory, name)).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{os.path.join(directory, name)} {stat.filemode(mode)}")
    return found


def test_every_file_the_service_writes_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "quarantine").mkdir(parents=True)
    (data / "quarantine" / "from-an-earlier-version").write_bytes(b"x")
    os.chmod(data / "quarantine" / "from-an-earlier-version", 0o644)
    os.chmod(data, 0o755)  # noqa: S103 - as an earlier version left it
    port = free_port()
    running = Running([*GATEWAY, "--data-dir", str(data), "--recipient-domains", DOMAIN, "--workers", "1",
                       "--smtp-listen", f"127.0.0.1:{port}"])
    try:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "sender@example.co.jp", f"soumu@{DOMAIN}", "会議資料の送付"
        mail.set_content("お世話になっております。資料を添付します。\n")
        mail.add_attachment("日付,件名\n2024-04-01,定例会\n".encode(), maintype="text", subtype="csv",
                            filename="予定.csv")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(mail)
        deadline = time.monotonic() + 120
        while not list((data / "lgwan").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list((data / "lgwan").glob("*.eml")), "the mail was not delivered"
    finally:
        code, output = running.stop()
    assert code == 0
    assert "made 3 files and directories under" in output  # left by an earlier version: 2 directories, 1 file
    assert list((data / "quarantine").iterdir()) and (data / "audit.sqlite3").exists()
    assert group_or_other_readable(data) == []


def test_a_sandbox_that_cannot_start_ends_the_start_up_in_bubblewraps_words(tmp_path: Path) -> None:
    """As in a container without CAP_NET_ADMIN: the workers could never disarm a file, so the
    service must not say ready (and pass its health check) while they fail in a loop."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: loopback: Failed RTM_NEWADDR: No child processes' >&2\n"
                                "exit 1\n", encoding="utf-8")
    (fake / "bwrap").chmod(0o755)
    code, output, _ = run_to_end(["env", f"PATH={fake}:{os.environ['PATH']}", *serve_args(tmp_path / "data")])
    assert code == 2
    assert "the sandbox cannot be loaded here (bwrap: loopback: Failed RTM_NEWADDR" in output
    assert "gateway: ready" not in output and "Traceback" not in output
