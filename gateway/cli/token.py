"""``gateway token create|list|revoke``: API tokens for the HTTP service. A token is printed once
on creation and only its hash is kept; creating and revoking are recorded in the audit log
(event ``access``) with who did it on this host."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from pathlib import Path

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.cli.audit import open_log
from gateway.config import load_settings
from gateway.intake.tokens import DEFAULT_VALID_DAYS, MAX_VALID_DAYS, ROLES, TokenStore

TOKEN_FILE = "tokens.sqlite3"  # noqa: S105 (a file name: only hashes are in it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per action, each with its own help; every one needs the data directory."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, type=Path, metavar="DIR", help="the service's data directory")
    common.add_argument("--config", type=Path, metavar="FILE", help="the service's configuration: its [serve] "
                        "audit_database, when the nodes share tokens on PostgreSQL")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="make a token (printed once, only its hash kept)",
                                description="Make a token for one role; it is printed once and only its hash is "
                                "kept. Recorded in the audit log with the account that ran the command.")
    create.add_argument("--role", choices=ROLES, required=True, help="what the token may do")
    create.add_argument("--name", default="", help="who holds it (default: the role's name)")
    create.add_argument("--valid-days", type=int, default=DEFAULT_VALID_DAYS, metavar="N",
                        help=f"days until the token expires (1-{MAX_VALID_DAYS}, default {DEFAULT_VALID_DAYS})")
    actions.add_parser("list", parents=[common], help="every token's holder, role, expiry and state (no secrets)",
                       description="One JSON line per token: holder, role, created, expires, revoked.")
    revoke = actions.add_parser("revoke", parents=[common], help="revoke every token of a holder",
                                description="Revoke every token of a holder at once (exit 3 if there was none).")
    revoke.add_argument("--name", required=True, help="whose tokens")


def run(args: argparse.Namespace) -> int:
    database = load_settings(args.config).serve.audit_database if args.config else ""
    store = TokenStore(args.data_dir / TOKEN_FILE, database)
    try:
        if args.action == "list":
            for row in store.listing():
                print(json.dumps(row, ensure_ascii=False), flush=True)
            return 0
        if args.action == "create":
            if not 1 <= args.valid_days <= MAX_VALID_DAYS:
                print(f"gateway: --valid-days must be 1 to {MAX_VALID_DAYS}", flush=True)
                return 2
            name = args.name or args.role
            log = open_log(args.data_dir, database)  # first: a token nobody can audit is never made
            try:
                token = store.create(args.role, name, args.valid_days)
                try:
                    _record(log, name, f"{args.role} token created, valid {args.valid_days} days")
                except BaseException:
                    store.revoke_token(token)
                    raise
            finally:
                log.close()
            print(token, flush=True)
            return 0
        revoked = store.revoke(args.name)  # revoked whatever happens to its record
        if revoked:
            log = open_log(args.data_dir, database)
            try:
                _record(log, args.name, f"{revoked} token(s) revoked")
            finally:
                log.close()
        print(f"revoked {revoked} token(s) of {args.name}", flush=True)
        return 0 if revoked else 3
    finally:
        store.close()


def _record(log: AuditLog, name: str, what: str) -> None:
    """An ``access`` record: what was done, for whom, by which account (the one behind sudo)."""
    Recorder(log).write(records.access(os.environ.get("SUDO_USER") or getpass.getuser(), f"{name}: {what}"))
