"""The ``gateway`` command line (see docs/CONTRACT.md)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway import __version__
from gateway.cli import audit as audit_cli
from gateway.cli import auth as auth_cli
from gateway.cli import queue as queue_cli
from gateway.cli import serve as serve_cli
from gateway.cli import status as status_cli
from gateway.cli import token as token_cli
from gateway.cli import user as user_cli
from gateway.config import load_settings
from gateway.errors import GatewayError
from gateway.logs import configure as configure_logging
from gateway.pipeline.mail import MailSanitizer, write_message
from gateway.pipeline.sanitize import sanitize_paths
from gateway.startup import PRIVATE_UMASK

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="無害化 gateway for LGWAN: mail and files from the internet side are disarmed, "
        "verified and audited before they reach LGWAN. 'gateway COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sanitize = commands.add_parser("sanitize", help="disarm files into a directory",
                                   description="Disarm each FILE into DIR and print one JSON line per file "
                                   "(docs/CONTRACT.md). Exit 0 when every file was processed (passed or blocked).")
    sanitize.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the files to disarm")
    sanitize.add_argument("--out", required=True, type=Path, metavar="DIR", help="where the disarmed files go")
    sanitize.add_argument("--method", choices=("rebuild", "rasterize"),
                          help="rebuild the same format (default, or [sanitize] method) or rasterize pages into a PDF")
    mail = commands.add_parser("mail", help="sanitise one RFC 5322 message",
                               description="Sanitise one mail as the service does: the body as text, attachments "
                               "disarmed or removed, a notice at the end; print the summary as one JSON line.")
    mail.add_argument("message", type=Path, metavar="IN.eml", help="the mail as received")
    mail.add_argument("--out", required=True, type=Path, metavar="OUT.eml", help="where the sanitised mail goes")
    for command in (sanitize, mail):
        command.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration (default: built-in)")
        command.add_argument("--data-dir", type=Path, metavar="DIR", help="record each transfer in DIR's audit log")
    audit_cli.add_arguments(commands.add_parser(
        "audit", help="verify, list, export or purge the audit log",
        description="The tamper-evident audit log. 'gateway audit ACTION --help' describes each action."))
    serve_cli.add_arguments(commands.add_parser(
        "serve", help="run the SMTP intake, pipeline and delivery",
        description="Run the service: SMTP intake (and the HTTP API when set), pipeline workers and delivery. "
        "Flags override the [serve] keys of --config; every value is checked before anything starts."))
    queue_cli.add_arguments(commands.add_parser(
        "queue", help="list, show, retry, hold, release or delete queued mail and uploads",
        description="The spool of gateway serve, safe while it runs: a job a worker holds is never touched. "
        "Every change is recorded in the audit log. 'gateway queue ACTION --help' describes each action."))
    status_cli.add_arguments(commands.add_parser(
        "status", help="one screen: service, listeners, queues, disk, audit chain, antivirus",
        description="Whether gateway serve runs on the data directory, its workers and listeners, each queue's "
        "size and oldest job, the oldest deferred mail and why, free disk, the audit chain's head and the "
        "antivirus engines. Exit 3 when --verify finds the chain broken."))
    token_cli.add_arguments(commands.add_parser(
        "token", help="create (printed once), list or revoke API tokens",
        description="API tokens for the HTTP service. 'gateway token ACTION --help' describes each action."))
    user_cli.add_arguments(commands.add_parser(
        "user", help="add, list, disable web console accounts or set their passwords",
        description="Accounts of the web console (uploader, auditor, admin); passwords are kept as Argon2id "
        "hashes. 'gateway user ACTION --help' describes each action."))
    auth_cli.add_arguments(commands.add_parser(
        "auth", help="lift the failed-login limit on an address or a user",
        description="Failed-login limits of the HTTP service. 'gateway auth ACTION --help' describes each action."))
    return parser


def _sanitize(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"gateway: not a readable file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"gateway: cannot create output directory {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    log = audit_cli.open_log(args.data_dir) if args.data_dir else None
    status = EXIT_OK
    try:
        for result in sanitize_paths(settings, list(args.files), args.out, args.method):
            print(json.dumps(result, ensure_ascii=False), flush=True)
            if log is not None:
                audit_cli.record_file(log, result, getpass.getuser())
            if result.get("reason_code") == "internal_error":
                status = EXIT_INTERNAL
    finally:
        if log is not None:
            log.close()
    return status


def _mail(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if not args.message.is_file():
        print(f"gateway: not a readable file: {args.message}", file=sys.stderr)
        return EXIT_USAGE
    sanitizer = MailSanitizer(settings)
    try:
        result = sanitizer.process(args.message)
    finally:
        sanitizer.close()
    if result.message is not None:
        write_message(result.data, args.out)
    if args.data_dir:
        log = audit_cli.open_log(args.data_dir)
        try:
            audit_cli.record_mail(log, result.summary, getpass.getuser(),
                                  args.out if result.message is not None else None)
        finally:
            log.close()
    print(json.dumps(result.summary, ensure_ascii=False), flush=True)
    return EXIT_OK


def _privately(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command with the service's private umask, and give the caller's back afterwards (a
    test or a script calling main() keeps its own)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        return command(args)
    finally:
        os.umask(previous)


def main(argv: list[str] | None = None) -> int:
    configure_logging("cli", level=logging.WARNING)  # `serve` sets its own once its settings are read
    args = _parser().parse_args(argv)
    try:
        if args.command == "sanitize":
            return _sanitize(args)
        if args.command == "mail":
            return _mail(args)
        if args.command == "audit":  # exports and a first audit log hold senders and subjects
            return _privately(audit_cli.run, args)
        if args.command == "serve":
            return serve_cli.run(args)
        if args.command == "token":  # the token database, made by the first `token create`
            return _privately(token_cli.run, args)
        if args.command == "auth":
            return _privately(auth_cli.run, args)
        if args.command == "queue":  # the spool's files stay the service's user's
            return _privately(queue_cli.run, args)
        if args.command == "status":
            return status_cli.run(args)
        if args.command == "user":  # the account database, made by the first `user add`
            return _privately(user_cli.run, args)
    except GatewayError as exc:
        print(f"gateway: {exc.reason} [{exc.code}]", file=sys.stderr)
        return EXIT_USAGE if exc.code in ("config_invalid", "sandbox_unavailable") else EXIT_INTERNAL
    except OSError as exc:
        print(f"gateway: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_USAGE
