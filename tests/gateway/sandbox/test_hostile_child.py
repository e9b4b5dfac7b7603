"""What a compromised converter (a sandbox escape into the child) can still not do: the real
bubblewrap sandbox runs hostile code in place of the converter, and the trusted side must block
or neutralise every trick."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer
from gateway.sandbox.runner import Sandbox


def report(outputs: list[dict[str, str]], **extra: Any) -> str:
    data = {"input": "x.txt", "sha256": "", "size": 1, "type": "text/plain", "outcome": "passed",
            "method": "rebuild", "outputs": outputs, "findings": [], "reason": None, "reason_code": None, **extra}
    return json.dumps(data)


def run_hostile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: str, name: str = "x.txt") -> dict[str, Any]:
    original = Sandbox.python_argv

    def hostile(self: Sandbox, *args: str) -> list[str]:
        return [sys.executable, "-c", code] if args[0] == "convert" else original(self, *args)

    monkeypatch.setattr(Sandbox, "python_argv", hostile)
    # the per-job sandbox (test_zygote covers forks)
    monkeypatch.setattr("gateway.pipeline.sanitize.FORKED_MAX_INPUT", -1)
    source = tmp_path / name
    source.write_text("本文\n", encoding="utf-8")
    return Sanitizer(Settings()).sanitize(source, tmp_path / "delivered")


def delivered(tmp_path: Path) -> list[str]:
    folder = tmp_path / "delivered"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_child_cannot_choose_a_script_extension(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = ("open('/job/out/invoice.js', 'w').write('WScript.Echo(1)\\n')\n"
            f"print({report([{'path': 'invoice.js', 'type': 'text/plain'}])!r})")
    result = run_hostile(monkeypatch, tmp_path, code)
    assert result["outcome"] == "passed"
    assert delivered(tmp_path) == ["invoice.txt"]


def test_a_child_cannot_make_the_parent_read_host_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    secret.chmod(0o600)
    code = ("import os\nos.makedirs('/job/out/d')\nos.symlink('/etc', '/job/out/d/link')\n"
            "os.symlink('/etc/hostname', '/job/out/leak.txt')\n"
            f"print({report([{'path': 'leak.txt', 'type': 'text/plain'}])!r})")
    result = run_hostile(monkeypatch, tmp_path, code)
    assert (result["outcome"], result["reason_code"]) == ("blocked", "converter_report_invalid")
    assert delivered(tmp_path) == []


def test_a_planted_symlink_in_scratch_cannot_redirect_the_repack(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("ORIGINAL")
    member = {"input": "a.txt", "sha256": "", "size": 1, "type": "text/plain", "outcome": "passed",
              "method": "rebuild", "outputs": [{"path": "x/a.txt", "type": "text/plain"}], "findings": [],
              "reason": None, "reason_code": None}
    code = ("import os\nos.makedirs('/job/out/x')\nopen('/job/out/x/a.txt', 'w').write('fine\\n')\n"
            f"os.symlink('{victim}', '/job/scratch/repacked.zip')\n"
            f"print({report([], type='application/zip', members=[member])!r})")
    result = run_hostile(monkeypatch, tmp_path, code, name="x.zip")
    assert result["outcome"] == "passed" and result["verified"] is True
    assert victim.read_text() == "ORIGINAL"
    assert delivered(tmp_path) == ["x.zip"]


def test_a_flooding_child_is_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = "import sys\nchunk = b'x' * (1 << 20)\nfor _ in range(200): sys.stdout.buffer.write(chunk)"
    result = run_hostile(monkeypatch, tmp_path, code)
    assert (result["outcome"], result["reason_code"]) == ("blocked", "converter_crashed")


@pytest.mark.parametrize("garbage", ["1" * 5000, "[" * 100000, '{"outcome": 5}', "null"])
def test_garbage_reports_block_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, garbage: str) -> None:
    result = run_hostile(monkeypatch, tmp_path, f"print({garbage!r})")
    assert (result["outcome"], result["reason_code"]) == ("blocked", "converter_report_invalid")
