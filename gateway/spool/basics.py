"""The spool's vocabulary: its queues (declared once), a job on disk and how it is locked, and
the durable-write helpers. See gateway/spool/__init__.py for how the queues are used."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Queue(StrEnum):
    """Every queue of the spool, declared once (each a directory under the spool's root)."""

    TMP = "tmp"  # jobs being written, not in any queue yet
    INCOMING = "incoming"  # accepted mail, not yet sanitised
    ACTIVE = "active"  # mail a pipeline worker is sanitising
    OUTBOX = "outbox"  # sanitised mail to deliver
    SENDING = "sending"  # mail the delivery worker is handing over
    DEFERRED = "deferred"  # mail whose delivery is retried later
    CORRUPT = "corrupt"  # jobs that failed too often: kept, audited, never dropped
    UPLOADS = "uploads"  # uploaded files waiting to be disarmed
    WORKING = "working"  # uploads being disarmed
    DELIVERED = "delivered"  # markers of delivered mail, until its record is written
    UNAUDITED = "unaudited"  # audit records kept while the log could not be written
    DONE = "done"  # finished jobs whose records are not yet written
    HOLD = "hold"  # jobs an operator took out of the workers' reach


WORKING_QUEUES = ((Queue.ACTIVE, Queue.INCOMING), (Queue.SENDING, Queue.OUTBOX), (Queue.WORKING, Queue.UPLOADS))
QUEUES = tuple(Queue)
LISTED_QUEUES = ("incoming", "active", "outbox", "sending", "deferred", "corrupt", "hold", "uploads", "working")
BUSY_QUEUES = frozenset(queue for queue, _ in WORKING_QUEUES)  # a job there is in a worker's hands
HELD_FROM = "held.json"  # in a job in ``hold``: the queue it was taken from, by whom and when
INTENTS = "audit.json"  # the audit records the job's last state change intended, until they are in the log
OUTGOING, OUTGOING_ENVELOPE = "outgoing.eml", "outgoing.json"  # the message to deliver, once sanitised


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def envelope_file(job: Path) -> Path:
    """The envelope that rules the job now: the delivery's once the pipeline wrote one."""
    outgoing = job / OUTGOING_ENVELOPE
    return outgoing if outgoing.exists() else job / "envelope.json"


def new_job_id() -> str:
    """32 hex digits: the arrival time in nanoseconds, then 64 random bits (so queues sort by
    arrival without a stat per entry, and ids cannot be guessed)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def lock_job(path: Path) -> int | None:
    """An exclusive, non-blocking flock on a job directory: its descriptor, or None if taken."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


@dataclass
class SpoolJob:
    """A claimed job; ``lock`` is the descriptor holding its flock while a worker has it
    (released once: a second release must never close a descriptor reused since)."""

    id: str
    path: Path
    lock: int | None = None

    def release(self) -> None:
        lock, self.lock = self.lock, None
        if lock is not None:
            try:
                os.close(lock)
            except OSError:
                pass

    @property
    def message(self) -> Path:
        """What to deliver: the sanitised message once the pipeline wrote it, else what arrived."""
        outgoing = self.path / OUTGOING
        return outgoing if outgoing.exists() else self.original

    @property
    def original(self) -> Path:
        return self.path / "message.eml"

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(envelope_file(self.path).read_text(encoding="utf-8"))
        return data


def held_from(path: Path) -> str:
    """The queue a held job came from (``incoming`` when the note is missing or unreadable)."""
    try:
        source = json.loads((path / HELD_FROM).read_text(encoding="utf-8")).get("from")
    except (OSError, ValueError, AttributeError):
        return "incoming"
    return source if source in ("incoming", "outbox", "deferred", "corrupt", "uploads") else "incoming"

class NoSuchJob(LookupError):
    """No queue holds this job id."""


class JobBusy(Exception):
    """A worker holds the job (or it moved while being taken): the operator tries again."""

    def __init__(self, job_id: str, queue: str) -> None:
        super().__init__(f"{job_id} is busy ({queue}): a worker holds it, try again")
        self.job_id, self.queue = job_id, queue


def job_time(job_id: str) -> float | None:
    """When a job id was made (``new_job_id`` begins with nanoseconds), or None for another id."""
    try:
        stamp = int(job_id[:16], 16) / 1e9
    except ValueError:
        return None
    return stamp if len(job_id) >= 16 and 1e9 < stamp < 1e10 else None


@dataclass(frozen=True)
class QueuedJob:
    """A job as an operator sees it: where it is, its envelope (``{}`` if unreadable) and when
    it arrived."""

    id: str
    queue: str
    path: Path
    envelope: dict[str, Any]
    arrived: float

    @property
    def why(self) -> str:
        """Why it waits: the last delivery error, the malware scan it waits for, or where it is held from."""
        if self.queue == "hold":
            return f"held by an operator (from {held_from(self.path)})"
        if self.envelope.get("waiting_for_scan"):
            return f"waiting for the malware scan: {self.envelope['waiting_for_scan']}"
        return str(self.envelope.get("last_error") or "")

    @property
    def kind(self) -> str:
        return "upload" if "names" in self.envelope or (self.path / "files").is_dir() else "mail"


def queued_job(queue: str, entry: Path) -> QueuedJob:
    try:
        envelope = json.loads(envelope_file(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        envelope = {}
    arrived = job_time(entry.name)
    if arrived is None:
        try:
            arrived = entry.stat().st_mtime
        except OSError:
            arrived = time.time()
    return QueuedJob(entry.name, queue, entry, envelope if isinstance(envelope, dict) else {}, arrived)
