"""``gateway queue list|show|retry|hold|release|delete``: the spool for operators, as Postfix's
``mailq``/``postqueue -f``/``postsuper -h -H -d`` are. Safe while ``gateway serve`` runs on the
same data directory: a change takes the job's flock first, as a worker does, so a job a worker
holds is never touched ("busy, try again", exit 4). Every change is an audit record in the
transfer's own timeline (event ``operator``, the account behind sudo) and a log line; the queue
operations themselves are in ``gateway/spool/operator.py``.

``retry`` makes a deferred mail due now (it goes to ``outbox``, so the delivery worker takes it
within a poll) and puts a ``corrupt`` job back where it can be processed again: a sanitised mail
(or notice) to ``outbox`` with a fresh age and no attempts counted, an upload to ``uploads``, a
mail not yet sanitised to ``incoming``. ``hold`` moves a job into ``hold``, which no worker reads;
``release`` puts it back into the queue it came from, as it was (a deferred mail keeps its retry
time). ``delete`` needs ``--yes``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.cli.audit import AUDIT_FILE, open_log
from gateway.config import load_settings
from gateway.logs import configure as configure_logging
from gateway.spool import BUSY_QUEUES, HELD_FROM, LISTED_QUEUES, JobBusy, NoSuchJob, Queue, QueuedJob, Spool, SpoolJob

log = logging.getLogger(__name__)
EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_BUSY = 0, 2, 3, 4
# queues whose jobs' records are written at start if need be
CRASH_SAFE = (Queue.OUTBOX, Queue.DEFERRED, Queue.CORRUPT, Queue.HOLD)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per action, each with its own help; every one needs the data directory."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, type=Path, metavar="DIR", help="the service's data directory")
    common.add_argument("--config", type=Path, metavar="FILE", help="the service's configuration: its [serve] "
                        "audit_database, when the audit log is on PostgreSQL")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="every queued job, oldest first, and why it waits",
                                 description="One line per job: id, queue, age, sender, recipients, attempts, next "
                                 "attempt and why it waits (the last delivery error, the malware scan, a hold).")
    listing.add_argument("--queue", choices=LISTED_QUEUES, metavar="QUEUE",
                         help=f"only this queue ({', '.join(LISTED_QUEUES)})")
    listing.add_argument("--json", action="store_true", help="one JSON object per job instead of a table")
    show = actions.add_parser("show", parents=[common], help="one job's envelope, state and audit timeline",
                              description="Where the job is, its envelope, its files and its audit records.")
    show.add_argument("id", metavar="ID", help="the job id (as in 'gateway queue list')")
    show.add_argument("--json", action="store_true", help="one JSON object")
    retry = actions.add_parser("retry", parents=[common], help="make deferred jobs due now, or a corrupt one "
                               "processable again", description="A deferred mail goes to the outbox and is tried "
                               "now; a job in corrupt goes back where it can be processed again (a sanitised mail "
                               "to the outbox with a fresh age, an upload to uploads, a mail to incoming).")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", metavar="ID", help="the job to retry")
    which.add_argument("--all", action="store_true", help="every deferred job (not the corrupt ones)")
    hold = actions.add_parser("hold", parents=[common], help="take a job out of the workers' reach",
                              description="Move a job into the hold queue, which no worker reads, remembering "
                              "where it came from.")
    hold.add_argument("id", metavar="ID", help="the job to hold")
    release = actions.add_parser("release", parents=[common], help="put a held job back where it came from",
                                 description="Move a held job back into the queue it was taken from, as it was.")
    release.add_argument("id", metavar="ID", help="the held job")
    delete = actions.add_parser("delete", parents=[common], help="remove a job for good (needs --yes)",
                                description="Remove a job from the spool; it is never delivered. Recorded in the "
                                "audit log with who did it.")
    delete.add_argument("id", metavar="ID", help="the job to delete")
    delete.add_argument("--yes", action="store_true", help="yes, remove it (required)")


def run(args: argparse.Namespace) -> int:
    root = args.data_dir / "spool"
    if not root.is_dir():
        print(f"gateway: no spool in {args.data_dir} (the data directory of gateway serve)", file=sys.stderr)
        return EXIT_USAGE
    spool = Spool(root)
    database = load_settings(args.config).serve.audit_database if args.config else ""
    if args.action == "list":
        audit = open_log(args.data_dir, database) if database or (args.data_dir / AUDIT_FILE).exists() else None
        try:
            return _list(spool, audit, args.queue, args.json)
        finally:
            if audit is not None:
                audit.close()
    if args.action == "show":
        audit = open_log(args.data_dir, database) if database or (args.data_dir / AUDIT_FILE).exists() else None
        try:
            return _show(spool, audit, args.id, args.json)
        finally:
            if audit is not None:
                audit.close()
    if args.action == "delete" and not args.yes:
        print("gateway: delete removes the job for good; add --yes", file=sys.stderr)
        return EXIT_USAGE
    configure_logging("cli")  # one log line per change, at INFO
    audit = open_log(args.data_dir, database)  # first: no change nobody can audit
    try:
        operator = Operator(spool, Recorder(audit, spool), os.environ.get("SUDO_USER") or getpass.getuser(),
                            args.data_dir)
        if args.action == "retry" and args.all:
            due = [job.id for job in spool.jobs((Queue.DEFERRED,))]
            status = max([operator.act("retry", job_id) for job_id in due], default=EXIT_OK)
            print(f"{len(due)} deferred job(s) handled", flush=True)
            return status
        return operator.act(args.action, args.id)
    finally:
        audit.close()


class Operator:
    """One operator's changes to the spool, each taken under the job's flock and recorded."""

    def __init__(self, spool: Spool, recorder: Recorder, who: str, data_dir: Path) -> None:
        self.spool, self.recorder, self.who, self.data_dir = spool, recorder, who, data_dir

    def act(self, action: str, job_id: str) -> int:
        try:
            job, queue = self.spool.take(job_id)
        except NoSuchJob:
            print(f"gateway: no job {job_id} in the queues (delivered, deleted, or never there)", file=sys.stderr)
            return EXIT_NOT_FOUND
        except JobBusy as exc:
            print(f"gateway: {job_id} is busy ({exc.queue}): a worker holds it; try again", file=sys.stderr)
            return EXIT_BUSY
        try:
            self.recorder.settle(job.path)  # records its last mover stopped before writing come first
            return {"retry": self._retry, "hold": self._hold, "release": self._release,
                    "delete": self._delete}[action](job, queue)
        finally:
            job.release()

    def _done(self, job: SpoolJob, record: records.Record, message: str) -> int:
        log.info("transfer %s: %s", job.id, record.fields["detail"])
        print(message, flush=True)
        return EXIT_OK

    def _move(self, job: SpoolJob, target: str, record: records.Record,
              envelope: dict[str, Any] | None = None) -> None:
        """Move the locked job with its record: inside it where a crash's records are found again
        at start, else written right after the rename, before the job is let go."""
        if target in CRASH_SAFE:
            moved = self.spool.move(job, target, envelope, intents=[record.to_json()], hold=True)
            try:
                self.recorder.commit(moved, [record])
            finally:
                moved.release()
            return
        moved = self.spool.move(job, target, envelope, hold=True)
        try:
            self.recorder.write(record)
        finally:
            moved.release()

    def _retry(self, job: SpoolJob, queue: str) -> int:
        if queue == Queue.HOLD:
            print(f"gateway: {job.id} is held; 'gateway queue release {job.id}' first", file=sys.stderr)
            return EXIT_USAGE
        if queue not in (Queue.DEFERRED, Queue.CORRUPT):
            print(f"{job.id} is in {queue}: a worker takes it as soon as one is free", flush=True)
            return EXIT_OK
        target = Queue.OUTBOX if queue == Queue.DEFERRED else self.spool.origin(job)
        envelope = self.spool.retry_envelope(job, queue)
        if target == Queue.UPLOADS and not (self.data_dir / "results" / job.id / "result.json").exists():
            shutil.rmtree(self.data_dir / "results" / job.id / "outputs", ignore_errors=True)  # a failed try's files
        record = records.operator(job.id, self.who, "retry", f"from {queue} to {target}", "queued")
        self._move(job, target, record, envelope)
        return self._done(job, record, f"{job.id}: {queue} -> {target}, due now")

    def _hold(self, job: SpoolJob, queue: str) -> int:
        if queue == Queue.HOLD:
            print(f"{job.id} is already held", flush=True)
            return EXIT_OK
        record = records.operator(job.id, self.who, "hold", f"taken out of {queue}", "held")
        moved = self.spool.hold(job, queue, self.who, [record.to_json()])
        try:
            self.recorder.commit(moved, [record])
        finally:
            moved.release()
        return self._done(job, record, f"{job.id}: {queue} -> hold")

    def _release(self, job: SpoolJob, queue: str) -> int:
        if queue != Queue.HOLD:
            print(f"gateway: {job.id} is not held (it is in {queue})", file=sys.stderr)
            return EXIT_NOT_FOUND
        source = self.spool.held_from(job.path)
        state: str = {str(Queue.DEFERRED): "deferred", str(Queue.CORRUPT): "failed"}.get(source, "queued")
        record = records.operator(job.id, self.who, "release", f"back to {source}", state)
        if source in CRASH_SAFE:
            moved, _ = self.spool.unhold(job, [record.to_json()])
            try:
                self.recorder.commit(moved, [record])
            finally:
                moved.release()
        else:
            moved, _ = self.spool.unhold(job, [])
            try:
                self.recorder.write(record)
            finally:
                moved.release()
        return self._done(job, record, f"{job.id}: hold -> {source}")

    def _delete(self, job: SpoolJob, queue: str) -> int:
        record = records.operator(job.id, self.who, "delete", f"removed from {queue}; never delivered", "deleted")
        done = self.spool.move(job, Queue.DONE, intents=[record.to_json()], hold=True)  # the commit
        self.recorder.commit(done, [record])
        self.spool.remove(done)
        return self._done(job, record, f"{job.id}: deleted from {queue}")


# reading -----------------------------------------------------------------------------------------
def age(seconds: float) -> str:
    """3m12s, 2h05m, 4d03h."""
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def describe(job: QueuedJob, now: float | None = None) -> dict[str, Any]:
    """One job for ``list --json`` (and the table)."""
    now = time.time() if now is None else now
    envelope = job.envelope
    due = envelope.get("next_attempt")
    upload = job.kind == "upload"
    return {"id": job.id, "queue": job.queue, "kind": job.kind, "arrived": iso(job.arrived),
            "age_seconds": int(now - job.arrived),
            "sender": str(envelope.get("user" if upload else "sender", "")),
            "recipients": [] if upload else [str(r) for r in envelope.get("recipients", [])],
            "files": len(envelope.get("names", [])) if upload else 0,
            "attempts": int(envelope.get("attempts", 0) or 0),
            "next_attempt": iso(float(due)) if isinstance(due, int | float) and job.queue == Queue.DEFERRED else None,
            "why": job.why, "busy": job.queue in BUSY_QUEUES}


def why_failed(audit: AuditLog | None, job: dict[str, Any]) -> str:
    """For a job in ``corrupt`` whose envelope does not say why: its last ``failed`` record's detail."""
    if audit is None or job["queue"] != Queue.CORRUPT or job["why"]:
        return str(job["why"])
    failures = [r for r in audit.timeline(job["id"]) if r["event"] == "failed"]
    return str(failures[-1].get("detail") or "") if failures else ""


