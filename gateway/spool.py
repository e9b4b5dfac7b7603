"""The durable queues between intake, pipeline and delivery (Postfix's lesson: nothing is
acknowledged before it is on disk, and every move is a rename).

Each job is a directory holding ``message.eml`` and ``envelope.json``. It is written under
``tmp/``, fsynced, then renamed into a queue directory and that directory fsynced; a queue
change is a rename. Uploads wait in ``uploads`` and are worked on in ``working``.
Mail: ``incoming`` (accepted, not yet sanitised) → ``active`` (being
sanitised) → ``outbox`` (sanitised, to deliver) → ``sending`` → gone once delivered;
``deferred`` (delivery failed, retried later) and ``corrupt`` (failed too often: kept, audited,
never dropped). Jobs left in ``active`` or ``sending`` by a crash go back to their queue at start.
``hold`` keeps jobs an operator took out of every worker's reach (``gateway queue hold``, with a
note of the queue they came from); operators change queues only through the methods at the end of
``Spool``, which take the job's flock as a worker does, so a job a worker holds is never touched.

A job keeps one directory (one id, in one queue at a time) from intake to delivery: the pipeline
writes the message to deliver (``outgoing.eml``, ``outgoing.json``) into it and renames it into
``outbox``. The audit records a state change causes travel with it: they are written durably into
the job (``audit.json``) before the rename that makes the change, appended to the audit log after
it, and the file removed; whatever a crash leaves in such a file is written at the next start
(``gateway/audit/records.py``). A delivered job leaves a marker in ``delivered`` holding its
``delivered`` record until the job is gone and the record written; then the marker goes too.
A job with nothing left to deliver but records to write passes through ``done``.
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


def _envelope_file(job: Path) -> Path:
    """The envelope that rules the job now: the delivery's once the pipeline wrote one."""
    outgoing = job / OUTGOING_ENVELOPE
    return outgoing if outgoing.exists() else job / "envelope.json"


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
        """What to deliver: the sanitised message once the pipeline wrote it, else what arrived."""
        outgoing = self.path / OUTGOING
        return outgoing if outgoing.exists() else self.original

    @property
    def original(self) -> Path:
        return self.path / "message.eml"

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(_envelope_file(self.path).read_text(encoding="utf-8"))
        return data


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        for queue in QUEUES:
            (root / queue).mkdir(parents=True, exist_ok=True)

    @classmethod
    def reading(cls, root: Path) -> Spool:
        """The spool at ``root`` for looking only (``gateway status``): no queue directory is made."""
        spool = cls.__new__(cls)
        spool.root = root
        return spool

    def queue(self, name: str) -> Path:
        return self.root / name

    def stage(self, envelope: dict[str, Any], message: bytes, job_id: str | None = None) -> str:
        """Write a job durably under ``tmp/`` (not in any queue yet: a crash now discards it)."""
        job_id = job_id or new_job_id()
        staging = self.queue("tmp") / job_id
        staging.mkdir(mode=0o700)
        write_durably(staging / "message.eml", message)
        write_durably(staging / "envelope.json", json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
        fsync_dir(staging)
        return job_id

    def commit(self, job_id: str, queue: str) -> None:
        """Put a staged job into ``queue`` (the rename is the commit)."""
        os.rename(self.queue("tmp") / job_id, self.queue(queue) / job_id)
        fsync_dir(self.queue(queue))

    def discard(self, job_id: str) -> None:
        """Remove a staged job that was never committed."""
        shutil.rmtree(self.queue("tmp") / job_id, ignore_errors=True)

    def staged(self) -> list[str]:
        """Jobs a crash left under ``tmp/`` (never committed, never acknowledged)."""
        return sorted(entry.name for entry in self.queue("tmp").iterdir() if entry.is_dir())

    def accept(self, envelope: dict[str, Any], message: bytes) -> str:
        """Durably queue an accepted message; only then may the sender be told 250."""
        job_id = self.stage({**envelope, "attempts": 0}, message)
        self.commit(job_id, "incoming")
        return job_id

    def to_outbox(self, job_id: str, envelope: dict[str, Any], message: bytes) -> None:
        """Queue a message for delivery as a job of its own (the pipeline's mail goes on in its
        own directory instead: ``send_on``)."""
        if self.already_queued_or_delivered(job_id):
            return
        self.stage({**envelope, "attempts": 0, "first_attempt": time.time()}, message, job_id)
        self.commit(job_id, "outbox")

    def send_on(self, job: SpoolJob, envelope: dict[str, Any], message: bytes,
                intents: list[dict[str, Any]]) -> SpoolJob:
        """The pipeline's commit: the message to deliver, its envelope and the audit records of
        the pipeline written into the job, then one rename into ``outbox``. The job stays locked
        (the caller writes the records, then releases it): no delivery worker takes it before."""
        write_durably(job.path / OUTGOING, message)
        write_durably(job.path / OUTGOING_ENVELOPE, json.dumps(
            {**envelope, "attempts": 0, "first_attempt": time.time()}, ensure_ascii=False).encode("utf-8"))
        return self.move(job, "outbox", intents=intents, hold=True)

    def discard_outgoing(self, job: SpoolJob) -> None:
        """What an attempt interrupted before its commit left in the job (never acted on)."""
        for name in (OUTGOING, OUTGOING_ENVELOPE, INTENTS):
            (job.path / name).unlink(missing_ok=True)

    def already_queued_or_delivered(self, job_id: str) -> bool:
        return any((self.queue(queue) / job_id).exists() for queue in ("outbox", "sending", "deferred", "delivered"))

    @staticmethod
    def write_intents(job: Path, intents: list[dict[str, Any]]) -> None:
        """The audit records a state change intends, durably in the job (the caller's rename commits them)."""
        write_durably(job / INTENTS, json.dumps(intents, ensure_ascii=False).encode("utf-8"))

    @staticmethod
    def intents(job: Path) -> list[dict[str, Any]]:
        """The records a job still carries (empty when there are none, or for an old marker)."""
        try:
            data = (job / INTENTS).read_bytes() if job.is_dir() else job.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return []
        kept = json.loads(data) if data.strip() else []
        return [item for item in kept if isinstance(item, dict)] if isinstance(kept, list) else []

    @staticmethod
    def drop_intents(job: Path) -> None:
        """The records are in the log (or kept in ``unaudited``): no fsync needed, a file that
        comes back after a power loss is found in the log and not written again."""
        (job / INTENTS).unlink(missing_ok=True)

    def with_intents(self) -> list[Path]:
        """Jobs holding records that a crash kept from the log, in the queues where a commit put
        them (``incoming``/``active``/``uploads``/``working`` only ever hold uncommitted ones)."""
        return [entry for queue in ("outbox", "sending", "deferred", "corrupt", "done", "hold")
                for entry in sorted(self.queue(queue).iterdir()) if (entry / INTENTS).exists()]

    def postpone_audit(self, job_id: str, record: dict[str, Any], event: str = "received",
                       happened: str | None = None, why: str = "") -> None:
        """Keep an audit record that could not be written (the audit log was unavailable), to be
        written later in the order they were kept."""
        kept = {"event": event, "transfer_id": job_id, "fields": record,
                "happened": happened or datetime.now(UTC).isoformat(timespec="milliseconds"), "why": why}
        name = new_job_id()
        staging = self.queue("tmp") / f"audit-{name}"
        try:
            write_durably(staging, json.dumps(kept, ensure_ascii=False).encode("utf-8"))
            os.rename(staging, self.queue("unaudited") / name)  # never a half-written record in the queue
        finally:
            staging.unlink(missing_ok=True)
        fsync_dir(self.queue("unaudited"))

    def keep_audit(self, job_id: str, record: dict[str, Any], event: str = "received", happened: str | None = None,
                   why: str = "") -> None:
        """``postpone_audit``, never raising: if even the spool cannot keep it, the record goes
        to the log (the job it belongs to goes on either way)."""
        try:
            self.postpone_audit(job_id, record, event, happened, why)
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
                    if kept.get("why"):
                        fields["why"] = str(kept["why"])  # not a field of the record: why it is late
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

    def mark_delivered(self, job_id: str, intents: list[dict[str, Any]]) -> Path:
        """A durable note that this job reached the LGWAN side (checked before any re-delivery),
        holding the records of the delivery until they are in the log."""
        marker = self.queue("delivered") / job_id
        write_durably(marker, json.dumps(intents, ensure_ascii=False).encode("utf-8"))
        fsync_dir(self.queue("delivered"))
        return marker

    def delivered_markers(self) -> list[Path]:
        return sorted(self.queue("delivered").iterdir())

    def forget_delivered(self, job_id: str) -> None:
        """After a delivery's records are written: the job is removed wherever a crash left it,
        durably, and only then its marker (a marker never goes while a copy could be sent again)."""
        for queue in ("sending", "outbox", "deferred"):
            entry = self.queue(queue) / job_id
            if entry.exists():
                shutil.rmtree(entry)
                fsync_dir(self.queue(queue))
        (self.queue("delivered") / job_id).unlink(missing_ok=True)

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
                    due = float(json.loads(_envelope_file(entry).read_text(encoding="utf-8"))
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

    def unheld(self, *queues: str) -> list[SpoolJob]:
        """Jobs in ``queues`` that no worker holds and that still carry audit records (in
        ``done``: every job), each locked now for the caller."""
        found = []
        for queue in queues:
            for entry in sorted(self.queue(queue).iterdir()):
                if queue != "done" and not (entry / INTENTS).exists():
                    continue
                lock = _lock(entry)
                if lock is not None:
                    found.append(SpoolJob(entry.name, entry, lock))
        return found

    def clear_done(self) -> None:
        """At start: jobs that had written their records and had nothing left to do."""
        for entry in self.queue("done").iterdir():
            shutil.rmtree(entry, ignore_errors=True)

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

    def move(self, job: SpoolJob, target: str, envelope: dict[str, Any] | None = None,
             intents: list[dict[str, Any]] | None = None, hold: bool = False) -> SpoolJob:
        """Move a job to ``target`` (the rename is the state change), with its new envelope and
        the audit records the change intends written into it first. ``hold``: the job stays
        locked (the returned job holds the lock) until the caller has written the records."""
        destination = self.queue(target) / job.id
        try:
            if envelope is not None:
                envelope_file = _envelope_file(job.path)
                staged = envelope_file.with_name(envelope_file.name + ".new")
                write_durably(staged, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
                os.replace(staged, envelope_file)
            if intents:
                self.write_intents(job.path, intents)
            if envelope is not None or intents:
                fsync_dir(job.path)
            os.rename(job.path, destination)
            fsync_dir(self.queue(target))
        except BaseException:
            job.release()
            raise
        if hold:
            moved, job.lock = SpoolJob(job.id, destination, job.lock), None
            return moved
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
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        return moved

    def queue_sizes(self) -> dict[str, int]:
        """Jobs per queue, for monitoring (``hold``: what operators hold; not in ``depth``, no worker waits on it)."""
        return {queue: sum(1 for _ in self.queue(queue).iterdir())
                for queue in ("incoming", "active", "outbox", "sending", "deferred", "corrupt", "uploads", "working",
                              "hold")}

    def depth(self) -> int:
        return sum(1 for queue in ("incoming", "active", "outbox", "sending", "deferred", "uploads", "working")
                   for _ in self.queue(queue).iterdir())

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    # operator actions (``gateway queue``) ------------------------------------------------------
    def jobs(self, queues: tuple[str, ...] = LISTED_QUEUES) -> list[QueuedJob]:
        """Every job in ``queues`` as it is now, oldest first (read without locking: a listing)."""
        found = []
        for queue in queues:
            if not self.queue(queue).is_dir():  # (a spool of an older version has no ``hold``)
                continue
            for entry in self.queue(queue).iterdir():
                if entry.is_dir():  # a file in ``corrupt`` is a kept audit record that could not be read
                    found.append(_queued(queue, entry))
        return sorted(found, key=lambda job: (job.arrived, job.id))

    def find(self, job_id: str) -> QueuedJob:
        """The job ``job_id`` wherever it is; NoSuchJob if in no queue (delivered, deleted or never there)."""
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise NoSuchJob(job_id)
        for queue in LISTED_QUEUES:
            entry = self.queue(queue) / job_id
            if entry.is_dir():
                return _queued(queue, entry)
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

    @staticmethod
    def held_from(path: Path) -> str:
        """The queue a held job came from (``incoming`` when the note is missing or unreadable)."""
        try:
            source = json.loads((path / HELD_FROM).read_text(encoding="utf-8")).get("from")
        except (OSError, ValueError, AttributeError):
            return "incoming"
        return source if source in ("incoming", "outbox", "deferred", "corrupt", "uploads") else "incoming"

    def unhold(self, job: SpoolJob, intents: list[dict[str, Any]]) -> tuple[SpoolJob, str]:
        """A locked held job back into the queue it came from (still locked); its note goes."""
        source = self.held_from(job.path)
        (job.path / HELD_FROM).unlink(missing_ok=True)
        return self.move(job, source, intents=intents, hold=True), source


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
            return f"held by an operator (from {Spool.held_from(self.path)})"
        if self.envelope.get("waiting_for_scan"):
            return f"waiting for the malware scan: {self.envelope['waiting_for_scan']}"
        return str(self.envelope.get("last_error") or "")

    @property
    def kind(self) -> str:
        return "upload" if "names" in self.envelope or (self.path / "files").is_dir() else "mail"


def _queued(queue: str, entry: Path) -> QueuedJob:
    try:
        envelope = json.loads(_envelope_file(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        envelope = {}
    arrived = job_time(entry.name)
    if arrived is None:
        try:
            arrived = entry.stat().st_mtime
        except OSError:
            arrived = time.time()
    return QueuedJob(entry.name, queue, entry, envelope if isinstance(envelope, dict) else {}, arrived)
