"""A transfer as operators read it: one export row merged from its records (outcome, delivery
state, what was blocked, every part), and the export itself (JSON Lines or a CSV Japanese Excel
opens right). docs/CONTRACT.md describes the columns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.audit.log import AuditLog


EXPORT_COLUMNS = ("id", "time", "received_time", "event", "channel", "client_ip", "user", "sender", "recipients",
                  "subject", "message_id", "input_sha256", "input_size", "outcome", "findings", "outputs",
                  "delivery_status", "prev_hash", "hash",
                  # added with issue 12 (after the first ones, which keep their places)
                  "reference", "outcome_detail", "blocked", "parts", "detail")
LIST_COLUMNS = frozenset({"recipients", "findings", "outputs", "blocked", "parts"})
DELIVERY_EVENTS = ("delivered", "deferred", "failed")
LET_THROUGH = ("delivered", "partly delivered", "written")  # delivery states in which a mail was handed over
PART_KINDS = {"attachment": "attachments", "file": "files"}


def _old_part(record: dict[str, Any]) -> dict[str, Any]:
    """A part recorded before parts were described (``part``): what its detail and fields say."""
    kind, _, name = str(record.get("detail", "")).partition(" ")
    return {"kind": kind, "name": name.split("; malware: ")[0], "type": "", "size": record.get("input_size", 0),
            "sha256": record.get("input_sha256", ""), "outcome": record.get("outcome", ""), "reason_code": "",
            "reason": "", "findings": record.get("findings", []), "outputs": record.get("outputs", []),
            "signatures": []}


def _blocked_summary(parts: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """"1 of 2 attachments blocked (executable)", "1 archive member blocked (executable)", and
    the reason codes of every blocked part and member, once each."""
    sentences, codes = [], []
    for kind, word in PART_KINDS.items():
        mine = [p for p in parts if p.get("kind") == kind]
        blocked = [p for p in mine if p.get("outcome") == "blocked"]
        if blocked:
            why = ", ".join(dict.fromkeys(str(p["reason_code"]) for p in blocked if p.get("reason_code")))
            sentences.append(f"{len(blocked)} of {len(mine)} {word} blocked{f' ({why})' if why else ''}")
        codes += [str(p["reason_code"]) for p in blocked if p.get("reason_code")]
    members = [m for p in parts for m in p.get("members") or [] if m.get("outcome") == "blocked"]
    if members:
        why = ", ".join(dict.fromkeys(str(m["reason_code"]) for m in members if m.get("reason_code")))
        sentences.append(f"{len(members)} archive member{'s' if len(members) > 1 else ''} blocked"
                         f"{f' ({why})' if why else ''}")
        codes += [str(m["reason_code"]) for m in members if m.get("reason_code")]
    return "; ".join(sentences), list(dict.fromkeys(codes))


def merge(transfer_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A transfer's records merged into one row, in the order things happened (a record written
    late counts at its ``happened`` time), the latest state winning. A part's record (an
    attachment, an uploaded file) adds its findings, outputs and detail to the row and its own
    description to ``parts``, not its hash, size or outcome. A transfer without an outcome of its
    own gets its parts': ``blocked`` when every part was, ``passed`` when every part passed,
    ``sanitized`` otherwise. The delivery state is ``queued`` from arrival until a delivery
    event or an operator says otherwise; a rejected mail (or a blocked transfer) is ``not
    delivered`` (its notice's delivery goes into ``detail``); a mail is ``accepted``, not
    ``delivered``, until it was handed over."""
    records = sorted(records, key=lambda r: (str(r.get("happened") or r["time"]), r["seq"]))
    row: dict[str, Any] = {"id": transfer_id, "received_time": str(records[0].get("happened") or records[0]["time"])}
    parts: list[dict[str, Any]] = []
    for record in records:
        part = str(record.get("detail", "")).startswith(("attachment ", "file "))
        if part:
            described = record.get("part")
            parts.append(dict(described) if isinstance(described, dict) else _old_part(record))
        notice = row.get("outcome") == "rejected" and record["event"] in DELIVERY_EVENTS
        for key, value in record.items():
            if value in (None, "", []) or key in ("transfer_id", "seq", "happened", "key", "part"):
                continue
            if (part and key in ("outcome", "input_sha256", "input_size", "reason_code")) or \
                    (notice and key == "recipients"):
                continue
            if key in ("findings", "outputs"):
                row[key] = list(dict.fromkeys([*row.get(key, []), *value]))
            elif key == "detail" and row.get("detail"):
                if value not in row["detail"].split("; "):
                    row["detail"] = f"{row['detail']}; {value}"
            else:
                row[key] = value
        if notice:
            state = record.get("delivery_status") or record["event"]
            row["detail"] = "; ".join(filter(None, [row.get("detail"), f"notice of the stopped mail: {state}"]))
        elif record["event"] in DELIVERY_EVENTS:
            row["delivery_status"] = record.get("delivery_status") or record["event"]
        elif record["event"] == "received" or (record.get("outcome") and not part):  # (older records: no key)
            row["delivery_status"] = "queued"
    if parts:
        row["parts"] = parts
        if "outcome" not in row:
            outcomes = {str(p.get("outcome")) for p in parts}
            row["outcome"] = "blocked" if outcomes == {"blocked"} else "passed" if outcomes == {"passed"} \
                else "sanitized"
        row["outcome_detail"], row["blocked"] = _blocked_summary(parts)
    if row.get("outcome") in ("blocked", "rejected"):
        row["delivery_status"] = "not delivered"
    elif row.get("outcome") in ("delivered", "accepted"):  # a mail made safe ("delivered" in older records)
        row["outcome"] = "delivered" if row.get("delivery_status") in LET_THROUGH else "accepted"
    if row.get("input_sha256"):
        row["reference"] = f"GW-{str(row['input_sha256'])[:12].upper()}"
    return row


def complete(row: dict[str, Any]) -> dict[str, Any]:
    """A merged row with every export column (empty when the transfer had none: a list for the
    list columns, "" otherwise)."""
    return {**{column: [] if column in LIST_COLUMNS else "" for column in EXPORT_COLUMNS}, **row}


def export(log: AuditLog, fmt: str, since: str | None = None, until: str | None = None) -> str:
    """One row per transfer; every column scripts read is there in every row."""
    rows = [complete(row) for row in log.transfers(since, until)]
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return csv_text(rows)


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    """The export's CSV: UTF-8 with a BOM (Japanese Excel opens it right), CRLF line ends, the
    export columns in their order, list columns as JSON text."""
    columns = list(EXPORT_COLUMNS)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                         for k, v in row.items()})
    return "\ufeff" + buffer.getvalue()  # BOM: Japanese Excel opens it correctly
