"""The zygote under attack: the real zygote loop runs in the real bubblewrap sandbox, with
hostile job commands standing in for a parser taken over by its input. Whatever a child does,
the next job must start clean, and the trusted side must fail the job closed."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import SandboxSettings, Settings
from gateway.errors import ReportInvalid, SandboxCrash, SandboxResourceLimit, SandboxTimeout
from gateway.pipeline.sanitize import Sanitizer
from gateway.sandbox.crash_report import crash_count, describe, transfer
from gateway.sandbox.runner import Sandbox
from gateway.sandbox.zygote import Zygote, parse_payload

FILES = re.compile(r"body\.txt|att-[1-9][0-9]{0,3}")
HOSTILE_ZYGOTE = r"""
import os, sys, time
from pathlib import Path
import converters.zygote as z

def linger(data, options, scratch):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)
    return {"pid": pid}

def alive(data, options, scratch):
    try:  # a killed process not yet reaped by the namespace's init is a zombie: dead
        state = Path(f"/proc/{int(data)}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return {"alive": state != "Z"}
    except FileNotFoundError:
        return {"alive": False}

def peek(data, options, scratch):
    found = {}
    for name in ("mem", "environ"):
        try:
            with open(f"/proc/{os.getppid()}/{name}", "rb") as handle:
                handle.read(16)
            found[name] = "read"
        except OSError as exc:
            found[name] = type(exc).__name__
    return found

def hang(data, options, scratch):
    time.sleep(600)

def spin(data, options, scratch):
    while True:
        pass

def flood(data, options, scratch):
    (scratch / "body.txt").write_bytes(b"x" * (2 * z.MAX_ANSWER_BYTES))
    return {}

def kill_zygote(data, options, scratch):
    os.kill(os.getppid(), 9)
    time.sleep(5)

def bad_name(data, options, scratch):
    (scratch / "evil.sh").write_bytes(b"#!/bin/sh\n")
    return {}

def crash(data, options, scratch):
    raise RuntimeError("boom")

def parse_secret(data):
    raise ValueError("could not read " + data.decode())

def crash_quoting(data, options, scratch):
    parse_secret(data)

def segv(data, options, scratch):
    os.kill(os.getpid(), 11)

def echo(data, options, scratch):
    (scratch / "body.txt").write_bytes(data)
    return {"echo": True, "uid": os.getuid()}

def plant(data, options, scratch):
    Path("/tmp/planted_module.py").write_text("INJECTED = True\n")
    Path("/tmp/leftover").mkdir()
    return {}

def probe(data, options, scratch):
    try:
        import planted_module
        imported = True
    except ImportError:
        imported = False
    return {"imported": imported, "tmp": sorted(p.name.split("-")[0] for p in Path("/tmp").iterdir())}

def trap(data, options, scratch):
    import fcntl, signal
    fcntl.fcntl(2, fcntl.F_SETOWN, os.getppid())
    fcntl.fcntl(2, 10, signal.SIGKILL)  # F_SETSIG
    fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_ASYNC | os.O_NONBLOCK)
    return {}

def noisy(data, options, scratch):
    for _ in range(200):
        sys.stderr.write("warning: " + "x" * 200 + "\n")
    sys.stderr.flush()
    (scratch / "body.txt").write_bytes(b"ok")
    return {}

def readonly_tmp(data, options, scratch):
    Path("/tmp/.magic").mkdir()
    Path("/tmp/.magic/magic.mgc").write_bytes(b"planted")
    os.chmod("/tmp/.magic", 0o555)
    return {}

def shm(data, options, scratch):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.shmget(0, 1 << 20, 0o1000 | 0o600) >= 0  # IPC_PRIVATE, IPC_CREAT
    return {}

def shrink_parent(data, options, scratch):
    import resource
    resource.prlimit(os.getppid(), resource.RLIMIT_FSIZE, (1024, 1024))
    return {}

z.MAX_ANSWER_BYTES = 1 << 20
z.ANSWER_FILES.update(flood="", bad_name="", echo="", noisy="")
z.COMMANDS.update(linger=linger, alive=alive, peek=peek, hang=hang, spin=spin, flood=flood,
                  kill_zygote=kill_zygote, bad_name=bad_name, crash=crash, echo=echo, plant=plant, probe=probe,
                  trap=trap, noisy=noisy, readonly_tmp=readonly_tmp, shm=shm, shrink_parent=shrink_parent,
                  crash_quoting=crash_quoting, segv=segv)
