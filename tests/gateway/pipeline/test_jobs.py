"""Job directories: modes that do not depend on the umask, and the sweep of what a crash left."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from gateway.config import Settings
from gateway.pipeline.jobs import create_job, sweep
from gateway.sandbox.runner import Sandbox


def test_an_original_is_the_sandbox_users_alone_whatever_the_umask(tmp_path: Path) -> None:
    sandbox = Sandbox(Settings().sandbox)
    previous = os.umask(0o077)  # as gateway serve runs
    try:
        job = create_job(sandbox, tmp_path)
        job.input.write_bytes(b"original")
        job.hand_in(job.input)
    finally:
        os.umask(previous)
    try:
        modes = {name: stat.S_IMODE(job.dir(name).stat().st_mode) for name in ("in", "final", "control", "deliver")}
        assert modes == {"in": 0o711, "final": 0o755, "control": 0o755, "deliver": 0o700}
        assert stat.S_IMODE(job.root.stat().st_mode) == 0o711
        assert stat.S_IMODE(job.input.stat().st_mode) == 0o600
        if os.geteuid() == 0:  # the sandbox switches to the job's uid: it owns the input, nobody else reads it
            assert job.input.stat().st_uid == job.uid
            readable = sandbox.run(["/bin/cat", "/job/in/input"], job.convert_binds(), timeout=60, uid=job.uid)
            assert readable.stdout == b"original"
    finally:
        job.remove()
    assert not job.root.exists()


def test_the_sweep_removes_what_a_dead_process_left_and_spares_live_jobs(tmp_path: Path) -> None:
    sandbox = Sandbox(Settings().sandbox)
    live = create_job(sandbox, tmp_path)
    script = ("import sys; from pathlib import Path; from gateway.config import Settings; "
              "from gateway.pipeline.jobs import create_job; from gateway.sandbox.runner import Sandbox; "
              "job = create_job(Sandbox(Settings().sandbox), Path(sys.argv[1])); "
              "job.input.write_bytes(b'original'); print(job.root)")
    left = Path(subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                               check=True).stdout.strip())  # the process ends without removing its job
    (tmp_path / "unrelated").mkdir()
    assert left.exists()
    assert sweep(tmp_path) == 1
    assert not left.exists() and live.root.exists() and (tmp_path / "unrelated").exists()
    live.remove()
