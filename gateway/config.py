"""One validated settings object, read from a TOML file; command-line flags override it."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from converters.base import METHODS, Limits, Method
from gateway.antivirus.clamd import ClamdAddress
from gateway.errors import ConfigError
from gateway.logs import LOG_FORMATS
from gateway.sharing import group_id

SANDBOX_MODES = frozenset({"bwrap", "none"})
ANTIVIRUS_ENGINES = ("clamd", "icap")
ZERO_ALLOWED = frozenset({"office_spares", "max_signature_age_hours"})  # 0 is a meaningful value here


@dataclass(frozen=True)
class SandboxSettings:
    mode: str = "bwrap"
    allow_unsandboxed: bool = False  # "none" is refused unless this is true
    timeout_seconds: int = 300
    cpu_seconds: int = 240
    memory_mb: int = 3072
    file_size_mb: int = 2048
    max_processes: int = 512
    tmp_size_mb: int = 2048  # the sandbox's private /tmp (memory-backed) holds at most this much
    seccomp: bool = True  # the system-call filter (gateway/sandbox/seccomp.py); off only by an explicit choice
    uid_base: int = 200000  # started as root, each job runs as its own unused uid from this range,
    uid_count: int = 50000  # so no two jobs (nor any host account) share files or process limits


@dataclass(frozen=True)
class SanitizeSettings:
    method: Method = "rebuild"
    raster_workers: int = 2
    office_spares: int = 1  # sandboxes with LibreOffice already started, waiting for a document


@dataclass(frozen=True)
class MailSettings:
    subject_tag: str = ""  # e.g. "[外部]", put in front of every subject
    attachments: str = "sanitize"  # "sanitize", "remove" (drop and list) or "text" (append their text)
    charset: str = "utf-8"  # or "iso-2022-jp" for old LGWAN mail clients
    defang_links: bool = True  # hxxps://example[.]com in every body text, so LGWAN-side clients do not re-link URLs
    trusted_authserv_ids: str = ""  # Authentication-Results of these MTAs are kept (default: the topmost only)
    max_attachments_mb: int = 40  # disarmed attachments beyond this total are removed (and listed) per mail


def _setting(default: Any, help: str, metavar: str | None = None) -> Any:
    """A [serve] setting: its one default, and the sentence ``gateway serve --help`` shows for its flag."""
    return field(default=default, metadata={"help": help, "metavar": metavar})


MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """The one declaration of what ``gateway serve`` runs with: the TOML [serve] section, the flags
    (``gateway/cli/serve.py`` makes one flag per field) and the values each component receives
    (the properties below) all come from here, so every default is written once."""

    smtp_listen: str = _setting("127.0.0.1:2525", "SMTP intake address (the internet-side mail server relays here)",
                                "HOST:PORT")
    http_listen: str = _setting("", "internet-side HTTP API for uploads (empty: off)", "HOST:PORT")
    lgwan_http_listen: str = _setting("", "LGWAN-side HTTP: status and downloads only, on its own address",
                                      "HOST:PORT")
    lgwan_smtp: str = _setting("", "the LGWAN mail server; empty: deliver into DATA_DIR/lgwan", "HOST:PORT")
    data_dir: str = _setting("data", "spool, audit log, quarantine and results", "DIR")
    relay_networks: str = _setting("127.0.0.1/32,::1/128", "who may relay to the gateway", "CIDR[,CIDR]")
    recipient_domains: str = _setting("", "mail to any other domain is refused (required)", "DOMAIN[,DOMAIN]")
    workers: int = _setting(2, "pipeline worker processes", "N")
    retry_base_seconds: float = _setting(60.0, "first delivery retry after this long, doubling each time", "SECONDS")
    max_age_seconds: float = _setting(5 * 24 * 3600.0, "undelivered mail is given up (and the postmaster told) "
                                      "after this long", "SECONDS")
    max_message_mb: int = _setting(50, "largest mail accepted over SMTP", "MB")
    min_free_mb: int = _setting(512, "below this much free disk, SMTP answers 452 and HTTP 503", "MB")
    max_upload_mb: int = _setting(200, "largest upload accepted over HTTP", "MB")
    quarantine_days: int = _setting(30, "originals are kept this long (mode 0600), then purged", "DAYS")
    audit_retention_days: int = _setting(1825, "audit records older than this are purged (the chain stays "
                                         "verifiable)", "DAYS")
    postmaster: str = _setting("", "told when a mail could not be delivered in time", "ADDRESS")
    tls_certificate: str = _setting("", "PEM certificate; when set (with the key), STARTTLS is offered", "FILE")
    tls_key: str = _setting("", "PEM private key for STARTTLS", "FILE")
    max_connections_per_client: int = _setting(10, "simultaneous SMTP connections from one address", "N")
    smtp_timeout_seconds: float = _setting(60.0, "an SMTP client silent this long between commands is "
                                           "disconnected", "SECONDS")
    max_queue: int = _setting(10_000, "above this many queued jobs, SMTP answers 451 and HTTP 503 (try later)", "N")
    audit_database: str = _setting("", "empty: SQLite in the data directory; postgresql://... when several nodes "
                                   "share one log", "URL")
    delivery_group: str = _setting("", "a group that may read what reaches the LGWAN side (lgwan/ and lgwan-files/), "
                                   "e.g. the account of an LGWAN-side pickup; empty: the service's user only", "GROUP")
    log_format: str = _setting("text", "log lines as text (a UTC time, the process, the level) or json (one "
                               "object per line, for a collector)", "text|json")
    session_idle_minutes: int = _setting(30, "a web console session ends after this long without a request",
                                         "MINUTES")
    session_max_hours: int = _setting(8, "a web console session ends this long after its login, however busy",
                                      "HOURS")
    sso_header: str = _setting("", "single sign-on: the header in which a trusted reverse proxy names the "
                               "authenticated console user, e.g. X-Remote-User (empty: off)", "HEADER")
    sso_proxies: str = _setting("", "single sign-on: the reverse proxies (addresses or CIDRs) whose sso_header "
                                "is believed; from any other address it is ignored", "ADDRESS[,CIDR]")

    # The values components receive, derived from the declaration above (checked by validate()).
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def smtp_address(self) -> tuple[str, int]:
        return host_port(self.smtp_listen)

    @property
    def lgwan_smtp_address(self) -> tuple[str, int] | None:
        return host_port(self.lgwan_smtp) if self.lgwan_smtp else None

    @property
    def http_address(self) -> tuple[str, int] | None:
        return host_port(self.http_listen) if self.http_listen else None

    @property
    def lgwan_http_address(self) -> tuple[str, int] | None:
        return host_port(self.lgwan_http_listen) if self.lgwan_http_listen else None

    @property
    def relay_network_list(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.relay_networks.split(",") if n.strip())

    @property
    def recipient_domain_list(self) -> tuple[str, ...]:
        return tuple(d.strip().lower() for d in self.recipient_domains.split(",") if d.strip())

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * MIB

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mb * MIB

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MIB


@dataclass(frozen=True)
class AntivirusSettings:
    """[antivirus]: the engines every original is scanned with before it is disarmed
    (gateway/pipeline/scan.py); empty ``engines`` means no scanning (reports say ``scanned: false``)."""

    engines: str = _setting("", "engines every file must pass, comma-separated: clamd, icap (empty: no scanning)",
                            "ENGINE[,ENGINE]")
    clamd: str = _setting("unix:/run/clamav/clamd.ctl", "clamd's socket: unix:/path or tcp://host:port", "ADDRESS")
    clamd_stream_max_mb: int = _setting(25, "clamd's StreamMaxLength: larger files are too large without being "
                                        "sent (on_too_large decides)", "MB")
    icap_host: str = _setting("127.0.0.1", "the ICAP server (an existing antivirus product)", "HOST")
    icap_port: int = _setting(1344, "the ICAP server's port", "PORT")
    icap_service: str = _setting("avscan", "the ICAP service (RESPMOD) that scans, e.g. c-icap's avscan", "NAME")
    timeout_seconds: float = _setting(60.0, "an engine silent this long is unavailable", "SECONDS")
    max_signature_age_hours: float = _setting(48.0, "signatures older than this (or of unknown age) make clamd "
                                              "unavailable; 0: not checked", "HOURS")
    on_unavailable: str = _setting("defer", "engine down, timing out or stale: defer (the job waits and is retried) "
                                   "or block (scan_unavailable)", "defer|block")
    on_too_large: str = _setting("block", "a file over an engine's stream limit: block (scan_too_large) or "
                                 "disarm_unscanned (disarmed with a finding)", "block|disarm_unscanned")
    scan_outputs: bool = _setting(False, "scan every disarmed output too", "BOOL")
    retry_seconds: float = _setting(60.0, "while an engine is unavailable, deferred work is tried again after "
                                    "this long", "SECONDS")

    @property
    def engine_list(self) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in self.engines.split(",") if e.strip())


@dataclass(frozen=True)
class Settings:
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    sanitize: SanitizeSettings = field(default_factory=SanitizeSettings)
    limits: Limits = field(default_factory=Limits)
    mail: MailSettings = field(default_factory=MailSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    antivirus: AntivirusSettings = field(default_factory=AntivirusSettings)
    work_dir: Path | None = None  # scratch space for jobs; the system temp dir when unset


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _typed(cls: type, values: dict[str, Any], section: str, label: Callable[[str], str] | None = None) -> Any:
    """``cls`` from ``values``, every value checked against the default's type; ``label`` names a
    setting in a message (``[section] key`` unless told otherwise, e.g. the flag it came from)."""
    name = label or (lambda key: f"[{section}] {key}")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    defaults = cls()
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0
                                or (value == 0 and key not in ZERO_ALLOWED)):
            raise ConfigError(f"{name(key)} must be a positive integer")
        if expected is float and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0
                                  or (value == 0 and key not in ZERO_ALLOWED)):
            raise ConfigError(f"{name(key)} must be a positive number")
        if expected in (bool, str) and not isinstance(value, expected):
            raise ConfigError(f"{name(key)} must be a {expected.__name__}")
    return cls(**{key: float(value) if type(getattr(defaults, key)) is float else value
                  for key, value in values.items()})


def host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``; an empty host is 127.0.0.1) with a port from 1 to 65535."""
    host, separator, port = value.rpartition(":")
    if not separator or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(value)
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _check_serve(serve: ServeSettings, name: Callable[[str], str]) -> None:
    """What the field types do not say: addresses are HOST:PORT, networks are CIDRs, the data
    directory is named."""
    for key in ("smtp_listen", "http_listen", "lgwan_http_listen", "lgwan_smtp"):
        value = getattr(serve, key)
        if value or key == "smtp_listen":
            try:
                host_port(value)
            except ValueError:
                raise ConfigError(f"{name(key)} must be HOST:PORT with a port from 1 to 65535, not {value!r}") from None
    for network in serve.relay_networks.split(","):
        try:
            ipaddress.ip_network(network.strip(), strict=False)
        except ValueError:
            raise ConfigError(f"{name('relay_networks')} must be comma-separated CIDRs, not {network.strip()!r}") \
                from None
    if not serve.data_dir:
        raise ConfigError(f"{name('data_dir')} must name a directory")
    if serve.delivery_group:
        try:
            group_id(serve.delivery_group)
        except KeyError:
            raise ConfigError(f"{name('delivery_group')}: this host has no group {serve.delivery_group!r}") from None
    if serve.log_format not in LOG_FORMATS:
        raise ConfigError(f"{name('log_format')} must be text or json, not {serve.log_format!r}")
    _check_sso(serve, name)