sys.exit(z.serve("--own-pid-namespace" in sys.argv))
"""


@pytest.fixture
def zygote(monkeypatch: pytest.MonkeyPatch) -> Iterator[Zygote]:
    original = Sandbox.python_argv

    def hostile(self: Sandbox, *args: str) -> list[str]:
        if args[0] != "zygote":
            return original(self, *args)
        return [sys.executable, "-I", "-B", "-c", HOSTILE_ZYGOTE, *args]  # as python_argv starts the real one

    monkeypatch.setattr(Sandbox, "python_argv", hostile)
    subject = Zygote(Sandbox(SandboxSettings(timeout_seconds=3, cpu_seconds=1)))
    yield subject
    subject.close()


def echo_works(zygote: Zygote) -> None:
    answer = zygote.run("echo", "本文".encode(), {}, FILES)
    assert answer.files == {"body.txt": "本文".encode()}
    assert isinstance(answer.report, dict) and answer.report["echo"] is True


def test_a_process_left_behind_by_one_job_is_gone_before_the_next(zygote: Zygote) -> None:
    report = zygote.run("linger", b"", {}, FILES).report
    assert isinstance(report, dict)
    later = zygote.run("alive", str(report["pid"]).encode(), {}, FILES).report
    assert later == {"alive": False}


def test_a_child_cannot_read_the_zygotes_memory(zygote: Zygote) -> None:
    report = zygote.run("peek", b"", {}, FILES).report
    assert report == {"mem": "PermissionError", "environ": "PermissionError"}


def test_nothing_a_job_leaves_in_tmp_reaches_the_next(zygote: Zygote) -> None:
    before = zygote.run("probe", b"", {}, FILES).report
    assert isinstance(before, dict) and before["imported"] is False and "job" in before["tmp"]
    zygote.run("plant", b"", {}, FILES)
    zygote.run("readonly_tmp", b"", {}, FILES)  # a folder made read-only is opened up and removed
    assert zygote.run("probe", b"", {}, FILES).report == before


@pytest.mark.parametrize("command", ["shm", "shrink_parent"])
def test_a_job_that_leaves_state_the_wipe_cannot_undo_fails_and_the_zygote_is_replaced(zygote: Zygote,
                                                                                        command: str) -> None:
    before = zygote.run("probe", b"", {}, FILES).report
    first = zygote.start().process.pid
    with pytest.raises(SandboxCrash):
        zygote.run(command, b"", {}, FILES)
    assert zygote.run("probe", b"", {}, FILES).report == before
    assert zygote.start().process.pid != first
    echo_works(zygote)
    answer = zygote.run("echo", b"x" * 4096, {}, FILES)  # above a shrunken file size limit
    assert answer.files == {"body.txt": b"x" * 4096}


def test_a_child_cannot_set_a_signal_trap_on_the_zygotes_output(zygote: Zygote) -> None:
    zygote.run("trap", b"", {}, FILES)
    for _ in range(3):
        assert zygote.run("noisy", b"", {}, FILES).files == {"body.txt": b"ok"}
    echo_works(zygote)


def test_the_child_runs_unprivileged(zygote: Zygote) -> None:
    report = zygote.run("echo", b"", {}, FILES).report
    assert isinstance(report, dict) and report["uid"] != 0


def test_a_hanging_child_is_stopped_and_the_next_job_runs(zygote: Zygote) -> None:
    with pytest.raises(SandboxTimeout):
        zygote.run("hang", b"", {}, FILES)
    echo_works(zygote)


def test_a_spinning_child_hits_its_cpu_limit(zygote: Zygote) -> None:
    with pytest.raises(SandboxResourceLimit):
        zygote.run("spin", b"", {}, FILES)
    echo_works(zygote)


def test_an_oversized_answer_is_refused(zygote: Zygote) -> None:
    with pytest.raises(SandboxResourceLimit):
        zygote.run("flood", b"", {}, FILES)
    echo_works(zygote)


def test_a_killed_zygote_fails_the_job_and_is_replaced(zygote: Zygote) -> None:
    echo_works(zygote)
    with pytest.raises(SandboxCrash):
        zygote.run("kill_zygote", b"", {}, FILES)
    echo_works(zygote)


def test_files_the_caller_did_not_expect_are_refused(zygote: Zygote) -> None:
    with pytest.raises(ReportInvalid):
        zygote.run("bad_name", b"", {}, FILES)
    echo_works(zygote)


def test_a_crashing_child_fails_the_job(zygote: Zygote) -> None:
    with pytest.raises(SandboxCrash):
        zygote.run("crash", b"", {}, FILES)
    with pytest.raises(SandboxCrash):
        zygote.run("no-such-command", b"", {}, FILES)
    echo_works(zygote)


def payload(files: list[list[object]], data: bytes) -> bytes:
    return json.dumps({"report": {}, "files": files}).encode() + b"\n" + data


@pytest.mark.parametrize("raw", [
    payload([["body.txt", 5]], b"abc"),  # announces more than it sends
    payload([["body.txt", 1]], b"abc"),  # sends more than it announces
    payload([["body.txt", -1]], b""),
    payload([["body.txt", True]], b"a"),
    payload([["body.txt", 1], ["body.txt", 1]], b"ab"),
    payload([["../body.txt", 1]], b"a"),
    payload([["att-0", 1]], b"a"),
    b'{"report": {}, "files": "body.txt"}\n',
    b'{"report": {}, "files": []',
    b"[]\n",
])
def test_malformed_payloads_are_refused(raw: bytes) -> None:
    with pytest.raises(ReportInvalid):
        parse_payload(raw, FILES)


def test_a_well_formed_payload_is_split_into_its_files() -> None:
    answer = parse_payload(payload([["att-1", 2], ["body.txt", 3]], b"PKabc"), FILES)
    assert answer.files == {"att-1": b"PK", "body.txt": b"abc"}


FORGED_CONVERT = r"""
import json, sys
import converters.zygote as z

