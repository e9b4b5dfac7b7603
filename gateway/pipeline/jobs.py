"""A job's scratch directory: its layout, owners and the paths the sandbox sees."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.sandbox.runner import Bind, Sandbox

JOB_IN, JOB_OUT, JOB_SCRATCH = "/job/in", "/job/out", "/job/scratch"
JOB_FINAL, JOB_CONTROL = "/job/final", "/job/control"


@dataclass
class Job:
    """``out`` and ``scratch`` are writable by the job's sandbox uid; ``in``, ``final``,
    ``control`` and ``deliver`` only by this process."""

    root: Path
    sandboxed: bool
    uid: int

    @property
    def input(self) -> Path:
        return self.root / "in" / "input"

    def dir(self, name: str) -> Path:
        return self.root / name

    def convert_binds(self) -> list[Bind]:
        return [Bind(self.dir("in"), JOB_IN), Bind(self.dir("out"), JOB_OUT, writable=True),
                Bind(self.dir("scratch"), JOB_SCRATCH, writable=True)]

    def inspect_binds(self) -> list[Bind]:
        return [Bind(self.dir("final"), JOB_FINAL), Bind(self.dir("control"), JOB_CONTROL),
                Bind(self.dir("scratch"), JOB_SCRATCH, writable=True)]

    def inside(self, name: str, sandbox_path: str) -> str:
        return sandbox_path if self.sandboxed else str(self.dir(name))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def create_job(sandbox: Sandbox, work_dir: Path | None) -> Job:
    root = Path(tempfile.mkdtemp(prefix="gw-job-", dir=work_dir))
    root.chmod(0o711)
    job = Job(root, sandbox.settings.mode != "none", sandbox.new_uid())
    for directory in ("in", "final", "control", "deliver"):
        job.dir(directory).mkdir(mode=0o755)
    sandbox.prepare_writable(job.dir("out"), job.uid)
    sandbox.prepare_writable(job.dir("scratch"), job.uid)
    return job