def _check_sso(serve: ServeSettings, name: Callable[[str], str]) -> None:
    """Both single sign-on settings or neither (a header believed from nowhere, or proxies with no
    header, is a mistake); the header an HTTP token, the proxies addresses or CIDRs."""
    from gateway.console.sso import check_header, parse_proxies

    try:
        if serve.sso_header:
            check_header(serve.sso_header)
    except ValueError as exc:
        raise ConfigError(f"{name('sso_header')} {exc}") from None
    try:
        proxies = parse_proxies(serve.sso_proxies)
    except ValueError as exc:
        raise ConfigError(f"{name('sso_proxies')} {exc}") from None
    if bool(serve.sso_header) != bool(proxies):
        raise ConfigError(f"{name('sso_header')} and {name('sso_proxies')} are set together (single sign-on) "
                          "or not at all")


def with_serve_flags(settings: Settings, flags: dict[str, Any]) -> Settings:
    """The [serve] section with command-line values put over it, checked by the same rules as the
    file; a message names the flag when the bad value came from one."""
    def name(key: str) -> str:
        return f"--{key.replace('_', '-')}" if key in flags else f"[serve] {key}"

    _typed(ServeSettings, flags, "serve", name)
    serve = replace(settings.serve, **flags)
    _check_serve(serve, name)
    return replace(settings, serve=serve)