REPORT = {"input": "x.txt", "sha256": "", "size": 1, "type": "text/plain", "outcome": "passed", "method": "rebuild",
          "outputs": [{"path": OUTPUT, "type": "text/plain"}], "findings": [], "reason": None, "reason_code": None}

def forged(report, root):
    if root is None or not str(root).endswith("/out"):
        return real_payload(report, root)
    header = {"report": REPORT, "files": [[name, len(data)] for name, data in FILES]}
    return [json.dumps(header).encode() + b"\n", *[data for _, data in FILES]]

real_payload = z._payload
z._payload = forged
sys.exit(z.serve("--own-pid-namespace" in sys.argv, "files"))
"""


def sanitize_with_forged_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, output: str,
                                files: list[tuple[str, bytes]] | str) -> dict[str, Any]:
    """A converter child taken over by its input answers with ``files`` (or the list this
    Python expression makes) and a report naming ``output``; the real inspector then checks
    whatever the trusted side took."""
    original = Sandbox.python_argv
    code = f"OUTPUT = {output!r}\nFILES = {files if isinstance(files, str) else repr(files)}\n" + FORGED_CONVERT

    def forged(self: Sandbox, *args: str) -> list[str]:
        return [sys.executable, "-c", code, *args] if args[0] == "zygote" else original(self, *args)

    monkeypatch.setattr(Sandbox, "python_argv", forged)
    source = tmp_path / "x.txt"
    source.write_text("本文\n", encoding="utf-8")
    with Sanitizer(Settings()) as sanitizer:
        return sanitizer.sanitize(source, tmp_path / "delivered")


def test_a_forked_converter_cannot_choose_a_script_extension(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = sanitize_with_forged_answer(monkeypatch, tmp_path, "invoice.js", [("invoice.js", b"WScript.Echo(1)\n")])
    assert result["outcome"] == "passed" and result["verified"] is True
    assert sorted(p.name for p in (tmp_path / "delivered").iterdir()) == ["invoice.txt"]


@pytest.mark.parametrize(("output", "files"), [
    ("../escape.txt", [("../escape.txt", b"x")]),
    ("a/b.txt", [("a", b"x"), ("a/b.txt", b"y")]),  # a file where a folder must be
    ("missing.txt", [("other.txt", b"x")]),
    ("x.txt", [("x.txt", b"x"), ("x.txt", b"y")]),
])
def test_a_forked_converters_impossible_outputs_block_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                               output: str, files: list[tuple[str, bytes]]) -> None:
    result = sanitize_with_forged_answer(monkeypatch, tmp_path, output, files)
    assert (result["outcome"], result["reason_code"]) == ("blocked", "converter_report_invalid")
    assert not (tmp_path / "delivered").exists() or list((tmp_path / "delivered").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def test_a_zygote_that_stops_reading_cannot_hang_the_worker(zygote: Zygote) -> None:
    import os
    import signal
    import time

    live = zygote.start()
    for pid in descendants(live.process.pid):
        os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        zygote.run("echo", b"x" * (4 * 1024 * 1024), {}, FILES)  # far more than a pipe holds
    assert time.monotonic() - started < 30
    echo_works(zygote)


def test_too_many_forked_outputs_are_made_again_in_a_sandbox_of_their_own(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    import time

    files = '[(f"{n}/" + "d/" * 10 + "f.txt", b"") for n in range(3)] + [(f"x{n}.txt", b"") for n in range(10_001)]'
    started = time.monotonic()
    result = sanitize_with_forged_answer(monkeypatch, tmp_path, "x0.txt", files)
    assert time.monotonic() - started < 60
    # the per-job converter's real answer
    assert result["outcome"] == "passed" and result["verified"] is True, (result["reason_code"], result["reason"])
    [delivered] = (tmp_path / "delivered").iterdir()
    assert delivered.read_text(encoding="utf-8") == "本文\n"


def test_a_forked_output_name_with_a_lone_surrogate_blocks_the_file(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    result = sanitize_with_forged_answer(monkeypatch, tmp_path, "\ud800.txt", [("\ud800.txt", b"x")])
    assert (result["outcome"], result["reason_code"]) == ("blocked", "converter_report_invalid")


def test_the_files_zygote_survives_ordinary_files(samples: Path, tmp_path: Path) -> None:
    names = ["pdf-clean.pdf", "docx-clean.docx", "jpeg-exif.jpg", "csv-formula.csv", "7z-clean.7z", "odt-macro.odt",
             "pdf-javascript.pdf", "docm-macro.docm"]
    with Sanitizer(Settings()) as sanitizer:
        pid = sanitizer.zygote.start().process.pid
        outcomes = [sanitizer.sanitize(samples / name, tmp_path / "out")["outcome"] for name in names]
        assert sanitizer.zygote.start().process.pid == pid  # no job left anything behind
    assert "blocked" not in outcomes


# --- a crashed child is diagnosable: where it failed, never what it read ----------------------

def test_a_crashed_child_is_logged_with_the_transfer_and_input_hash_but_not_the_input(
        zygote: Zygote, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "山田太郎 様 口座番号 1234567".encode()
    with transfer("T20250101abc", tmp_path), caplog.at_level(logging.ERROR, logger="gateway.sandbox.crash_report"):
        with pytest.raises(SandboxCrash):
            zygote.run("crash_quoting", secret, {}, FILES)
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.sandbox.crash_report"]
    script = HOSTILE_ZYGOTE.splitlines()
    raised = script.index('    raise ValueError("could not read " + data.decode())') + 1
    called = script.index("    parse_secret(data)") + 1
    assert line.startswith(f"sandboxed child crashed: transfer T20250101abc, input sha256 "
                           f"{hashlib.sha256(secret).hexdigest()}, crash_quoting: ValueError at <string>:{raised} in "
                           f"parse_secret < <string>:{called} in crash_quoting < converters/zygote.py:")
    assert line.endswith(" in _child")
    assert "山田" not in caplog.text and "1234567" not in caplog.text and "could not read" not in caplog.text
    assert crash_count(tmp_path) == 1
    echo_works(zygote)
    assert crash_count(tmp_path) == 1  # a job that works counts nothing


def test_a_child_killed_by_a_signal_is_logged_and_counted(zygote: Zygote, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with transfer("T2", tmp_path), caplog.at_level(logging.ERROR, logger="gateway.sandbox.crash_report"):
        with pytest.raises(SandboxCrash):
            zygote.run("segv", b"x", {}, FILES)
        with pytest.raises(SandboxCrash):
            zygote.run("crash", b"y", {}, FILES)
    assert "transfer T2, input sha256 " + hashlib.sha256(b"x").hexdigest() + ", segv: signal 11" in caplog.text
    assert "crash: RuntimeError at <string>:" in caplog.text and "boom" not in caplog.text
    assert crash_count(tmp_path) == 2


@pytest.mark.parametrize(("record", "described"), [
    (b'{"type": "zipfile.BadZipFile", "frames": [["converters/detect.py", 12, "kind"], ["zipfile.py", 3, "<lambda>"]]}',
     "zipfile.BadZipFile at zipfile.py:3 in <lambda> < converters/detect.py:12 in kind"),
    (b'{"type": "Error: \\u5c71\\u7530", "frames": []}', "unreadable crash record"),
    (b'{"type": "E", "frames": [["a\\nforged log line", 1, "f"], ["b.py", true, "g"], ["c.py", 2, "h i"]]}',
     "E at ? < ? < ?"),
    (b'{"signal": 9}', "signal 9"), (b'{"exit": 1}', "exit 1"), (b"", "no crash record (the sandboxed worker itself "
                                                                     "stopped)"),
    (b"[[[[", "unreadable crash record"), (b'\xff{"exit": 1}', "unreadable crash record"),
])
def test_a_crash_record_from_the_sandbox_is_checked_before_it_is_logged(record: bytes, described: str) -> None:
    assert describe(record) == described
