"""What ``gateway serve`` runs with: listeners, domains, limits, retention (from the TOML
[serve] section and the flags, see serve_cli.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServeOptions:
    data_dir: Path
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    lgwan_smtp: tuple[str, int] | None = None
    relay_networks: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    recipient_domains: tuple[str, ...] = ()
    workers: int = max(1, min(4, os.cpu_count() or 1))
    retry_base_seconds: float = 60.0
    max_age_seconds: float = 5 * 24 * 3600
    quarantine_days: int = 30
    audit_retention_days: int = 1825
    postmaster: str = ""
    tls_certificate: str = ""
    tls_key: str = ""
    max_connections_per_client: int = 10
    smtp_timeout_seconds: float = 60.0
    max_queue: int = 10_000
    audit_database: str = ""  # empty: DATA_DIR/audit.sqlite3; a postgresql:// URL shared by several nodes
    max_message_bytes: int = 50 * 1024 * 1024
    http_listen: tuple[str, int] | None = None  # internet side: uploads
    lgwan_http_listen: tuple[str, int] | None = None  # LGWAN side: status and downloads only
    max_upload_bytes: int = 200 * 1024 * 1024
    min_free_bytes: int = 512 * 1024 * 1024