def _list(spool: Spool, audit: AuditLog | None, queue: str | None, as_json: bool) -> int:
    now = time.time()
    jobs = [describe(job, now) for job in spool.jobs((queue,) if queue else LISTED_QUEUES)]
    for job in jobs:
        job["why"] = why_failed(audit, job)
    if as_json:
        for job in jobs:
            print(json.dumps(job, ensure_ascii=False), flush=True)
        return EXIT_OK
    print(f"{'id':32}  {'queue':8}  {'age':>7}  {'sender':30}  {'rcpts':>5}  {'tries':>5}  "
          f"{'next attempt (UTC)':25}  why")
    for job in jobs:
        count = f"{job['files']}f" if job["kind"] == "upload" else str(len(job["recipients"]))
        due = job["next_attempt"] or "-"
        if job["next_attempt"] and datetime.fromisoformat(job["next_attempt"]).timestamp() <= now:
            due = "due now"
        print(f"{job['id']:32}  {job['queue']:8}  {age(job['age_seconds']):>7}  {job['sender'][:30] or '-':30}  "
              f"{count:>5}  {job['attempts']:>5}  {due:25}  {job['why'] or '-'}", flush=True)
    print(f"-- {len(jobs)} job(s)", flush=True)
    return EXIT_OK


def _show(spool: Spool, audit: AuditLog | None, job_id: str, as_json: bool) -> int:
    try:
        job = spool.find(job_id)
    except NoSuchJob:
        print(f"gateway: no job {job_id} in the queues (delivered, deleted, or never there); "
              f"'gateway audit show {job_id}' tells what happened to it", file=sys.stderr)
        return EXIT_NOT_FOUND
    files = sorted(str(p.relative_to(job.path)) for p in job.path.rglob("*") if p.is_file())
    held = None
    if job.queue == Queue.HOLD:
        try:
            held = json.loads((job.path / HELD_FROM).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = {"from": spool.held_from(job.path)}
    timeline = audit.timeline(job.id) if audit is not None else []
    described = describe(job)
    described["why"] = why_failed(audit, described)
    state = {**described, "envelope": job.envelope, "job_files": files, "held": held,
             "records": [{k: v for k, v in r.items() if k not in ("prev_hash", "transfer_id")} for r in timeline]}
    if as_json:
        print(json.dumps(state, ensure_ascii=False), flush=True)
        return EXIT_OK
    print(f"job        {job.id} ({job.kind})\nqueue      {job.queue}"
          f"{' (a worker has it now)' if state['busy'] else ''}\n"
          f"arrived    {state['arrived']} ({age(state['age_seconds'])} ago)\n"
          f"attempts   {state['attempts']}\nnext try   {state['next_attempt'] or '-'}\n"
          f"why        {state['why'] or '-'}")
    if held:
        print(f"held       from {held.get('from')} by {held.get('by', '?')} at {held.get('at', '?')}")
    print("envelope   " + json.dumps(job.envelope, ensure_ascii=False, indent=2).replace("\n", "\n           "))
    print("files      " + ", ".join(files))
    print("audit records:" if timeline else "audit records: none found")
    for record in timeline:
        print(f"  {record['time']}  {record['event']:9}  {record.get('delivery_status') or '-':16}  "
              f"{record.get('detail') or ''}", flush=True)
    return EXIT_OK
