"""Every audit event's shape, and the one way a record reaches the log.

Each function below builds the record of one kind of state change, with the fields and values
``audit export`` reads (docs/CONTRACT.md, "gateway audit"); nothing else builds records. A record
carries a ``key``, its name within its transfer (``received``, ``attachment-2``, ``outcome``,
``delivered``, ...), so that a record intended before a crash is found again in the log and never
written twice.

``Recorder`` writes records: appended to the log, or, when the log cannot be written, kept in the
spool's ``unaudited`` queue and written later (a job's progress never waits for the audit log).
A state change of a spooled job carries its records with it (``Spool.move``/``send_on`` write
them into the job before the rename); ``Recorder.commit`` writes them after the rename, and
``Recorder.recover`` writes, at start, those a crash kept from the log.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.audit.log import FIELDS, AuditLog, utc_now
from gateway.spool import Queue, Spool, SpoolJob

log = logging.getLogger(__name__)
LATE_LOG_DOWN = "recorded late: the audit log was unavailable when this arrived"
LATE_CRASH = "recorded late: the gateway stopped before writing it"
NOT_ACCEPTED = ("not accepted: the connection was cut before the 250 reply, so the sender sends it again; "
                "nothing was delivered")
CLOCK_MARGIN = timedelta(minutes=10)  # nodes sharing a log may disagree on the time this much


@dataclass(frozen=True)
class Record:
    event: str
    transfer_id: str
    key: str
    fields: dict[str, Any]
    intended: str = field(default_factory=utc_now)  # when the state change happened

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "transfer_id": self.transfer_id, "key": self.key, "fields": self.fields,
                "intended": self.intended}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Record:
        return Record(str(data["event"]), str(data["transfer_id"]), str(data["key"]), dict(data["fields"]),
                      str(data.get("intended") or utc_now()))

    def stored(self) -> dict[str, Any]:
        """The fields as the log stores them."""
        return {**self.fields, "key": self.key}

    def late(self, why: str) -> dict[str, Any]:
        """The fields of this record written late: when it happened, and why it is late."""
        detail = self.fields.get("detail")
        return {**self.stored(), "happened": self.intended, "detail": f"{detail}; {why}" if detail else why}


def _codes(findings: Any) -> list[str]:
    return [str(f.get("code", "")) for f in findings or [] if isinstance(f, dict)]


def _hashes(outputs: Any) -> list[str]:
    return [str(o.get("sha256", "")) for o in outputs or [] if isinstance(o, dict)]


def _unique(prefix: str) -> str:
    """A key for an event that may happen more than once in a transfer."""
    return f"{prefix}-{secrets.token_hex(4)}"


# intake --------------------------------------------------------------------------------------
def received_mail(job_id: str, meta: dict[str, Any], size: int) -> Record:
    """A mail taken by SMTP (written before the spool commits it: see ``not_accepted``)."""
    return Record("received", job_id, "received", {
        "channel": "smtp", "client_ip": meta["client_ip"], "sender": meta["sender"], "recipients": meta["recipients"],
        "input_size": size})


def received_upload(transfer_id: str, meta: dict[str, Any], size: int) -> Record:
    """Files uploaded through the HTTP API; their names stand as the subject."""
    return Record("received", transfer_id, "received", {
        "channel": "http", "client_ip": meta["client_ip"], "user": meta["user"],
        "subject": ", ".join(meta["names"])[:500], "input_size": size})


def not_accepted(transfer_id: str) -> Record:
    """A transfer recorded as received whose spooling was never committed (a crash or an error
    before the 250 or 202): the sender was not told it arrived, nothing of it goes further."""
    return Record("failed", transfer_id, "not-accepted", {"detail": NOT_ACCEPTED})


# pipeline ------------------------------------------------------------------------------------
def part(transfer_id: str, index: int, kind: str, result: dict[str, Any]) -> Record:
    """One attachment of a mail (``kind`` "attachment") or one uploaded file ("file"): sanitized
    or blocked. ``audit/log.py`` reads a record whose detail starts with "attachment " or "file "
    as a part of its transfer."""
    fields: dict[str, Any] = {
        "outcome": result.get("outcome", ""), "input_sha256": result.get("sha256", ""),
        "findings": _codes(result.get("findings")), "outputs": _hashes(result.get("outputs")),
        "detail": f"{kind} {result.get('input', '')}"}
    if result.get("signatures"):  # what the antivirus engines found (gateway/pipeline/scan.py)
        fields["detail"] += f"; malware: {', '.join(str(s) for s in result['signatures'])}"[:300]
    if kind == "file":
        fields["input_size"] = result.get("size", 0)
    if result.get("reason_code"):
        fields["reason_code"] = str(result["reason_code"])  # also in the state's log line
    fields["part"] = describe_part(kind, index, result)
    event = "blocked" if result.get("outcome") == "blocked" else "sanitized"
    return Record(event, transfer_id, f"{kind}-{index}", fields)


MAX_MEMBERS_KEPT = 1000  # archive members described in one part's record (blocked and changed ones first)


def describe_part(kind: str, index: int, result: dict[str, Any]) -> dict[str, Any]:
    """What ``audit export`` shows of one attachment or uploaded file (its ``parts`` column): its
    name, type, hash, outcome, reason code, findings, signatures and outputs, and each archive
    member's the same way (``members``, flattened, ``name`` the path inside the archive)."""
    described = {"kind": kind, "index": index, **_judged(result), "signatures": [str(s) for s in
                                                                                result.get("signatures") or []]}
    members: list[dict[str, Any]] = []
    _members(result.get("members"), "", members)
    if members:
        ranked = sorted(range(len(members)), key=lambda n: (members[n]["outcome"] == "passed", n))
        kept = sorted(ranked[:MAX_MEMBERS_KEPT])
        described["members"] = [members[n] for n in kept]
        if len(members) > len(kept):
            described["members_omitted"] = len(members) - len(kept)
    return described


