"""``gateway audit verify|list|export|purge`` and the audit records of the command-line transfers."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit import records
from gateway.audit.log import AuditLog, export
from gateway.audit.records import Recorder
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
        if args.action == "purge":
            cutoff = utc_time(args.before, "--before")
            purged = log.purge_before(cutoff)
            print(f"purged {purged} audit records older than {args.before}; {log.verify().summary()}", flush=True)
            return 0
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
                  f"{row.get('subject') or '-'} | {', '.join(row.get('findings') or []) or '-'}", flush=True)
        return 0
    except UsageError as exc:
        print(f"gateway: {exc}", flush=True)
        return 2
    finally:
        log.close()


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
