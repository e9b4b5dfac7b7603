"""The delivery worker of ``gateway serve``: drains the outbox (and the deferred queue, as
retries fall due) to the LGWAN side through one transport, with per-recipient results,
exponential backoff, a maximum age after which the postmaster is told, and a durable
"delivered" marker so that nothing is delivered twice after a crash. Each record goes with its
state change (``gateway/audit/records.py``): ``deferred`` and ``failed`` inside the moved job, and
``delivered`` inside the marker, which goes once the job is removed and the record written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.audit import records
from gateway.audit.records import Recorder
from gateway.config import ServeSettings
from gateway.delivery.notices import undeliverable_notice
from gateway.delivery.transports import DeliveryError, PermanentDeliveryError
from gateway.spool import Spool, SpoolJob
from gateway.stop_signal import StopSignal

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 0.02  # an idle worker looks at its queue this often (an empty directory: cheap)
DEFERRED_RESCAN_SECONDS = 60.0  # deferred envelopes are read again at least this often


class Transport(Protocol):
    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]: ...
    def close(self) -> None: ...


@dataclass
class DeliveryWorker:
    """``recorder`` writes (or keeps for later) the audit records; ``park`` keeps a job that
    cannot go on in ``corrupt``."""

    spool: Spool
    transport: Transport
    options: ServeSettings
    stopping: StopSignal
    recorder: Recorder
    park: Callable[[SpoolJob, str], None]
    deferred_due: float = 0.0  # deferred envelopes are read again from then on

    def loop(self) -> None:
        while not self.stopping.is_set():
            job = None
            try:
                job = self.next_job()
                if job is None:
                    self.stopping.wait(IDLE_POLL_SECONDS)
                    continue
                self.deliver(job)
            except Exception as exc:  # the loop must never die: park the job where a person looks, go on
                log.error("delivery loop error: %s", type(exc).__name__, exc_info=True)
                if job is not None:
                    self.park(job, f"delivery failed unexpectedly ({type(exc).__name__})")
                self.stopping.wait(1)

    def next_job(self) -> SpoolJob | None:
        """A deferred job whose retry is due (so a busy outbox cannot starve retries), else the
        oldest in the outbox. Deferred envelopes are read only when the earliest retry is due
        (at the latest every DEFERRED_RESCAN_SECONDS), not on every poll."""
        if time.time() >= self.deferred_due:
            job, due = self.spool.claim_due("sending")
            self.deferred_due = 0.0 if job is not None else min(due, time.time() + DEFERRED_RESCAN_SECONDS)
            if job is not None:
                return job
        return self.spool.claim("outbox", "sending")

    def _tell_postmaster(self, job_id: str, envelope: dict[str, Any], problem: str) -> None:
        """A short text mail to the postmaster about a message that could not be delivered."""
        if not self.options.postmaster:
            return
        try:
            self.transport.deliver(f"{job_id}-postmaster", self.options.postmaster, [self.options.postmaster],
                                   undeliverable_notice(job_id, envelope, problem, self.options.postmaster))
        except (DeliveryError, PermanentDeliveryError) as exc:
            log.error("postmaster notice failed: %s", type(exc).__name__)

    def _move(self, job: SpoolJob, queue: str, envelope: dict[str, Any], record: records.Record) -> None:
        """Move the job with its record inside, then write the record (the job stays held until then)."""
        moved = self.spool.move(job, queue, envelope, intents=[record.to_json()], hold=True)
        try:
            self.recorder.commit(moved, [record])
        finally:
            moved.release()

    def deliver(self, job: SpoolJob) -> None:
        self.recorder.settle(job.path)  # records its last mover stopped before writing (they come first)
        if self.spool.was_delivered(job.id):  # a crash came between delivery and removal
            try:
                self.recorder.finish_delivered(job.id)
            finally:
                job.release()
            return
        envelope = job.envelope()
        try:
            results = self.transport.deliver(job.id, str(envelope.get("sender", "")),
                                             list(envelope.get("recipients", [])), job.message.read_bytes())
        except PermanentDeliveryError as exc:
            self._move(job, "corrupt", envelope, records.failed(job.id, str(exc)[:300], "failed"))
            return
        except DeliveryError as exc:
            attempts = int(envelope.get("attempts", 0)) + 1
            age = time.time() - float(envelope.get("first_attempt", time.time()))
            if age > self.options.max_age_seconds:
                self._move(job, "corrupt", {**envelope, "attempts": attempts},
                           records.failed(job.id, f"gave up: {exc}"[:300], "failed"))
                self._tell_postmaster(job.id, envelope, str(exc))
                return
            delay = self.options.retry_base_seconds * 2 ** min(attempts - 1, 10)
            retry = time.time() + delay
            self._move(job, "deferred", {**envelope, "attempts": attempts, "next_attempt": retry},
                       records.deferred(job.id, attempts, f"{exc}; retry in {delay:.0f} s"))
            self.deferred_due = min(self.deferred_due, retry)
            return
        record = records.delivered(job.id, results)
        self.spool.mark_delivered(job.id, [record.to_json()])  # durable before anything else: never sent twice
        try:
            self.recorder.write(record)
            refused = [r for r, state in results.items() if state != "delivered"]
            if refused:
                self._tell_postmaster(job.id, {**envelope, "recipients": refused},
                                      "recipients refused by the LGWAN server")
            self.spool.forget_delivered(job.id)  # the job, then the marker
        finally:
            job.release()