def load_settings(path: Path | None) -> Settings:
    """Read and validate a TOML configuration file (or the defaults when ``path`` is None)."""
    if path is None:
        return validate(Settings())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {path} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"sandbox", "sanitize", "limits", "mail", "serve", "antivirus", "work_dir"}
    if unknown:
        raise ConfigError(f"unknown configuration section(s): {', '.join(sorted(unknown))}")
    try:
        limits = Limits.from_dict(_section(data, "limits"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[limits]: {exc}") from exc
    work_dir = data.get("work_dir")
    settings = Settings(
        sandbox=_typed(SandboxSettings, _section(data, "sandbox"), "sandbox"),
        sanitize=_typed(SanitizeSettings, _section(data, "sanitize"), "sanitize"),
        mail=_typed(MailSettings, _section(data, "mail"), "mail"),
        serve=_typed(ServeSettings, _section(data, "serve"), "serve"),
        antivirus=_typed(AntivirusSettings, _section(data, "antivirus"), "antivirus"),
        limits=limits,
        work_dir=Path(work_dir) if isinstance(work_dir, str) else None,
    )
    return validate(settings)


def validate(settings: Settings) -> Settings:
    if settings.sandbox.mode not in SANDBOX_MODES:
        raise ConfigError(f"[sandbox] mode must be one of {', '.join(sorted(SANDBOX_MODES))}")
    if settings.sandbox.mode == "none" and not settings.sandbox.allow_unsandboxed:
        raise ConfigError("[sandbox] mode = \"none\" needs allow_unsandboxed = true: files would be "
                          "parsed without isolation")
    if settings.mail.attachments not in ("sanitize", "remove", "text"):
        raise ConfigError("[mail] attachments must be sanitize, remove or text")
    if settings.mail.charset not in ("utf-8", "iso-2022-jp"):
        raise ConfigError("[mail] charset must be utf-8 or iso-2022-jp")
    if settings.sanitize.method not in METHODS:
        raise ConfigError("[sanitize] method must be rebuild or rasterize")
    _check_serve(settings.serve, lambda key: f"[serve] {key}")
    _check_antivirus(settings.antivirus)
    return settings


def _check_antivirus(antivirus: AntivirusSettings) -> None:
    """Known engines, each once; an address clamd can be reached at; the two policies' words."""
    engines = antivirus.engine_list
    unknown = [engine for engine in engines if engine not in ANTIVIRUS_ENGINES]
    if unknown or len(set(engines)) != len(engines):
        raise ConfigError(f"[antivirus] engines must name each of {', '.join(ANTIVIRUS_ENGINES)} at most once, "
                          f"not {antivirus.engines!r}")
    try:
        ClamdAddress.parse(antivirus.clamd)
    except ValueError as exc:
        raise ConfigError(f"[antivirus] clamd: {exc}") from None
    if not 0 < antivirus.icap_port < 65536:
        raise ConfigError("[antivirus] icap_port must be from 1 to 65535")
    if not antivirus.icap_host or any(ch.isspace() or ch == "/" for ch in antivirus.icap_host):
        raise ConfigError(f"[antivirus] icap_host must be a host name or address, not {antivirus.icap_host!r}")
    if not antivirus.icap_service or any(ch.isspace() or ch in "/?#" for ch in antivirus.icap_service):
        raise ConfigError(f"[antivirus] icap_service must be a service name such as avscan, not "
                          f"{antivirus.icap_service!r}")
    if antivirus.on_unavailable not in ("defer", "block"):
        raise ConfigError("[antivirus] on_unavailable must be defer or block")
    if antivirus.on_too_large not in ("block", "disarm_unscanned"):
        raise ConfigError("[antivirus] on_too_large must be block or disarm_unscanned")


def with_method(settings: Settings, method: Method) -> Settings:
    return replace(settings, sanitize=replace(settings.sanitize, method=method))