def _judged(result: dict[str, Any]) -> dict[str, Any]:
    return {"name": str(result.get("input", ""))[:300], "type": str(result.get("type", "") or ""),
            "size": result.get("size", 0) if isinstance(result.get("size"), int) else 0,
            "sha256": str(result.get("sha256", "") or ""), "outcome": str(result.get("outcome", "")),
            "reason_code": str(result.get("reason_code") or ""), "reason": str(result.get("reason") or "")[:300],
            "findings": _codes(result.get("findings")), "outputs": _hashes(result.get("outputs"))}


def _members(items: Any, prefix: str, into: list[dict[str, Any]]) -> None:
    for item in items or []:
        if not isinstance(item, dict):
            continue
        judged = _judged(item)
        judged["name"] = f"{prefix}{judged['name']}"[:300]
        judged.pop("size")
        into.append(judged)
        _members(item.get("members"), f"{judged['name']}/", into)


def attachments(transfer_id: str, summary: dict[str, Any]) -> list[Record]:
    return [part(transfer_id, index, "attachment", item)
            for index, item in enumerate(summary.get("attachments", []), start=1)]


def mail_sanitized(job_id: str, summary: dict[str, Any], message: bytes) -> Record:
    """The mail made safe and queued for delivery (``accepted``; ``audit export`` says
    ``delivered`` once the LGWAN side took it): the new message's hash is its output."""
    return Record("sanitized", job_id, "outcome", {
        "outcome": "accepted", "subject": summary.get("subject", ""), "message_id": summary.get("message_id", ""),
        "sender": summary.get("from", ""), "input_sha256": summary.get("sha256", ""),
        "findings": _codes(summary.get("findings")), "outputs": [hashlib.sha256(message).hexdigest()]})


def mail_rejected(job_id: str, summary: dict[str, Any]) -> Record:
    """A mail that could not be made safe (its recipients get a notice instead)."""
    fields = {"outcome": "rejected", "detail": str(summary.get("reason") or "")}
    if summary.get("reason_code"):
        fields["reason_code"] = str(summary["reason_code"])
    return Record("blocked", job_id, "outcome", fields)


def failed(transfer_id: str, detail: str, delivery_status: str = "") -> Record:
    """A job that cannot go on (kept in ``corrupt``), or a delivery given up."""
    fields: dict[str, Any] = {"detail": detail}
    if delivery_status:
        fields = {"delivery_status": delivery_status, **fields}
    return Record("failed", transfer_id, _unique("failed"), fields)


def scan_deferred(transfer_id: str, reason: str) -> Record:
    """A mail or upload waiting for the malware scan (the engines are unavailable): back in its
    queue, untouched, retried until they answer. Once per transfer, however long the wait."""
    return Record("deferred", transfer_id, "scan-deferred", {
        "delivery_status": "deferred", "detail": f"waiting for the malware scan: {reason}"[:300]})


