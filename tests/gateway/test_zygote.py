"""The zygote under attack: the real zygote loop runs in the real bubblewrap sandbox, with
hostile job commands standing in for a parser taken over by its input. Whatever a child does,
the next job must start clean, and the trusted side must fail the job closed."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import pytest

from gateway.config import SandboxSettings
from gateway.errors import ReportInvalid, SandboxCrash, SandboxResourceLimit, SandboxTimeout
from gateway.sandbox import Sandbox
from gateway.zygote import Zygote, parse_payload

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
    try:
        os.kill(int(data), 0)
        return {"alive": True}
    except ProcessLookupError:
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

def echo(data, options, scratch):
    (scratch / "body.txt").write_bytes(data)
    return {"echo": True, "uid": os.getuid()}

z.MAX_ANSWER_BYTES = 1 << 20
z.COMMANDS.update(linger=linger, alive=alive, peek=peek, hang=hang, spin=spin, flood=flood,
                  kill_zygote=kill_zygote, bad_name=bad_name, crash=crash, echo=echo)
sys.exit(z.serve("--own-pid-namespace" in sys.argv))
"""


@pytest.fixture
def zygote(monkeypatch: pytest.MonkeyPatch) -> Iterator[Zygote]:
    original = Sandbox.python_argv

    def hostile(self: Sandbox, *args: str) -> list[str]:
        return [sys.executable, "-c", HOSTILE_ZYGOTE, *args] if args[0] == "zygote" else original(self, *args)

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
