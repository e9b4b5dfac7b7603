"""``gateway serve``: flags override the configuration file's [serve] section."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from gateway.config import Settings, host_port, load_settings, with_serve_flags
from gateway.errors import ConfigError
from gateway.serve_options import ServeOptions
from gateway.service import Service
from gateway.startup import PRIVATE_UMASK, StartupInterrupted, make_private, notify, take_data_dir

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE")
    parser.add_argument("--smtp-listen", metavar="HOST:PORT")
    parser.add_argument("--http-listen", metavar="HOST:PORT")
    parser.add_argument("--lgwan-http-listen", metavar="HOST:PORT")
    parser.add_argument("--lgwan-smtp", metavar="HOST:PORT")
    parser.add_argument("--data-dir", metavar="DIR")
    parser.add_argument("--relay-networks", metavar="CIDR[,CIDR]")
    parser.add_argument("--recipient-domains", metavar="D[,D]")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--retry-base-seconds", type=int)


def options(args: argparse.Namespace) -> tuple[Settings, ServeOptions]:
    """The settings and the service's options: the file's [serve] with the flags over it, every
    value checked by the file's rules (config.with_serve_flags) before anything starts."""
    settings = load_settings(args.config)
    flags = {key: value for key, value in vars(args).items()
             if key in settings.serve.__dataclass_fields__ and value is not None}
    settings = with_serve_flags(settings, flags)
    serve = settings.serve
    domains = tuple(d.strip() for d in serve.recipient_domains.split(",") if d.strip())
    if not domains:
        raise ConfigError("set the recipient domains (--recipient-domains or [serve] recipient_domains): "
                          "the gateway never relays to any domain")
    host, port = host_port(serve.smtp_listen)
    lgwan = host_port(serve.lgwan_smtp) if serve.lgwan_smtp else None
    http = host_port(serve.http_listen) if serve.http_listen else None
    lgwan_http = host_port(serve.lgwan_http_listen) if serve.lgwan_http_listen else None
    networks = tuple(n.strip() for n in serve.relay_networks.split(",") if n.strip())
    return settings, ServeOptions(
        data_dir=Path(serve.data_dir), smtp_host=host, smtp_port=port, lgwan_smtp=lgwan, relay_networks=networks,
        recipient_domains=domains, workers=serve.workers, retry_base_seconds=float(serve.retry_base_seconds),
        max_age_seconds=float(serve.max_age_seconds), max_message_bytes=serve.max_message_mb * 1024 * 1024,
        min_free_bytes=serve.min_free_mb * 1024 * 1024, http_listen=http, lgwan_http_listen=lgwan_http,
        max_upload_bytes=serve.max_upload_mb * 1024 * 1024, quarantine_days=serve.quarantine_days,
        audit_retention_days=serve.audit_retention_days, postmaster=serve.postmaster,
        tls_certificate=serve.tls_certificate, tls_key=serve.tls_key,
        max_connections_per_client=serve.max_connections_per_client,
        smtp_timeout_seconds=float(serve.smtp_timeout_seconds), max_queue=serve.max_queue,
        audit_database=serve.audit_database)


def run(args: argparse.Namespace) -> int:
    """Check everything, take the data directory, bind every listener, start; only then say
    ready (and tell systemd). Until then SIGTERM/SIGINT unwind the start-up; after it they stop
    the service gracefully. A failure raises (gateway.cli.main prints one line and exits 2 or 1)."""
    stop = threading.Event()

    def interrupt(signum: int, _: object) -> None:
        if not stop.is_set():  # once: the unwinding itself is not interrupted again
            stop.set()
            raise StartupInterrupted(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupt)
    service = None
    try:
        service = _start(args)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    except StartupInterrupted as exc:
        if service is not None:  # the signal came between the start and the handlers' change
            service.stop()
        print(f"gateway: stopped during start-up ({exc})", file=sys.stderr, flush=True)
        return 0
    print(startup_summary(service.options), flush=True)
    notify("READY=1")
    stop.wait()
    notify("STOPPING=1")
    print("gateway: stopping (jobs in progress are finished first)", flush=True)
    service.stop()
    return 0


def _start(args: argparse.Namespace) -> Service:
    settings, serve = options(args)
    os.umask(PRIVATE_UMASK)  # before the first file is written; workers and sandboxes inherit it
    lock = take_data_dir(serve.data_dir)  # held (open) for the life of the process
    try:
        changed = make_private(serve.data_dir)
        if changed:
            log.warning("made %d files and directories under %s private to the service's user (earlier versions "
                        "left them readable by others)", changed, serve.data_dir)
        try:
            service = Service(settings, serve)
        except OSError as exc:
            raise ConfigError(f"data directory {serve.data_dir}: {exc.strerror} ({exc.filename})") from None
        service.start()
    except BaseException:
        os.close(lock)
        raise
    return service


def startup_summary(serve: ServeOptions) -> str:
    """What an operator needs to see once the service is up: where it listens, where mail goes."""
    mail_to = (f"the LGWAN mail server {serve.lgwan_smtp[0]}:{serve.lgwan_smtp[1]}" if serve.lgwan_smtp
               else f"the directory {serve.data_dir / 'lgwan'} (no LGWAN mail server set: --lgwan-smtp)")
    http = (f"http://{serve.http_listen[0]}:{serve.http_listen[1]}/ (uploads; /docs for the API)"
            if serve.http_listen else "off (--http-listen HOST:PORT to take uploads)")
    lines = [f"gateway: ready ({serve.workers} pipeline workers), data in {serve.data_dir}",
             f"  SMTP intake  {serve.smtp_host}:{serve.smtp_port} for {', '.join(serve.recipient_domains)} "
             f"from {', '.join(serve.relay_networks)}",
             f"  mail goes to {mail_to}",
             f"  HTTP         {http}"]
    if serve.lgwan_http_listen:
        lines.append(f"  LGWAN HTTP   http://{serve.lgwan_http_listen[0]}:{serve.lgwan_http_listen[1]}/ (downloads)")
    lines.append("  stop with Ctrl-C or SIGTERM")
    return "\n".join(lines)