# delivery ------------------------------------------------------------------------------------
def deferred(job_id: str, attempt: int, detail: str) -> Record:
    return Record("deferred", job_id, f"deferred-{attempt}", {"delivery_status": "deferred", "detail": detail})


def delivered(job_id: str, results: dict[str, str]) -> Record:
    """The LGWAN server took the message: for each recipient, "delivered" or "refused"."""
    refused = [r for r, state in results.items() if state != "delivered"]
    return Record("delivered", job_id, "delivered", {
        "delivery_status": "delivered" if not refused else "partly delivered",
        "recipients": [r for r, state in results.items() if state == "delivered"],
        "detail": f"refused by the LGWAN server: {', '.join(refused)}" if refused else ""})


def files_delivered(transfer_id: str) -> Record:
    """An upload's outputs are on the LGWAN side (``lgwan-files/``)."""
    return Record("delivered", transfer_id, "delivered", {"delivery_status": "delivered"})


# the command line and the service itself -----------------------------------------------------
def cli_file(transfer: str, user: str, result: dict[str, Any]) -> list[Record]:
    """``gateway sanitize --data-dir``: one file, received, judged and (unless blocked) written."""
    common = {"channel": "cli", "user": user, "subject": Path(str(result.get("input", ""))).name,
              "input_sha256": result.get("sha256", ""), "input_size": result.get("size", 0)}
    blocked = result.get("outcome") == "blocked"
    records = [Record("received", transfer, "received", common),
               Record("blocked" if blocked else "sanitized", transfer, "outcome", {
                   "outcome": result.get("outcome", ""), "findings": _codes(result.get("findings")),
                   "outputs": _hashes(result.get("outputs")), "detail": str(result.get("reason") or "")})]
    if not blocked:
        records.append(Record("delivered", transfer, "delivered", {
            "delivery_status": "written", "outputs": _hashes(result.get("outputs"))}))
    return records


def cli_mail(transfer: str, user: str, summary: dict[str, Any], written: bool) -> list[Record]:
    """``gateway mail --data-dir``: the mail, each attachment, its outcome, and whether it was written."""
    records = [Record("received", transfer, "received", {
        "channel": "cli", "user": user, "sender": summary.get("from", ""), "subject": summary.get("subject", ""),
        "message_id": summary.get("message_id", ""), "input_sha256": summary.get("sha256", ""),
        "input_size": summary.get("size", 0)}), *attachments(transfer, summary)]
    rejected = summary.get("outcome") == "rejected"
    records.append(Record("blocked" if rejected else "sanitized", transfer, "outcome", {
        "outcome": summary.get("outcome", ""), "findings": _codes(summary.get("findings")),
        "detail": str(summary.get("reason") or "")}))
    if written:
        records.append(Record("delivered", transfer, "delivered", {"delivery_status": "written"}))
    return records


def access(who: str, subject: str) -> Record:
    """An API token created or revoked (``gateway token``), by the account ``who``."""
    return Record("access", f"access-{secrets.token_hex(8)}", "access", {"channel": "cli", "user": who,
                                                                          "subject": subject})


def web_access(user: str, client_ip: str, subject: str, detail: str = "", outputs: Sequence[str] = ()) -> Record:
    """The web console (gateway/console/): a login, a failed login (``user`` is the name that was
    typed), a logout, or a download (``outputs``: the hash of what was handed out)."""
    fields: dict[str, Any] = {"channel": "web", "user": user, "client_ip": client_ip, "subject": subject}
    if detail:
        fields["detail"] = detail
    if outputs:
        fields["outputs"] = list(outputs)
    return Record("access", f"access-{secrets.token_hex(8)}", "access", fields)


def operator(transfer_id: str, who: str, action: str, detail: str, delivery_status: str) -> Record:
    """An operator's change to a queued transfer (``gateway queue retry|hold|release|delete``), by
    the account ``who`` (the one behind sudo): in the transfer's own timeline, with the delivery
    state it leaves (``queued``, ``deferred``, ``held``, ``deleted``)."""
    return Record("operator", transfer_id, _unique("operator"), {
        "operator": who, "delivery_status": delivery_status, "detail": f"{action} by {who}: {detail}"[:300]})


def purged(detail: str) -> Record:
    return Record("purged", "retention", _unique("purged"), {"detail": detail})


# writing -------------------------------------------------------------------------------------
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
