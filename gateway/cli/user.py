"""``gateway user add|list|disable|passwd``: local accounts of the web console. Passwords are
read from the terminal (twice) or, with ``--password-stdin``, from the first line of standard
input; only their Argon2id hash is kept. Every change is recorded in the audit log (event
``access``) with the account that ran the command."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from gateway.audit import records
from gateway.audit.recorder import Recorder
from gateway.cli.audit import open_log
from gateway.config import load_settings
from gateway.console.users import MIN_PASSWORD, AccountError, UserStore, check_password
from gateway.intake.tokens import ROLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per action, each with its own help; every one needs the data directory."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, type=Path, metavar="DIR", help="the service's data directory")
    common.add_argument("--config", type=Path, metavar="FILE", help="the service's configuration: its [serve] "
                        "audit_database, when the nodes share accounts on PostgreSQL")
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input instead of asking twice")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common, secret], help="make an account for the web console",
                             description=f"Make an account with one role; the password (at least {MIN_PASSWORD} "
                             "characters) is asked for twice and only its Argon2id hash is kept.")
    add.add_argument("--name", required=True, help="the login name (e.g. a staff number or 総務課-山田)")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="uploader: uploads and sees its own transfers; auditor: reads every transfer; admin: both")
    actions.add_parser("list", parents=[common], help="every account's name, role, dates and state (no hashes)",
                       description="One JSON line per account: name, role, created, password_changed, disabled, "
                       "state.")
    disable = actions.add_parser("disable", parents=[common], help="stop an account (its sessions end at once)",
                                 description="Disable an account: it can no longer log in and its open sessions "
                                 "end (exit 3 if there is no such enabled account).")
    disable.add_argument("--name", required=True, help="whose account")
    passwd = actions.add_parser("passwd", parents=[common, secret], help="set a new password (sessions end)",
                                description="Set a new password for an account; its open sessions end.")
    passwd.add_argument("--name", required=True, help="whose account")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("パスワード / password: ")
    if getpass.getpass("もう一度 / again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    database = load_settings(args.config).serve.audit_database if args.config else ""
    store = UserStore.open(args.data_dir, database)
    try:
        if args.action == "list":
            for row in store.listing():
                print(json.dumps(row, ensure_ascii=False), flush=True)
            return 0
        try:
            if args.action == "add":
                password = _password(args.password_stdin)
                check_password(password)
                if store.exists(args.name):
                    raise AccountError(f"a user named {args.name} exists already")
                _record(args.data_dir, database, f"user {args.name}: {args.role} account added")  # first: audited
                store.add(args.name, args.role, password)
                print(f"added {args.role} account {args.name}", flush=True)
            elif args.action == "passwd":
                password = _password(args.password_stdin)
                store.set_password(args.name, password)
                _record(args.data_dir, database, f"user {args.name}: password changed")
                print(f"password of {args.name} changed", flush=True)
            else:
                store.disable(args.name)  # disabled whatever happens to its record
                _record(args.data_dir, database, f"user {args.name}: account disabled")
                print(f"disabled {args.name}", flush=True)
        except AccountError as exc:
            print(f"gateway: {exc}", file=sys.stderr, flush=True)
            return 3 if args.action == "disable" else 2
        return 0
    finally:
        store.close()


def _record(data_dir: Path, database: str, subject: str) -> None:
    """An ``access`` record: what was done to which account, by which account (the one behind sudo)."""
    log = open_log(data_dir, database)
    try:
        Recorder(log).write(records.access(os.environ.get("SUDO_USER") or getpass.getuser(), subject))
    finally:
        log.close()
