"""What operators do to the queue (``gateway queue``, the console): list and find jobs, take one
that no worker holds, hold and release it, work out where a retry sends it."""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

from gateway.spool.basics import (
    BUSY_QUEUES,
    HELD_FROM,
    LISTED_QUEUES,
    OUTGOING,
    JobBusy,
    NoSuchJob,
    QueuedJob,
    SpoolJob,
    held_from,
    queued_job,
    write_durably,
)
from gateway.spool.queues import SpoolQueues


class Spool(SpoolQueues):
    """The spool: its queues' mechanics (gateway/spool/queues.py) and what operators do to it."""

    def jobs(self, queues: tuple[str, ...] = LISTED_QUEUES) -> list[QueuedJob]:
        """Every job in ``queues`` as it is now, oldest first (read without locking: a listing)."""
        found = []
        for queue in queues:
            if not self.queue(queue).is_dir():  # (a spool of an older version has no ``hold``)
                continue
            for entry in self.queue(queue).iterdir():
                if entry.is_dir():  # a file in ``corrupt`` is a kept audit record that could not be read
                    found.append(queued_job(queue, entry))
        return sorted(found, key=lambda job: (job.arrived, job.id))

    def find(self, job_id: str) -> QueuedJob:
        """The job ``job_id`` wherever it is; NoSuchJob if in no queue (delivered, deleted or never there)."""
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise NoSuchJob(job_id)
        for queue in LISTED_QUEUES:
            entry = self.queue(queue) / job_id
            if entry.is_dir():
                return queued_job(queue, entry)
        raise NoSuchJob(job_id)

    def take(self, job_id: str) -> tuple[SpoolJob, str]:
        """Lock ``job_id`` for an operator's change: the locked job and its queue. A job a worker
        holds (in a working queue, or flocked) raises JobBusy: it is never touched."""
        for _ in range(5):  # it may move between the look and the lock: look again
            queue = self.find(job_id).queue
            if queue in BUSY_QUEUES:
                raise JobBusy(job_id, queue)
            path = self.queue(queue) / job_id
            try:
                descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise JobBusy(job_id, queue) from None
            try:
                same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return SpoolJob(job_id, path, descriptor), queue
            os.close(descriptor)  # a worker moved it meanwhile (and let it go): look again
        raise JobBusy(job_id, "moving")

    @staticmethod
    def origin(job: SpoolJob) -> str:
        """Where a ``corrupt`` job can be processed again: a sanitised mail (or notice) goes back
        to delivery (``outbox``), an upload to ``uploads``, a mail not yet sanitised to ``incoming``."""
        if (job.path / OUTGOING).exists():
            return "outbox"
        return "uploads" if (job.path / "files").is_dir() else "incoming"

    def retry_envelope(self, job: SpoolJob, queue: str) -> dict[str, Any]:
        """The envelope a job gets when an operator makes it due now (``retry``): no retry time; a
        job taken out of ``corrupt`` starts afresh (attempts 0, its age from now, so it is not
        given up at once) and is no longer marked as waiting for the malware scan."""
        envelope = job.envelope()
        envelope.pop("next_attempt", None)
        if queue == "corrupt":
            envelope.pop("waiting_for_scan", None)
            envelope["attempts"] = 0
            if (job.path / OUTGOING).exists():
                envelope["first_attempt"] = time.time()
        return envelope

    def hold(self, job: SpoolJob, source: str, by: str, intents: list[dict[str, Any]]) -> SpoolJob:
        """Take a locked job out of every worker's reach into ``hold``, noting where it came from."""
        note = {"from": source, "by": by, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_durably(job.path / HELD_FROM, json.dumps(note, ensure_ascii=False).encode("utf-8"))
        return self.move(job, "hold", intents=intents, hold=True)

    held_from = staticmethod(held_from)

    def unhold(self, job: SpoolJob, intents: list[dict[str, Any]]) -> tuple[SpoolJob, str]:
        """A locked held job back into the queue it came from (still locked); its note goes."""
        source = self.held_from(job.path)
        (job.path / HELD_FROM).unlink(missing_ok=True)
        return self.move(job, source, intents=intents, hold=True), source
