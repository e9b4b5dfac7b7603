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
from typing import Any, Protocol

from gateway.audit import records
from gateway.config import Settings
from gateway.delivery.notices import undeliverable_notice
from gateway.delivery.transports import DeliveryError, DirectoryTransport, PermanentDeliveryError, SmtpTransport
from gateway.runner import Runner
from gateway.sharing import group_id
from gateway.spool import Queue, SpoolJob
from gateway.stop_signal import StopSignal

log = logging.getLogger(__name__)
DEFERRED_RESCAN_SECONDS = 60.0  # deferred envelopes are read again at least this often


class Transport(Protocol):
    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]: ...
    def close(self) -> None: ...


def transport_for(settings: Settings) -> Transport:
    """The LGWAN mail server when one is set, else the directory DATA_DIR/lgwan."""
    lgwan = settings.serve.lgwan_smtp_address
    if lgwan:
        return SmtpTransport(*lgwan)
    return DirectoryTransport(settings.serve.data_path / "lgwan", group_id(settings.serve.delivery_group))


class DeliveryWorker(Runner):
    """Claims due retries and the outbox (``claim``), delivers (``process``); an unexpected
    failure keeps the job in ``corrupt`` at once (a transport's own failures are retries)."""

    role, source, working, max_attempts = "delivery", Queue.OUTBOX, Queue.SENDING, 1

    def __init__(self, settings: Settings, stopping: StopSignal, transport: Transport | None = None) -> None:
        super().__init__(settings, stopping)
        self.options = settings.serve
        self.transport = transport if transport is not None else transport_for(settings)
        self.deferred_due = 0.0  # deferred envelopes are read again from then on

    def claim(self) -> SpoolJob | None:
        return self.next_job()

    def process(self, job: SpoolJob) -> None:
        self.deliver(job)

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            super().close()

    def next_job(self) -> SpoolJob | None:
        """A deferred job whose retry is due (so a busy outbox cannot starve retries), else the
        oldest in the outbox. Deferred envelopes are read only when the earliest retry is due
        (at the latest every DEFERRED_RESCAN_SECONDS), not on every poll."""
        if time.time() >= self.deferred_due:
            job, due = self.spool.claim_due(Queue.SENDING)
            self.deferred_due = 0.0 if job is not None else min(due, time.time() + DEFERRED_RESCAN_SECONDS)
            if job is not None:
                return job
        return self.spool.claim(Queue.OUTBOX, Queue.SENDING)

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
            self._move(job, Queue.CORRUPT, {**envelope, "last_error": str(exc)[:300]},  # last_error: `gateway queue`
                       records.failed(job.id, str(exc)[:300], "failed"))
            return
        except DeliveryError as exc:
            attempts = int(envelope.get("attempts", 0)) + 1
            age = time.time() - float(envelope.get("first_attempt", time.time()))
            if age > self.options.max_age_seconds:
                gave_up = f"gave up: {exc}"[:300]
                self._move(job, Queue.CORRUPT, {**envelope, "attempts": attempts, "last_error": gave_up},
                           records.failed(job.id, f"gave up: {exc}"[:300], "failed"))
                self._tell_postmaster(job.id, envelope, str(exc))
                return
            delay = self.options.retry_base_seconds * 2 ** min(attempts - 1, 10)
            retry = time.time() + delay
            self._move(job, Queue.DEFERRED, {**envelope, "attempts": attempts, "next_attempt": retry,
                                         "last_error": str(exc)[:300]},
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
