"""``gateway serve``: flags override the configuration file's [serve] section."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

from gateway.config import ServeSettings, Settings, load_settings, with_serve_flags
from gateway.errors import ConfigError
from gateway.logs import configure as configure_logging
from gateway.pipeline.scan import status_lines
from gateway.sandbox.runner import Sandbox
from gateway.service import Service
from gateway.sharing import group_id, share_deliveries
from gateway.startup import PRIVATE_UMASK, StartupInterrupted, make_private, notify, take_data_dir

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and one flag per [serve] setting, with the setting's own help and default."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration file (deploy/gateway.toml "
                        "is an example); flags override its [serve] section")
    defaults = ServeSettings()
    for setting in fields(ServeSettings):
        default = getattr(defaults, setting.name)
        kind = type(default)
        shown = f" (default: {default})" if default != "" else ""
        parser.add_argument(f"--{setting.name.replace('_', '-')}", dest=setting.name,
                            metavar=setting.metadata["metavar"], type=kind if kind in (int, float) else str,
                            help=f"{setting.metadata['help']}{shown}")


def settings_from(args: argparse.Namespace) -> Settings:
    """The file's settings with the flags over its [serve] section, every value checked by the
    file's rules (config.with_serve_flags) before anything starts."""
    settings = load_settings(args.config)
    flags = {setting.name: getattr(args, setting.name) for setting in fields(ServeSettings)
             if getattr(args, setting.name, None) is not None}
    settings = with_serve_flags(settings, flags)
    if not settings.serve.recipient_domain_list:
        raise ConfigError("set the recipient domains (--recipient-domains or [serve] recipient_domains): "
                          "the gateway never relays to any domain")
    return settings


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
    antivirus = status_lines(service.settings.antivirus)  # each engine asked once, briefly
    if not service.settings.antivirus.engine_list:
        log.warning("no antivirus engine is configured ([antivirus] engines): files are disarmed without a "
                    "malware scan, and every report says scanned: false")
    print(startup_summary(service.serve, antivirus), flush=True)
    notify("READY=1")
    stop.wait()
    notify("STOPPING=1")
    print("gateway: stopping (jobs in progress are finished first)", flush=True)
    service.stop()
    return 0


def _start(args: argparse.Namespace) -> Service:
    settings = settings_from(args)
    serve = settings.serve
    configure_logging("main", serve.log_format)
    os.umask(PRIVATE_UMASK)  # before the first file is written; workers and sandboxes inherit it
    lock = take_data_dir(serve.data_path)  # held (open) for the life of the process
    try:
        group = group_id(serve.delivery_group)
        shared = (serve.data_path / "lgwan", serve.data_path / "lgwan-files") if group is not None else ()
        changed = make_private(serve.data_path, shared)
        if changed:
            log.warning("made %d files and directories under %s private to the service's user (earlier versions "
                        "left them readable by others)", changed, serve.data_dir)
        share_deliveries(serve.data_path, group)  # [serve] delivery_group only
        if settings.sandbox.mode == "bwrap":  # one line with bubblewrap's words, not a worker crash loop behind "ready"
            Sandbox(settings.sandbox).self_test()
        try:
            service = Service(settings)
        except OSError as exc:
            raise ConfigError(f"data directory {serve.data_dir}: {exc.strerror} ({exc.filename})") from None
        service.start()
    except BaseException:
        os.close(lock)
        raise
    return service


def startup_summary(serve: ServeSettings, antivirus: list[str] | None = None) -> str:
    """What an operator needs to see once the service is up: where it listens, where mail goes,
    and (``antivirus``: gateway/pipeline/scan.py ``status_lines``) each engine's version and
    signature age."""
    lgwan, http, lgwan_http = serve.lgwan_smtp_address, serve.http_address, serve.lgwan_http_address
    mail_to = (f"the LGWAN mail server {lgwan[0]}:{lgwan[1]}" if lgwan
               else f"the directory {serve.data_path / 'lgwan'} (no LGWAN mail server set: --lgwan-smtp)")
    uploads = (f"http://{http[0]}:{http[1]}/ (uploads; /docs for the API)" if http
               else "off (--http-listen HOST:PORT to take uploads)")
    host, port = serve.smtp_address
    lines = [f"gateway: ready ({serve.workers} pipeline workers), data in {serve.data_path}",
             f"  SMTP intake  {host}:{port} for {', '.join(serve.recipient_domain_list)} "
             f"from {', '.join(serve.relay_network_list)}",
             f"  mail goes to {mail_to}",
             f"  HTTP         {uploads}"]
    if lgwan_http:
        lines.append(f"  LGWAN HTTP   http://{lgwan_http[0]}:{lgwan_http[1]}/ (downloads)")
    lines += antivirus or []
    lines.append("  stop with Ctrl-C or SIGTERM")
    return "\n".join(lines)
