"""How the service's log lines look, in every process: a UTC timestamp on every line, the
process's role (main, pipeline-0, delivery, uploads, cli), the level, the logger and the
message - or, with ``[serve] log_format = "json"``, one JSON object per line for a collector.

Lines go to standard error, which systemd's journal, syslog forwarders and container runtimes
keep. The service's own loggers (``gateway.*``) speak at INFO: one line per state change of a
transfer (gateway/audit/records.py), per HTTP request (gateway/intake/access_log.py) and per
operator action; libraries only from WARNING. Nothing logged is content: ids, hashes, codes,
counts and addresses only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


class _UtcFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__(f"%(asctime)s {role} %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _JsonFormatter(_UtcFormatter):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "role": self.role, "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(role: str, log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up this process's logging (replacing any earlier set-up): ``gateway.*`` at ``level``,
    everything else at WARNING or above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(role) if log_format == "json" else _UtcFormatter(role))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("gateway").setLevel(level)
