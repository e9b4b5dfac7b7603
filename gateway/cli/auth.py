"""``gateway auth unlock``: lift the failed-login limit on an address or a user before its window
passes (gateway/intake/throttle.py). The running service picks the request up within a second;
the unlock is recorded in the audit log (event ``access``) with the account that ran it."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import uuid
from pathlib import Path

from gateway.cli.audit import open_log
from gateway.config import load_settings
from gateway.intake.throttle import IDENTITY_PREFIX, UNLOCK_DIR, request_unlock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    unlock = actions.add_parser(
        "unlock", help="lift the failed-login limit on an address or a user now",
        description="Forget the recent failed logins of an address (IPv6: its /64) or of a user, so they may "
        "try again at once. The running service applies it within a second.")
    target = unlock.add_mutually_exclusive_group(required=True)
    target.add_argument("address", nargs="?", metavar="ADDRESS", help="the client address (IPv4 or IPv6)")
    target.add_argument("--user", metavar="NAME", help="a user name of the web console")
    unlock.add_argument("--data-dir", required=True, type=Path, metavar="DIR", help="the service's data directory")
    unlock.add_argument("--config", type=Path, metavar="FILE", help="the service's configuration: its [serve] "
                        "audit_database, when the log is on PostgreSQL")


def run(args: argparse.Namespace) -> int:
    if args.address is not None:
        try:
            key = str(ipaddress.ip_address(args.address))
        except ValueError:
            print(f"gateway: not an IP address: {args.address}", flush=True)
            return 2
    else:
        key = IDENTITY_PREFIX + args.user
    database = load_settings(args.config).serve.audit_database if args.config else ""
    log = open_log(args.data_dir, database)  # first: an unlock nobody can audit is never made
    try:
        request_unlock(args.data_dir / UNLOCK_DIR, key)
        who = os.environ.get("SUDO_USER") or getpass.getuser()
        log.append("access", f"access-{uuid.uuid4().hex[:16]}", channel="cli", user=who,
                   subject=f"{key}: failed logins unlocked")
    finally:
        log.close()
    print(f"unlock of {key} requested; the running service applies it within a second", flush=True)
    return 0
