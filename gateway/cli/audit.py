"""``gateway audit verify|list|export|purge`` and the audit records of the command-line transfers."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.audit.rows import export
from gateway.config import load_settings

AUDIT_FILE = "audit.sqlite3"


def open_log(data_dir: Path, database: str = "") -> AuditLog:
    """The audit log of DATA_DIR (its key is there), on SQLite there or on ``database``."""
    return AuditLog(data_dir / AUDIT_FILE, database=database)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per action, each with its own help; every one needs the data directory."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                        help="the service's data directory (the audit log's key is there)")
    common.add_argument("--config", type=Path, metavar="FILE", help="the service's configuration: its [serve] "
                        "audit_database, when the log is on PostgreSQL")
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--since", metavar="ISO8601", help="only transfers received at or after this time "
                        "(with its offset, e.g. 2026-04-01T00:00:00+09:00)")
    period.add_argument("--until", metavar="ISO8601", help="only transfers received before this time")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("verify", parents=[common], help="check the hash chain of every record (exit 3 if broken)",
                       description="Check that no record was changed, removed or inserted: each record's keyed "
                       "hash covers the one before it. Exit 0 when intact, 3 when not.")
    actions.add_parser("list", parents=[common, period], help="one line per transfer",
                       description="One line per transfer: time, id, channel, outcome, delivery state, sender, "
                       "recipients, subject and findings.")
    export = actions.add_parser("export", parents=[common, period], help="every record as JSON lines or CSV",
                                description="Every record of the period, in the format of docs/CONTRACT.md, "
                                "for archiving or for a spreadsheet.")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default: jsonl")
    show = actions.add_parser("show", parents=[common], help="one transfer's parts and timeline, by any reference",
                              description="Find a transfer by the GW- reference of a notice, its id, its Message-ID, "
                              "or a SHA-256 (of what arrived, of an attachment, uploaded file or archive member, or "
                              "of an output) and print what happened to it and to each of its parts. Exit 3 when "
                              "nothing matches.")
    show.add_argument("reference", metavar="REF", help="GW-XXXXXXXXXXXX, a transfer id, a Message-ID or a SHA-256")
    show.add_argument("--json", action="store_true", help="one JSON object per transfer: its row and its records")
    actions.add_parser("reindex", parents=[common], help="rebuild the search index from the records",
                       description="Make the search index (one row per transfer, read by the web console's "
                       "transfer log) again from the records. The records and their hash chain are not touched.")
    purge = actions.add_parser("purge", parents=[common], help="delete records older than a time",
                               description="Delete the records older than --before; the rest of the chain stays "
                               "verifiable.")
    purge.add_argument("--before", metavar="ISO8601", required=True,
                       help="delete the records older than this (e.g. 2021-04-01T00:00:00+09:00)")


def run(args: argparse.Namespace) -> int:
    database = load_settings(args.config).serve.audit_database if args.config else ""
    if not database and not (args.data_dir / AUDIT_FILE).exists():
        print(f"gateway: no audit log in {args.data_dir}", flush=True)
        return 2
    log = open_log(args.data_dir, database)
    try:
        if args.action == "verify":
            result = log.verify()
            print(result.summary(), flush=True)
            return 0 if result.ok else 3
        if args.action == "reindex":
            print(f"search index rebuilt: {log.reindex()} transfers", flush=True)
            return 0
        if args.action == "purge":
            cutoff = utc_time(args.before, "--before")
            purged = log.purge_before(cutoff)
            print(f"purged {purged} audit records older than {args.before}; {log.verify().summary()}", flush=True)
            return 0
        if args.action == "show":
            return show(log, args.reference, args.json)
        since = utc_time(args.since, "--since") if args.since else None
        until = utc_time(args.until, "--until") if args.until else None
        if args.action == "export":
            print(export(log, args.format, since, until), end="", flush=True)
            return 0
        print("received (UTC)                 id                                channel  outcome    delivery   "
              "sender -> recipients | subject | findings", flush=True)
        for row in log.transfers(since, until):
            recipients = ", ".join(row.get("recipients") or []) or "-"
            parties = f"{row.get('sender') or row.get('user') or '-'} -> {recipients}"
            print(f"{row.get('received_time', ''):29}  {row['id']:32}  {row.get('channel', '-'):7}  "
                  f"{row.get('outcome', '-'):9}  {row.get('delivery_status', '-'):9}  {parties} | "
                  f"{row.get('subject') or '-'} | {', '.join(row.get('findings') or []) or '-'}"
                  f"{' | ' + row['outcome_detail'] if row.get('outcome_detail') else ''}", flush=True)
            for line in part_lines(row.get("parts") or []):
                print(f"{'':31}{line}", flush=True)
        return 0
    except UsageError as exc:
        print(f"gateway: {exc}", flush=True)
        return 2
    finally:
        log.close()


def part_lines(parts: list[dict[str, Any]]) -> list[str]:
    """One line per attachment or uploaded file, and one per archive member not passed as it was."""
    lines = []
    for part in parts:
        why = f" {part['reason_code']}" if part.get("reason_code") else ""
        findings = f" [{', '.join(part['findings'])}]" if part.get("findings") else ""
        malware = f" malware: {', '.join(part['signatures'])}" if part.get("signatures") else ""
        lines.append(f"{part.get('kind', 'part')} {part.get('name', '')}: {part.get('outcome', '?')}{why}{findings}"
                     f"{malware}")
        for member in part.get("members") or []:
            if member.get("outcome") != "passed" or member.get("findings"):
                why = f" {member['reason_code']}" if member.get("reason_code") else ""
                findings = f" [{', '.join(member['findings'])}]" if member.get("findings") else ""
                lines.append(f"  member {member.get('name', '')}: {member.get('outcome', '?')}{why}{findings}")
        if part.get("members_omitted"):
            lines.append(f"  ... and {part['members_omitted']} more members that passed")
    return lines


def show(log: AuditLog, reference: str, as_json: bool) -> int:
    """``audit show REF``: each transfer REF names, with its parts and its records in order."""
    found = log.find(reference)
    if not found:
        print(f"gateway: no transfer matches {reference} (a GW- reference, a transfer id, a Message-ID or a SHA-256)",
              flush=True)
        return 3
    for transfer_id in found:
        row, timeline = log.transfer(transfer_id)
        if as_json:
            print(json.dumps({"transfer": row, "records": timeline}, ensure_ascii=False), flush=True)
            continue
        size = f" ({row['input_size']} bytes)" if row.get("input_size") else ""
        detail = f", {row['outcome_detail']}" if row.get("outcome_detail") else ""
        print(f"transfer    {transfer_id}{'  reference ' + row['reference'] if row['reference'] else ''}\n"
              f"channel     {row['channel'] or '-'}  client {row['client_ip'] or '-'}  user {row['user'] or '-'}\n"
              f"sender      {row['sender'] or '-'}\nrecipients  {', '.join(row['recipients']) or '-'}\n"
              f"subject     {row['subject'] or '-'}\nmessage-id  {row['message_id'] or '-'}\n"
              f"input       {row['input_sha256'] or '-'}{size}\n"
              f"outcome     {row['outcome'] or '-'}{detail}\ndelivery    {row['delivery_status'] or '-'}\n"
              f"findings    {', '.join(row['findings']) or '-'}\nparts:{'' if row['parts'] else ' none'}", flush=True)
        for line in part_lines(row["parts"]):
            print(f"  {line}", flush=True)
        print("records:", flush=True)
        for record in timeline:
            part = f" {record['key']}" if str(record.get("key", "")).startswith(("attachment-", "file-")) else ""
            print(f"  {record['seq']:>6}  {record.get('happened') or record['time']}  {record['event']:9}{part}  "
                  f"{record.get('outcome') or ''} {record.get('delivery_status') or ''} "
                  f"{record.get('detail') or ''}".rstrip(), flush=True)
        print(flush=True)
    return 0


class UsageError(ValueError):
    """A flag's value the command cannot use."""


def utc_time(value: str, flag: str) -> str:
    """An ISO 8601 time with its offset, as the audit log writes times (UTC, milliseconds)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} needs an ISO 8601 time, e.g. {flag} 2021-04-01T00:00:00+09:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"give {flag} with its UTC offset (+09:00 for JST), e.g. {flag} {moment.isoformat()}+09:00")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def record_file(log: AuditLog, result: dict[str, Any], user: str) -> None:
    """A ``gateway sanitize --data-dir`` transfer's records, in one transaction."""
    Recorder(log).write(*records.cli_file(uuid.uuid4().hex, user, result))


def record_mail(log: AuditLog, summary: dict[str, Any], user: str, written: Path | None) -> None:
    """A ``gateway mail --data-dir`` transfer's records, in one transaction."""
    Recorder(log).write(*records.cli_mail(uuid.uuid4().hex, user, summary, written is not None))
