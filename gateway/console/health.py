"""運用状況 (LGWAN side; auditors and administrators read, administrators act): the queues (jobs
and oldest age), mails and uploads per hour and outcomes by reason as server-drawn SVG charts
(from the search index), disk space, the service and its workers (the lock holder and its
processes, as ``gateway status`` finds them), the audit chain's head with a verify button, the
deferred queue with "retry now" and the corrupt queue with why each job is there. A retry is the
``gateway queue retry`` operation itself (``Operator``: the job's flock, the record inside the
job), recorded as an operator record with the web account; every form carries the CSRF token."""

# FastAPI resolves these annotations at run time: no postponed evaluation.

import logging
import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.audit import records
from gateway.cli.queue import EXIT_BUSY, EXIT_NOT_FOUND, EXIT_OK, Operator, age, describe, why_failed
from gateway.cli.status import lock_holder, workers
from gateway.console import charts
from gateway.console.i18n import word
from gateway.console.transfers import JST, REVIEWERS
from gateway.console.web import form_checked, language, render
from gateway.spool import LISTED_QUEUES, Queue, SpoolJob

log = logging.getLogger(__name__)
ACTORS = ("admin",)
SHOWN_JOBS = 200  # of each of the deferred and corrupt queues, oldest first


class WebOperator(Operator):
    """``gateway queue``'s operator, acting for a web account: no lines printed."""

    def _done(self, job: SpoolJob, record: records.Record, message: str) -> int:
        log.info("transfer %s: %s", job.id, record.fields["detail"])
        return EXIT_OK


def _hours(now: datetime) -> list[datetime]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return [start + timedelta(hours=n) for n in range(24)]


def gather(console: Any, language_code: Any) -> dict[str, Any]:
    """Everything the page shows but the verification."""
    now, audit, spool = time.time(), console.context.audit, console.context.spool
    data = console.serve.data_path
    jobs = spool.jobs()
    queues = []
    for queue in LISTED_QUEUES:
        mine = [j for j in jobs if j.queue == queue]
        queues.append({"name": queue, "jobs": len(mine), "oldest": age(now - mine[0].arrived) if mine else "-"})

    def listed(queue: str) -> list[dict[str, Any]]:
        found = [describe(j, now) for j in jobs if j.queue == queue][:SHOWN_JOBS]
        for job in found:
            job["why"] = why_failed(audit, job)
            job["age"] = age(job["age_seconds"])
        return found

    usage = shutil.disk_usage(data)
    pid = lock_holder(data) or os.getpid()  # this page is served by the service's main process
    seq, head, count = audit.head()
    searcher = audit.searcher()
    moment = datetime.now(UTC)
    hours = _hours(moment)
    since = hours[0].isoformat(timespec="milliseconds")
    counted: dict[tuple[str, str], int] = {(h, c): n for h, c, n in searcher.per_hour(since)}
    keys = [h.strftime("%Y-%m-%dT%H") for h in hours]
    labels = [h.astimezone(JST).strftime("%m-%d %H") for h in hours]
    mails = [counted.get((k, "smtp"), 0) for k in keys]
    uploads = [counted.get((k, "http"), 0) for k in keys]
    week = (moment - timedelta(days=7)).isoformat(timespec="milliseconds")
    return {
        "queues": queues, "deferred": listed(Queue.DEFERRED), "corrupt": listed(Queue.CORRUPT),
        "disk": {"free": f"{usage.free / 2**30:.1f}", "total": f"{usage.total / 2**30:.1f}",
                 "low": usage.free < console.serve.min_free_bytes},
        "service": {"pid": pid, "workers": workers(pid) if pid else []},
        "audit": {"seq": seq, "hash": head, "records": count},
        "per_hour": charts.hourly(word("per_hour", language_code), labels, [
            (word("mails", language_code), "series-mail", mails),
            (word("uploads", language_code), "series-upload", uploads)]),
        "outcomes": charts.bars(word("outcomes_24h", language_code), searcher.outcomes(since), "outcome"),
        "reasons": charts.bars(word("reasons_7d", language_code), searcher.reasons(week), "reason"),
    }


def mount(app: FastAPI, console: Any) -> None:
    """The 運用状況's routes on the LGWAN side's app (``console``: gateway/console/pages.py's Console)."""

    def page(request: Request, session: Any, status: int = 200, **extra: Any) -> Response:
        done = request.query_params.get("done", "")
        notice = {"retried": "retried", "busy": "retry_busy", "gone": "retry_gone", "refused": "retry_refused"}.get(
            done, "")
        job = request.query_params.get("job", "")
        return render(request, "status.html", status=status, session=session, side=console.side,
                      may_act=session.role in ACTORS, notice=notice,
                      job=job if job.isalnum() and len(job) <= 64 else "",
                      **gather(console, language(request)), **extra)

    @app.get("/console/status", include_in_schema=False)
    def status_page(request: Request) -> Response:
        return page(request, console.require(request, REVIEWERS))

    @app.post("/console/status/verify", include_in_schema=False)
    async def verify(request: Request) -> Response:
        session = await run_in_threadpool(console.require, request, REVIEWERS)
        form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
        if not form_checked(form, session.csrf):
            return render(request, "forbidden.html", status=403, session=session, side=console.side)
        audit = console.context.audit
        seq, head, _ = await run_in_threadpool(audit.head)  # first: the verification covers this record
        result = await run_in_threadpool(audit.verify)
        return await run_in_threadpool(page, request, session, 200, verification={
            "ok": result.ok, "records": result.records, "summary": result.summary(), "seq": seq, "hash": head})

    @app.post("/console/status/purge", include_in_schema=False)
    async def purge(request: Request) -> Response:
        """``gateway audit purge --before`` from the browser (admins): the records older than the
        day given (JST midnight), after a confirmation box; the chain stays verifiable and the purge
        is itself a record, with the account behind it in an access record."""
        session = await run_in_threadpool(console.require, request, ACTORS)
        form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
        if not form_checked(form, session.csrf):
            return render(request, "forbidden.html", status=403, session=session, side=console.side)
        day, confirmed = str(form.get("before") or ""), form.get("confirm") == "yes"
        try:
            cutoff = datetime.combine(date.fromisoformat(day), day_time(0, tzinfo=JST)).astimezone(UTC)
        except ValueError:
            return await run_in_threadpool(page, request, session, 400, purge_error="purge_bad_date")
        if not confirmed:
            return await run_in_threadpool(page, request, session, 400, purge_error="purge_unconfirmed")
        audit = console.context.audit
        purged = await run_in_threadpool(audit.purge_before, cutoff.isoformat(timespec="milliseconds"))
        await run_in_threadpool(console.audit, session.name, request, f"web purge of records before {day} (JST)",
                                detail=f"{purged} records purged")
        return await run_in_threadpool(page, request, session, 200, purged={"count": purged, "day": day})

    @app.post("/console/status/retry", include_in_schema=False)
    async def retry(request: Request) -> Response:
        session = await run_in_threadpool(console.require, request, ACTORS)
        form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
        job_id = str(form.get("id") or "")
        if not form_checked(form, session.csrf) or not (job_id.isalnum() and len(job_id) <= 64):
            return render(request, "forbidden.html", status=403, session=session, side=console.side)
        operator = WebOperator(console.context.spool, console.recorder, session.name, console.serve.data_path)
        code = await run_in_threadpool(operator.act, "retry", job_id)
        done = {EXIT_OK: "retried", EXIT_BUSY: "busy", EXIT_NOT_FOUND: "gone"}.get(code, "refused")
        return RedirectResponse(f"/console/status?done={done}&job={job_id}", status_code=303)

