"""転送ログ (LGWAN side; auditors and administrators): the audit log searched through its index
(``gateway/audit/index.py``), a page of 50 newest first; one transfer's detail (its row, every
attachment and archive member, its delivery attempts and the timeline of its records, as
``gateway audit show`` assembles them: ``AuditLog.transfer``); the current search as CSV (the
export's own writer, ``csv_text``: UTF-8 with a BOM, CRLF). Every export is an audit record.
Times are shown in Japan's time; the log keeps UTC."""

# FastAPI resolves these annotations at run time: no postponed evaluation.

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gateway.audit.index import Search
from gateway.audit.rows import csv_text
from gateway.console.transfers import JST, REVIEWERS
from gateway.console.web import language, render
from gateway.messages import finding_text, reason_text

PAGE = 50
EXPORT_LIMIT = 100_000
OUTCOMES = ("passed", "sanitized", "blocked", "accepted", "delivered", "rejected")
FIELDS = ("since", "until", "sender", "recipient", "name", "sha256", "outcome", "reason", "finding")
DELIVERY_EVENTS = ("delivered", "deferred", "failed", "operator")
RECORD_DEFAULTS = {"key": "", "outcome": "", "delivery_status": "", "reason_code": "", "detail": "", "hash": ""}
PART_DEFAULTS = {"kind": "", "index": "", "name": "", "type": "", "size": 0, "sha256": "", "outcome": "",
                 "reason_code": "", "signatures": [], "outputs": [], "members_omitted": 0}


def jst(moment: str) -> str:
    """A UTC time of the log as Japan's time, to the second."""
    try:
        return datetime.fromisoformat(moment).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return moment


def _utc(value: str) -> str:
    """A ``datetime-local`` value typed in Japan's time as the log's UTC; ValueError if it is none."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def read_search(request: Request) -> tuple[dict[str, str], Search | None, list[str]]:
    """The form's values as given, the search they make, and the names of those that cannot be read."""
    given = {name: str(request.query_params.get(name) or "").strip()[:300] for name in FIELDS}
    wrong = []
    times = {}
    for name in ("since", "until"):
        try:
            times[name] = _utc(given[name]) if given[name] else ""
        except ValueError:
            wrong.append(name)
    if given["outcome"] and given["outcome"] not in OUTCOMES:
        wrong.append("outcome")
    wanted = Search(since=times.get("since", ""), until=times.get("until", ""), sender=given["sender"],
                    recipient=given["recipient"], name=given["name"], sha256=given["sha256"],
                    outcome=given["outcome"], reason=given["reason"].lower(), finding=given["finding"].lower())
    wrong += [name for name in wanted.problems() if name not in wrong]
    return given, (None if wrong else wanted), wrong


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the result list: what an operator reads at a glance."""
    return {"id": row["id"], "received": jst(str(row.get("received_time", ""))), "channel": row.get("channel", ""),
            "sender": row.get("sender") or row.get("user") or "", "recipients": ", ".join(row.get("recipients") or []),
            "subject": row.get("subject", ""), "outcome": row.get("outcome", ""),
            "detail": row.get("outcome_detail", ""), "blocked": row.get("blocked") or [],
            "reference": row.get("reference") or _part_references(row), "event": row.get("event", "")}


def _part_references(row: dict[str, Any]) -> str:
    """An upload has no one input: the references of its files (as the receive page gives them)."""
    digests = [str(p.get("sha256") or "") for p in row.get("parts") or []]
    return " ".join(f"GW-{d[:12].upper()}" for d in digests if d)


def mount(app: FastAPI, console: Any) -> None:
    """The 転送ログ's routes on the LGWAN side's app (``console``: gateway/console/pages.py's Console)."""
    audit = console.context.audit

    @app.get("/console/log", include_in_schema=False)
    def log_page(request: Request) -> Response:
        session = console.require(request, REVIEWERS)
        given, wanted, wrong = read_search(request)
        page = max(1, min(int(request.query_params.get("page", "1")) if request.query_params.get(
            "page", "1").isdigit() else 1, 10_000))
        rows: list[dict[str, Any]] = []
        if wanted is not None:
            rows = audit.searcher().search(wanted, (page - 1) * PAGE, PAGE + 1)
        query = urlencode({k: v for k, v in given.items() if v})
        return render(request, "log.html", session=session, side=console.side, given=given, wrong=wrong,
                      rows=[shown(r) for r in rows[:PAGE]], page=page, more=len(rows) > PAGE, query=query,
                      outcomes=OUTCOMES, status=400 if wrong else 200)

    @app.get("/console/log/export.csv", include_in_schema=False)
    async def export(request: Request) -> Response:
        session = await run_in_threadpool(console.require, request, REVIEWERS)
        given, wanted, wrong = read_search(request)
        if wanted is None:
            return render(request, "log.html", status=400, session=session, side=console.side, given=given,
                          wrong=wrong, rows=[], page=1, more=False, query="", outcomes=OUTCOMES)
        rows = await run_in_threadpool(lambda: list(audit.searcher().rows(wanted, EXPORT_LIMIT + 1)))
        if len(rows) > EXPORT_LIMIT:
            return render(request, "log.html", status=413, session=session, side=console.side, given=given,
                          wrong=[], rows=[], page=1, more=False, query="", outcomes=OUTCOMES,
                          too_many=EXPORT_LIMIT)
        conditions = "; ".join(f"{k}={v}" for k, v in given.items() if v) or "no conditions"
        await run_in_threadpool(console.audit, session.name, request, "web export",
                                detail=f"transfer log CSV, {len(rows)} rows: {conditions}"[:300])
        stamp = datetime.now(JST).strftime("%Y%m%d-%H%M%S")
        return Response(csv_text(rows).encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="transfers-{stamp}.csv"', "Cache-Control": "no-store"})

    @app.get("/console/log/{transfer_id}", include_in_schema=False)
    def detail(transfer_id: str, request: Request) -> Response:
        session = console.require(request, REVIEWERS)
        row, timeline = ({}, []) if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", transfer_id) \
            else audit.transfer(transfer_id)
        if not timeline:
            return render(request, "missing.html", status=404, session=session, side=console.side)
        chosen = language(request)
        parts = [_part(part, chosen) for part in row.get("parts") or []]
        records = [{**RECORD_DEFAULTS, **record, "shown_time": jst(str(record.get("happened") or record["time"]))}
                   for record in timeline]
        return render(request, "log_detail.html", session=session, side=console.side, row=row, parts=parts,
                      received=jst(str(row.get("received_time", ""))), records=records,
                      deliveries=[r for r in records if r.get("event") in DELIVERY_EVENTS],
                      findings=[(code, finding_text(code, chosen)) for code in row.get("findings") or []],
                      reason=reason_text(str(row.get("reason_code")), chosen) if row.get("reason_code") else "")


def _part(part: dict[str, Any], chosen: Any) -> dict[str, Any]:
    def judged(item: dict[str, Any]) -> dict[str, Any]:
        code = str(item.get("reason_code") or "")
        return {**PART_DEFAULTS, **item, "why": reason_text(code, chosen) if item.get("outcome") == "blocked" else "",
                "found": [(str(c), finding_text(str(c), chosen)) for c in item.get("findings") or []]}

    return {**judged(part), "members": [judged(m) for m in part.get("members") or []]}
