"""``gateway status``: one screen for operators - whether ``gateway serve`` runs on the data
directory (the process holding ``gateway.lock``, and its workers), its listeners and whether they
answer, each queue's size and oldest job, the oldest deferred mail and why, free disk, the audit
chain's head (and, with ``--verify``, whether it verifies) and the antivirus engines. Read-only:
it takes no lock a worker could wait for, and creates nothing."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

from gateway.audit.log import AuditLog
from gateway.cli.audit import AUDIT_FILE
from gateway.cli.queue import age, describe
from gateway.config import Settings, load_settings
from gateway.pipeline.scan import STATUS_TIMEOUT, MalwareStage
from gateway.spool import LISTED_QUEUES, Queue, Spool
from gateway.startup import LOCK_NAME

PROBE_SECONDS = 1.0
WORKER_PREFIX = "gw-"  # worker processes name themselves gw-<role> (gateway/service.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="the service's configuration (listeners, data directory, antivirus, audit database)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="the service's data directory (default: [serve] data_dir of --config)")
    parser.add_argument("--verify", action="store_true", help="also check the whole audit chain (slower)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the screen")


def lock_holder(data_dir: Path) -> int | None:
    """The process id of the ``gateway serve`` that holds the data directory's lock, or None.
    Read from ``/proc/locks`` (the lock file's inode, flocked by that pid), never by taking the
    lock; where /proc/locks cannot be read, the pid in the file counts if that process lives."""
    lock = data_dir / LOCK_NAME
    try:
        text = lock.read_text(encoding="ascii", errors="replace").strip()
        inode = lock.stat().st_ino
    except OSError:
        return None
    pid = int(text) if text.isdigit() else None
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
                    continue
                holder, place = fields[4], fields[5]
                if place.rsplit(":", 1)[-1] == str(inode) and holder.isdigit() and (pid is None or int(holder) == pid):
                    return int(holder)
        return None
    except OSError:
        pass
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def workers(parent: int) -> list[dict[str, Any]]:
    """The worker processes of the service ``parent`` (their names: gw-pipeline, gw-delivery ...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(") ")
        fields = rest.split()
        if len(fields) > 1 and fields[1] == str(parent) and name.startswith(WORKER_PREFIX):
            found.append({"name": name[len(WORKER_PREFIX):], "pid": int(entry.name)})
    return sorted(found, key=lambda w: (w["name"], w["pid"]))


def answers(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection on host:port (a wildcard address is asked on loopback)."""
    target = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 (not a bind)
    try:
        with socket.create_connection((target, port), timeout=PROBE_SECONDS):
            return True
    except OSError:
        return False


def gather(settings: Settings, data_dir: Path, verify: bool) -> dict[str, Any]:
    """Everything the screen shows, as one JSON-ready object."""
    serve = settings.serve
    pid = lock_holder(data_dir)
    listeners = []
    for name, address in (("smtp", serve.smtp_address), ("http", serve.http_address),
                          ("lgwan-http", serve.lgwan_http_address)):
        if address is not None:
            listeners.append({"name": name, "address": f"{address[0]}:{address[1]}",
                              "answering": answers(*address)})
    status: dict[str, Any] = {"data_dir": str(data_dir), "service": {
        "running": pid is not None, "pid": pid, "workers": workers(pid) if pid else []}, "listeners": listeners}
    now = time.time()
    root = data_dir / "spool"
    if root.is_dir():
        jobs = Spool.reading(root).jobs()
        status["queues"] = {queue: {"jobs": sum(1 for j in jobs if j.queue == queue),
                                    "oldest_age_seconds": next((int(now - j.arrived) for j in jobs if j.queue == queue),
                                                               None)}
                            for queue in LISTED_QUEUES}
        waiting = (Queue.INCOMING, Queue.UPLOADS)
        deferred = [j for j in jobs if j.queue == Queue.DEFERRED or (j.queue in waiting and j.why)]
        status["oldest_deferred"] = describe(deferred[0], now) if deferred else None
    else:
        status["queues"], status["oldest_deferred"] = None, None
    usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
    status["disk"] = {"free_bytes": usage.free, "total_bytes": usage.total, "min_free_bytes": serve.min_free_bytes,
                      "low": usage.free < serve.min_free_bytes}
    status["audit"] = _audit(serve.audit_database, data_dir, verify)
    stage = MalwareStage(settings.antivirus, timeout=STATUS_TIMEOUT)
    status["antivirus"] = {"configured": stage.configured,
                           "engines": [s.as_dict() for s in stage.statuses()] if stage.configured else []}
    return status


def _audit(database: str, data_dir: Path, verify: bool) -> dict[str, Any]:
    if not database and not (data_dir / AUDIT_FILE).exists():
        return {"present": False}
    if not (data_dir / "audit.key").exists():  # never made here: a new key would not fit the log
        return {"present": True, "error": f"no audit key {data_dir / 'audit.key'}"}
    try:
        log = AuditLog(data_dir / AUDIT_FILE, database=database)
    except Exception as exc:  # a status screen reports, it does not fail
        return {"present": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        seq, head, count = log.head()
        found: dict[str, Any] = {"present": True, "records": count, "head_seq": seq, "head_hash": head,
                                 "verified": None}
        if verify:
            result = log.verify()
            found["verified"], found["verification"] = result.ok, result.summary()
        return found
    finally:
        log.close()


def screen(status: dict[str, Any]) -> str:
    service = status["service"]
    lines = [f"gateway status of {status['data_dir']}",
             f"service     {'running, pid ' + str(service['pid']) if service['running'] else 'NOT RUNNING'}"]
    if service["workers"]:
        lines.append("workers     " + ", ".join(f"{w['name']} ({w['pid']})" for w in service["workers"]))
    for listener in status["listeners"]:
        lines.append(f"listener    {listener['name']:11} {listener['address']:22} "
                     f"{'answering' if listener['answering'] else 'NOT ANSWERING'}")
    if status["queues"] is None:
        lines.append("queues      no spool in the data directory")
    else:
        busy = [f"{queue} {info['jobs']} (oldest {age(info['oldest_age_seconds'])})"
                for queue, info in status["queues"].items() if info["jobs"]]
        lines.append("queues      " + ("; ".join(busy) if busy else "all empty"))
    oldest = status["oldest_deferred"]
    if oldest:
        lines.append(f"deferred    oldest {oldest['id']} ({age(oldest['age_seconds'])}, {oldest['attempts']} "
                     f"attempts, next {oldest['next_attempt'] or '-'}): {oldest['why'] or '-'}")
    disk = status["disk"]
    lines.append(f"disk        {disk['free_bytes'] / 2**30:.1f} GiB free of {disk['total_bytes'] / 2**30:.1f} GiB"
                 f"{' - LOW: below min_free_mb, new mail is refused' if disk['low'] else ''}")
    audit = status["audit"]
    if not audit.get("present"):
        lines.append("audit       no audit log yet")
    elif audit.get("error"):
        lines.append(f"audit       UNREADABLE: {audit['error']}")
    else:
        check = {None: "not verified (--verify)", True: "chain verifies", False: "CHAIN BROKEN"}[audit["verified"]]
        lines.append(f"audit       {audit['records']} records, head {audit['head_seq']} {audit['head_hash']}; {check}")
        if audit["verified"] is False:
            lines.append(f"            {audit['verification']}")
    antivirus = status["antivirus"]
    if not antivirus["configured"]:
        lines.append("antivirus   OFF: no engine configured ([antivirus] engines)")
    for engine in antivirus["engines"]:
        state = "ready" if engine["available"] and not engine["stale"] else f"NOT READY - {engine['reason']}"
        age_text = f", signatures {engine['age_hours']} h old" if engine["age_hours"] is not None else ""
        lines.append(f"antivirus   {engine['engine']}: {engine['version'] or '?'}{age_text}: {state}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    data_dir = args.data_dir or settings.serve.data_path
    if not data_dir.is_dir():
        print(f"gateway: no data directory {data_dir}", file=sys.stderr)
        return 2
    status = gather(settings, data_dir, args.verify)
    print(json.dumps(status, ensure_ascii=False) if args.json else screen(status), flush=True)
    return 3 if status["audit"].get("verified") is False else 0
