"""A job's scratch directory: its layout, owners and the paths the sandbox sees.

Modes are set explicitly, whatever the umask (``gateway serve`` runs with 077): the job's root
is 0711 (no listing), ``in/`` 0711 with the input 0600 and owned by the job's sandbox user,
``final/`` and ``control/`` 0755 (the inspector, as that user, reads the outputs there), ``deliver/``
0700. The process that made a job holds a lock on its root until it removes it, so that
``sweep`` (at the service's start) removes only what a crashed process left.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gateway.sandbox.runner import Bind, Sandbox

JOB_IN, JOB_OUT, JOB_SCRATCH = "/job/in", "/job/out", "/job/scratch"
JOB_FINAL, JOB_CONTROL = "/job/final", "/job/control"
PREFIX = "gw-job-"
MODES = {"in": 0o711, "final": 0o755, "control": 0o755, "deliver": 0o700}
log = logging.getLogger(__name__)


@dataclass
class Job:
    """``out`` and ``scratch`` are writable by the job's sandbox uid; ``in``, ``final``,
    ``control`` and ``deliver`` only by this process."""

    root: Path
    sandboxed: bool
    uid: int
    lock: int | None = field(default=None, repr=False)  # held until the job is removed

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

    def hand_in(self, path: Path) -> None:
        """Make a file in ``in/`` readable by the job's sandbox user alone (0600, its owner when
        the sandbox switches to it)."""
        path.chmod(0o600)
        if self.sandboxed and os.geteuid() == 0:
            os.chown(path, self.uid, self.uid)

    def share_final(self) -> None:
        """Let the inspector, the job's sandbox user, read what this process wrote into ``final/``:
        folders 0755, files 0644, whatever the umask (``gateway serve`` runs with 077, and started
        as root the inspector is another uid: a 0600 output was unreadable, every LibreOffice-made
        or rasterised file blocked). Only this process writes there; a link is left as it is."""
        for directory, folders, files in os.walk(self.dir("final")):
            for name, mode in [*((f, 0o755) for f in folders), *((f, 0o644) for f in files)]:
                path = os.path.join(directory, name)
                if not os.path.islink(path):
                    os.chmod(path, mode)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        lock, self.lock = self.lock, None
        if lock is not None:
            os.close(lock)


def create_job(sandbox: Sandbox, work_dir: Path | None) -> Job:
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=work_dir))
    lock = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a new directory: only a sweep could hold it, for a moment
    root.chmod(0o711)
    job = Job(root, sandbox.settings.mode != "none", sandbox.new_uid(), lock)
    for directory, mode in MODES.items():
        job.dir(directory).mkdir(mode=mode)
        job.dir(directory).chmod(mode)  # whatever the umask
    sandbox.prepare_writable(job.dir("out"), job.uid)
    sandbox.prepare_writable(job.dir("scratch"), job.uid)
    return job


def sweep(work_dir: Path | None) -> int:
    """Remove the job directories in ``work_dir`` (the system's temporary directory when None)
    that no process holds: what a crash left, the original inside included."""
    removed = 0
    for entry in Path(work_dir or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.stat().st_uid != os.geteuid():
                continue
            descriptor = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        except BlockingIOError:
            continue  # a live job of another process
        finally:
            os.close(descriptor)
    if removed:
        log.warning("removed %d job directories left by an interrupted run", removed)
    return removed
