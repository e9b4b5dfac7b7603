"""The one worker loop every worker process runs (pipeline, uploads, delivery), as Mailman's
``Runner`` is: claim a job from the spool, process it, and let ``process`` commit it (a rename
into the next queue, with its audit records). When ``process`` raises, the job is given back to
its queue to be tried again, or - after ``max_attempts`` tries - kept in ``corrupt`` with a
``failed`` record, never dropped; if even that fails, the job is unlocked for the supervisor's
orphan sweep. The loop ends when the service's stop flag is set, after the job in hand.

A worker builds only what it uses (``build``): its spool, its audit log and recorder, and its
own tools (sanitizers, a transport); nothing of the supervisor.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import ClassVar

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.config import Settings
from gateway.spool import Queue, Spool, SpoolJob
from gateway.stop_signal import StopSignal

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 0.02  # an idle worker looks at its queue this often (an empty directory: cheap)
ERROR_PAUSE_SECONDS = 1.0  # after a job failed, so a broken disk or database is not hammered


class Runner(ABC):
    role: ClassVar[str]  # the worker's name in logs and records: "pipeline", "uploads", "delivery"
    source: ClassVar[str]  # the queue jobs are claimed from (and given back to)
    working: ClassVar[str]  # the queue a claimed job is in while it is processed
    max_attempts: ClassVar[int]  # tries before a failing job is kept in corrupt

    def __init__(self, settings: Settings, stopping: StopSignal) -> None:
        data = settings.serve.data_path
        self.settings, self.stopping = settings, stopping
        self.spool = Spool(data / "spool")
        self.audit = AuditLog(data / "audit.sqlite3", database=settings.serve.audit_database)
        self.recorder = Recorder(self.audit, self.spool)

    def claim(self) -> SpoolJob | None:
        return self.spool.claim(self.source, self.working)

    @abstractmethod
    def process(self, job: SpoolJob) -> None:
        """Do the job and commit it (move or remove it, its records with it); raise to fail it."""

    def start(self) -> None:  # noqa: B027 (a hook: most workers have nothing to start)
        """Before the first job (e.g. start sandboxed helpers); a failure here is logged, not fatal."""

    def close(self) -> None:
        """After the last job (a subclass closes its own tools, then calls this)."""
        self.audit.close()

    def run(self) -> None:
        try:
            self.start()
            while not self.stopping.is_set():
                job = None
                try:
                    job = self.claim()
                    if job is None:
                        self.stopping.wait(IDLE_POLL_SECONDS)
                        continue
                    self.process(job)
                except Exception as exc:  # the loop must never die: count the attempt, go on
                    log.error("%s failed on %s: %s", self.role, job.id if job else "-", type(exc).__name__,
                              exc_info=True)
                    if job is not None:
                        self.attempt_failed(job, type(exc).__name__)
                    self.stopping.wait(ERROR_PAUSE_SECONDS)
        finally:
            self.close()

    def attempt_failed(self, job: SpoolJob, why: str) -> None:
        """Count a failed attempt: back to ``source``, or ``corrupt`` (audited) after
        ``max_attempts``. If even that fails, the job is unlocked for the orphan sweep."""
        try:
            envelope = job.envelope()
            attempts = int(envelope.get("attempts", 0)) + 1
            if attempts >= self.max_attempts:
                detail = (f"{self.role} failed {attempts} times" if attempts > 1 else f"{self.role} failed ({why})")
                failed = records.failed(job.id, f"{detail}; kept in corrupt")
                job = self.spool.move(job, Queue.CORRUPT, {**envelope, "attempts": attempts, "last_error": detail},
                                      intents=[failed.to_json()], hold=True)  # released below
                self.recorder.commit(job, [failed])
            else:
                self.spool.move(job, self.source, {**envelope, "attempts": attempts})
        except Exception as exc:  # the disk or the audit log is in trouble: leave it to the sweep
            log.error("could not count a failed attempt on %s: %s", job.id, type(exc).__name__)
        finally:
            job.release()
