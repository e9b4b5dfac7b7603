"""Every audit event's shape: the one place records are built.

Each function below builds the record of one kind of state change, with the fields and values
``audit export`` reads (docs/CONTRACT.md, "gateway audit"); nothing else builds records. A record
carries a ``key``, its name within its transfer (``received``, ``attachment-2``, ``outcome``,
``delivered``, ...), so that a record intended before a crash is found again in the log and never
written twice.

How they reach the log (and what happens when it cannot be written) is ``gateway/audit/recorder.py``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.audit.log import utc_now

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
