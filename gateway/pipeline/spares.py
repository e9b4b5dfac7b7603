"""Warm spares for Office documents: a job directory and a sandboxed converter, with LibreOffice
already started inside it, waiting for a document. Each spare takes exactly one document and
is then gone (no document ever shares a process with another); a new one is started as soon as
one is taken, so the next document does not wait for LibreOffice to start."""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.pipeline.jobs import JOB_OUT, Job, create_job
from gateway.sandbox.runner import Running, Sandbox

log = logging.getLogger(__name__)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def needs_libreoffice(path: Path, method: str) -> bool:
    """A cheap hint from the first bytes (no parsing): will this file go through LibreOffice?
    A wrong guess costs only speed; the converter decides by content."""
    with path.open("rb") as handle:
        head = handle.read(2048)
    if head.startswith(OLE_MAGIC) or head.lstrip().startswith(b"{\\rtf"):
        return True
    office_zip = head.startswith(b"PK\x03\x04") and (b"[Content_Types].xml" in head or b"opendocument" in head)
    return method == "rasterize" and office_zip


@dataclass
class Spare:
    job: Job
    running: Running
    frames: int  # read end of the pixel stream

    def dispatch(self, name: str, method: str, limits: dict[str, Any]) -> None:
        stdin = self.running.process.stdin
        if stdin is None:
            raise OSError("spare has no standard input")
        job = {"input": f"{self.job.inside('in', '/job/in')}/input", "name": name, "method": method,
               "limits": limits}
        stdin.write(json.dumps(job).encode("utf-8") + b"\n")
        stdin.close()


class SparePool:
    def __init__(self, sandbox: Sandbox, work_dir: Path | None, size: int) -> None:
        self.sandbox, self.work_dir, self.size = sandbox, work_dir, size
        self.spares: deque[Spare] = deque()

    def _start(self) -> Spare:
        job = create_job(self.sandbox, self.work_dir)
        read_end, write_end = os.pipe()
        argv = self.sandbox.python_argv("convert", "--job-from-stdin", "--warm-office",
                                        f"--out={job.inside('out', JOB_OUT)}", f"--frames-fd={write_end}")
        try:
            running = self.sandbox.spawn(argv, job.convert_binds(), pass_fds=(write_end,), uid=job.uid,
                                         with_stdin=True)
        except BaseException:
            os.close(read_end)
            job.remove()
            raise
        return Spare(job, running, read_end)

    def fill(self) -> None:
        while len(self.spares) < self.size:
            self.spares.append(self._start())

    def take(self) -> Spare | None:
        """A warm spare (then a replacement is started), or None when none is waiting."""
        spare = None
        while self.spares and spare is None:
            candidate = self.spares.popleft()
            if candidate.running.process.poll() is None:
                spare = candidate
            else:
                self._discard(candidate)
        self.fill()
        return spare

    def _discard(self, spare: Spare) -> None:
        self.sandbox.stop(spare.running)
        os.close(spare.frames)
        spare.job.remove()

    def close(self) -> None:
        while self.spares:
            self._discard(self.spares.popleft())
