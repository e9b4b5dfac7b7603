"""The queues' mechanics: staging and committing jobs, claiming them (flock and rename), moving
them with the audit records their state change intends, delivered markers, postponed records,
and recovery after a crash."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from gateway.spool.basics import (
    INTENTS,
    OUTGOING,
    OUTGOING_ENVELOPE,
    QUEUES,
    WORKING_QUEUES,
    SpoolJob,
    envelope_file,
    fsync_dir,
    lock_job,
    new_job_id,
    write_durably,
)

log = logging.getLogger(__name__)


class SpoolQueues:
    def __init__(self, root: Path) -> None:
        self.root = root
        for queue in QUEUES:
            (root / queue).mkdir(parents=True, exist_ok=True)

    @classmethod
    def reading(cls, root: Path) -> Self:
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
                    due = float(json.loads(envelope_file(entry).read_text(encoding="utf-8"))
                                .get("next_attempt", 0))
                except (OSError, ValueError, TypeError):
                    due = 0.0
                if due > now:
                    earliest = min(earliest, due)
                    continue
            lock = lock_job(entry)
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
                lock = lock_job(entry)
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
                lock = lock_job(entry)
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
                current = envelope_file(job.path)
                staged = current.with_name(current.name + ".new")
                write_durably(staged, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
                os.replace(staged, current)
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
