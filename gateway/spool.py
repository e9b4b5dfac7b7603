"""The durable queues between intake, pipeline and delivery (Postfix's lesson: nothing is
acknowledged before it is on disk, and every move is a rename).

Each job is a directory holding ``message.eml`` and ``envelope.json``. It is written under
``tmp/``, fsynced, then renamed into a queue directory and that directory fsynced; a queue
change is a rename. Uploads wait in ``uploads`` and are worked on in ``working``.
Mail: ``incoming`` (accepted, not yet sanitised) → ``active`` (being
sanitised) → ``outbox`` (sanitised, to deliver) → ``sending`` → gone once delivered;
``deferred`` (delivery failed, retried later) and ``corrupt`` (failed too often: kept, audited,
never dropped). Jobs left in ``active`` or ``sending`` by a crash go back to their queue at start.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
WORKING_QUEUES = (("active", "incoming"), ("sending", "outbox"), ("working", "uploads"))
QUEUES = ("tmp", "incoming", "active", "outbox", "sending", "deferred", "corrupt", "uploads", "working", "delivered",
          "unaudited")


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


def new_job_id() -> str:
    """32 hex digits: the arrival time in nanoseconds, then 64 random bits (so queues sort by
    arrival without a stat per entry, and ids cannot be guessed)."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def _lock(path: Path) -> int | None:
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
        return self.path / "message.eml"

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "envelope.json").read_text(encoding="utf-8"))
        return data


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        for queue in QUEUES:
            (root / queue).mkdir(parents=True, exist_ok=True)

    def queue(self, name: str) -> Path:
        return self.root / name

    def _store(self, queue: str, envelope: dict[str, Any], message: bytes, job_id: str | None = None) -> str:
        job_id = job_id or new_job_id()
        staging = self.queue("tmp") / job_id
        staging.mkdir()
        write_durably(staging / "message.eml", message)
        write_durably(staging / "envelope.json", json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
        fsync_dir(staging)
        os.rename(staging, self.queue(queue) / job_id)
        fsync_dir(self.queue(queue))
        return job_id

    def accept(self, envelope: dict[str, Any], message: bytes) -> str:
        """Durably queue an accepted message; only then may the sender be told 250."""
        return self._store("incoming", {**envelope, "attempts": 0}, message)

    def to_outbox(self, job_id: str, envelope: dict[str, Any], message: bytes) -> None:
        """Queue a sanitised message for delivery, once: a job recovered after a crash that had
        already reached the outbox (or been delivered) is not queued again."""
        if self.already_queued_or_delivered(job_id):
            return
        self._store("outbox", {**envelope, "attempts": 0, "first_attempt": time.time()}, message, job_id)

    def already_queued_or_delivered(self, job_id: str) -> bool:
        return any((self.queue(queue) / job_id).exists() for queue in ("outbox", "sending", "deferred", "delivered"))

    def postpone_audit(self, job_id: str, record: dict[str, Any], event: str = "received") -> None:
        """Keep an audit record that could not be written (the audit log was unavailable), to be
        written later in the order they were kept."""
        kept = {"event": event, "transfer_id": job_id, "fields": record,
                "happened": datetime.now(UTC).isoformat(timespec="milliseconds")}
        name = new_job_id()
        staging = self.queue("tmp") / f"audit-{name}"
        try:
            write_durably(staging, json.dumps(kept, ensure_ascii=False).encode("utf-8"))
            os.rename(staging, self.queue("unaudited") / name)  # never a half-written record in the queue
        finally:
            staging.unlink(missing_ok=True)
        fsync_dir(self.queue("unaudited"))

    def keep_audit(self, job_id: str, record: dict[str, Any], event: str = "received") -> None:
        """``postpone_audit``, never raising: if even the spool cannot keep it, the record goes
        to the log (the job it belongs to goes on either way)."""
        try:
            self.postpone_audit(job_id, record, event)
        except Exception as error:
            log.critical("audit record for %s lost to the audit log and the spool (%s); it was: %s", job_id,
                         type(error).__name__, json.dumps({"event": event, **record}, ensure_ascii=False))

    def postponed_audits(self) -> list[tuple[Path, str, str, dict[str, Any]]]:
        """(file, event, transfer id, fields) of every kept record, oldest first; the time it
        happened is in the fields as ``happened``. A file that cannot be read is moved aside to
        ``corrupt`` (reported, never silently skipped, never blocking the others)."""
        found = []
        for entry in sorted(self.queue("unaudited").iterdir()):
            try:
                kept = json.loads(entry.read_text(encoding="utf-8"))
                if not isinstance(kept, dict):
                    raise ValueError("not an object")
                if "event" in kept:
                    fields = {**dict(kept["fields"]), "happened": str(kept.get("happened", ""))}
                    found.append((entry, str(kept["event"]), str(kept["transfer_id"]), fields))
                else:  # kept by an earlier version: a "received" record named by its job
                    found.append((entry, "received", entry.name, kept))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("a kept audit record could not be read (%s); moved to corrupt/%s", type(exc).__name__,
                          f"unaudited-{entry.name}")
                os.replace(entry, self.queue("corrupt") / f"unaudited-{entry.name}")
        return found

    def was_delivered(self, job_id: str) -> bool:
        return (self.queue("delivered") / job_id).exists()

    def mark_delivered(self, job_id: str) -> None:
        """A durable note that this job reached the LGWAN side (checked before any re-delivery)."""
        marker = self.queue("delivered") / job_id
        write_durably(marker, b"")
        fsync_dir(self.queue("delivered"))

    def claim(self, source: str, target: str) -> SpoolJob | None:
        """Move the oldest job from ``source`` to ``target`` (a rename: only one worker wins).
        The job's directory is flocked before the move and stays locked until the job is moved
        on or removed, so ``release_orphans`` can tell a job whose worker died from a busy one."""
        return self._claim(source, target, None)[0]

    def claim_due(self, target: str) -> tuple[SpoolJob | None, float]:
        """The oldest deferred job whose retry time has come, moved to ``target``; and the
        earliest retry time of the deferred jobs not due yet (inf if none), so the caller need
        not read every envelope again before then."""
        return self._claim("deferred", target, time.time())

    def _claim(self, source: str, target: str, now: float | None) -> tuple[SpoolJob | None, float]:
        earliest = float("inf")
        with os.scandir(self.queue(source)) as listing:
            entries = sorted(item.name for item in listing)  # job ids begin with their arrival time
        for name in entries:
            entry = self.queue(source) / name
            if now is not None:
                try:
                    due = float(json.loads((entry / "envelope.json").read_text(encoding="utf-8"))
                                .get("next_attempt", 0))
                except (OSError, ValueError, TypeError):
                    due = 0.0
                if due > now:
                    earliest = min(earliest, due)
                    continue
            lock = _lock(entry)
            if lock is None:
                continue  # another worker has it
            destination = self.queue(target) / entry.name
            try:
                os.rename(entry, destination)
            except FileNotFoundError:
                os.close(lock)
                continue  # another worker took it
            return SpoolJob(entry.name, destination, lock), earliest
        return None, earliest

    def release_orphans(self) -> int:
        """Jobs in a working queue that nobody holds (their worker process died) go back to be
        retried; a job still locked by a live worker is left alone."""
        moved = 0
        for source, target in WORKING_QUEUES:
            for entry in self.queue(source).iterdir():
                lock = _lock(entry)
                if lock is None:
                    continue
                try:
                    os.rename(entry, self.queue(target) / entry.name)
                    moved += 1
                except FileNotFoundError:
                    pass
                finally:
                    os.close(lock)
        return moved

    def move(self, job: SpoolJob, target: str, envelope: dict[str, Any] | None = None) -> SpoolJob:
        if envelope is not None:
            write_durably(job.path / "envelope.json.new", json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
            os.replace(job.path / "envelope.json.new", job.path / "envelope.json")
        destination = self.queue(target) / job.id
        try:
            os.rename(job.path, destination)
            fsync_dir(self.queue(target))
        finally:
            job.release()
        return SpoolJob(job.id, destination)

    def remove(self, job: SpoolJob) -> None:
        try:
            shutil.rmtree(job.path, ignore_errors=True)
        finally:
            job.release()

    def recover(self) -> int:
        """After a crash: jobs half-done go back to their queues (nothing accepted is lost)."""
        moved = 0
        for source, target in WORKING_QUEUES:
            for entry in self.queue(source).iterdir():
                os.rename(entry, self.queue(target) / entry.name)
                moved += 1
        for entry in self.queue("tmp").iterdir():  # never acknowledged: the sender will retry
            shutil.rmtree(entry, ignore_errors=True)
        return moved

    def queue_sizes(self) -> dict[str, int]:
        """Jobs per queue, for monitoring."""
        return {queue: sum(1 for _ in self.queue(queue).iterdir())
                for queue in ("incoming", "active", "outbox", "sending", "deferred", "corrupt", "uploads", "working")}

    def depth(self) -> int:
        return sum(1 for queue in ("incoming", "active", "outbox", "sending", "deferred", "uploads", "working")
                   for _ in self.queue(queue).iterdir())

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free
