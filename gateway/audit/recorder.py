"""The one way a record reaches the log.

``Recorder`` writes records: appended to the log, or, when the log cannot be written, kept in the
spool's ``unaudited`` queue and written later (a job's progress never waits for the audit log).
A state change of a spooled job carries its records with it (``Spool.move``/``send_on`` write
them into the job before the rename); ``Recorder.commit`` writes them after the rename, and
``Recorder.recover`` writes, at start, those a crash kept from the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.log import FIELDS, AuditLog, utc_now
from gateway.audit.records import CLOCK_MARGIN, LATE_CRASH, LATE_LOG_DOWN, Record, not_accepted
from gateway.spool import Queue, Spool, SpoolJob

log = logging.getLogger(__name__)


def _earliest(records: Sequence[Record]) -> str:
    """The UTC time from which the log is searched for ``records`` (the margin: other nodes' clocks)."""
    oldest = min(datetime.fromisoformat(r.intended) for r in records)
    return (oldest - CLOCK_MARGIN).isoformat(timespec="milliseconds")


LOGGED_FIELDS = ("channel", "outcome", "reason_code", "delivery_status")  # codes and states: no content


def state_line(record: Record) -> str:
    """The operator's log line for one state change: the event, the transfer and its codes -
    never a subject, an address, a file name or a detail written from the content."""
    fields = record.fields
    parts = [f"{record.event} {record.transfer_id} {record.key}"]
    parts += [f"{name}={fields[name]}" for name in LOGGED_FIELDS if fields.get(name)]
    findings = [str(code) for code in fields.get("findings") or [] if str(code).replace("_", "").isalnum()]
    if findings:
        parts.append(f"findings={','.join(sorted(set(findings)))}")
    return " ".join(parts)


class Recorder:
    """Appends records to the log; with a spool, keeps them in its ``unaudited`` queue when the
    log cannot be written (and never raises then); without one (the command line), raises."""

    def __init__(self, audit: AuditLog, spool: Spool | None = None) -> None:
        self.audit, self.spool = audit, spool

    def write(self, *records: Record) -> None:
        if not records:
            return
        for record in records:
            log.info("%s", state_line(record))
        try:
            if len(records) == 1:
                self.audit.append(records[0].event, records[0].transfer_id, **records[0].stored())
            else:  # a state change's records: in one transaction, all or none
                self.audit.append_all([(r.event, r.transfer_id, r.stored()) for r in records])
        except Exception as exc:
            if self.spool is None:
                raise
            log.error("audit record for %s postponed: %s", records[0].transfer_id, type(exc).__name__)
            for record in records:
                self.spool.keep_audit(record.transfer_id, record.stored(), record.event, record.intended,
                                      LATE_LOG_DOWN)

    def commit(self, job: SpoolJob, records: Sequence[Record]) -> None:
        """After the rename that committed a state change carrying ``records``: write them and
        drop the job's copy (the caller still holds the job, so nobody else writes them)."""
        self.write(*records)
        Spool.drop_intents(job.path)

    def _spool(self) -> Spool:
        if self.spool is None:
            raise ValueError("only a recorder with a spool recovers records")
        return self.spool

    def settle(self, job: Path) -> None:
        """Records ``job`` still carries because whoever committed them stopped before writing
        them: each written now unless the log already holds it."""
        records = [Record.from_json(item) for item in self._spool().intents(job)]
        self._write_missing(records)
        Spool.drop_intents(job)

    def finish_delivered(self, job_id: str) -> None:
        """A job whose delivery a crash interrupted after the LGWAN server took it: the
        ``delivered`` record its marker holds, unless written; then the job and the marker go."""
        spool = self._spool()
        self._write_missing([Record.from_json(item) for item in spool.intents(spool.queue(Queue.DELIVERED) / job_id)])
        spool.forget_delivered(job_id)

    def _write_missing(self, records: Sequence[Record], why: str = LATE_CRASH) -> None:
        """Each of ``records`` the log does not hold yet, written (late, saying ``why``)."""
        if not records:
            return
        try:
            held = self.audit.holds({(r.transfer_id, r.key) for r in records}, _earliest(records))
            missing = [r for r in records if (r.transfer_id, r.key) not in held]
            if missing:
                self.audit.append_all([(r.event, r.transfer_id, r.late(why) if why else r.stored()) for r in missing])
        except Exception as exc:  # the log is unavailable: kept, and checked again before they are written
            log.error("audit records of %s kept for later: %s", records[0].transfer_id, type(exc).__name__)
            for record in records:
                self._spool().postpone_audit(record.transfer_id, record.stored(), record.event, record.intended, why)

    def write_postponed(self) -> int:
        """Write the records kept in the spool, oldest first, each unless the log holds it
        already (a record kept after a crash may have been written before it). Raises while the
        log is unavailable (they stay kept)."""
        kept = self._spool().postponed_audits()
        keyed = {(transfer_id, str(fields["key"])) for _, _, transfer_id, fields in kept if fields.get("key")}
        held: set[tuple[str, str]] = set()
        if keyed:
            since = min(str(fields.get("happened") or utc_now()) for *_, fields in kept)
            held = self.audit.holds(keyed, (datetime.fromisoformat(since) - CLOCK_MARGIN).isoformat(
                timespec="milliseconds"))
        written = 0
        for entry, event, transfer_id, fields in kept:
            why = str(fields.pop("why", "")) if "why" in fields else LATE_LOG_DOWN
            name = (transfer_id, str(fields.get("key", "")))
            if name not in held:
                known = {k: v for k, v in fields.items() if k in FIELDS and k not in ("seq", "time", "event")}
                if why:
                    known["detail"] = f"{known['detail']}; {why}" if known.get("detail") else why
                self.audit.append(event, transfer_id, **known)
                written += 1
                if fields.get("key"):
                    held.add(name)
            entry.unlink()
        return written

    def recover(self) -> None:
        """At start, before any worker runs: every record a crash kept from the log is written
        (once), and what the crash left half-done is finished or discarded.

        - records kept in ``unaudited`` are written;
        - a job staged under ``tmp/`` was never committed, so its sender never got 250/202 and
          sends it again: it is discarded (by ``Spool.recover``), and if its ``received`` is in
          the log, ``not_accepted`` closes that transfer;
        - records a committed job carries, and those of a delivered marker, are written unless
          the log holds them; a delivered job is then removed wherever it was, then its marker;
        - jobs in ``done`` (records written, nothing left to do) are removed.
        """
        spool = self._spool()
        try:
            self.write_postponed()
        except Exception as exc:
            log.error("audit records kept in the spool could not be written yet: %s", type(exc).__name__)
        staged = spool.staged()
        if staged:
            since = min(_job_time(job_id) for job_id in staged)
            held = self.audit.holds({(job_id, "received") for job_id in staged}, since)
            self._write_missing([not_accepted(job_id) for job_id, _ in sorted(held)], why="")
            for job_id in staged:
                spool.discard(job_id)
        jobs = spool.with_intents()
        markers = spool.delivered_markers()  # after the jobs: a transfer's delivery comes after its sanitising
        intended = [Record.from_json(item) for path in [*jobs, *markers] for item in spool.intents(path)]
        self._write_missing(intended)
        for job in jobs:
            Spool.drop_intents(job)
        for marker in markers:
            spool.forget_delivered(marker.name)
        spool.clear_done()
        if staged or intended or markers:
            log.warning("after an interrupted run: %d staged transfers discarded, %d audit records checked, "
                        "%d delivered jobs finished", len(staged), len(intended), len(markers))

    def settle_orphans(self) -> None:
        """While running: records left in ``corrupt`` and ``done`` by a worker that died between
        its commit and writing them (a job still locked is someone's, and left alone)."""
        spool = self._spool()
        for job in spool.unheld(Queue.CORRUPT, Queue.DONE):
            try:
                self.settle(job.path)
                if job.path.parent.name == Queue.DONE:
                    spool.remove(job)
            finally:
                job.release()


def _job_time(job_id: str) -> str:
    """The UTC time a job id was made (``new_job_id`` begins with nanoseconds), less the margin."""
    try:
        moment = datetime.fromtimestamp(int(job_id[:16], 16) / 1e9, UTC)
    except ValueError:
        moment = datetime.now(UTC)
    return (moment - CLOCK_MARGIN).isoformat(timespec="milliseconds")
