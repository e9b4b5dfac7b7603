"""What a person may see of an upload, in plain words: who may see it (its uploader, auditors,
administrators), the newest ones first, and each file's state, result and reference, from the
same files the HTTP API answers from (``results/<id>/`` once done, the spool before)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import HTTPException

from gateway.intake.http_api import ApiContext, transfer_status
from gateway.messages import Language, finding_text, reason_text
from gateway.spool import Queue

JST = timezone(timedelta(hours=9), "JST")
SPOOLED = (Queue.UPLOADS, Queue.WORKING, Queue.CORRUPT, Queue.HOLD)  # every queue the API reads a state from
REVIEWERS = ("auditor", "admin")
LIST_LIMIT = 50
LIST_SCAN = 5000  # the receive page looks at this many of the newest transfers at most (its cost stays bounded)


def valid_id(transfer_id: str) -> bool:
    return len(transfer_id) == 32 and all(c in "0123456789abcdef" for c in transfer_id)


def _envelope(context: ApiContext, transfer_id: str) -> dict[str, Any] | None:
    for queue in SPOOLED:
        path = context.spool.queue(queue) / transfer_id / "envelope.json"
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) else None
    return None


def owner(context: ApiContext, transfer_id: str) -> str | None:
    """Who uploaded it (the API's rule: results/<id>/meta.json once done, the envelope before)."""
    meta = context.results / transfer_id / "meta.json"
    try:
        if meta.exists():
            return str(json.loads(meta.read_text(encoding="utf-8")).get("user"))
    except (OSError, ValueError):
        return None
    envelope = _envelope(context, transfer_id)
    return str(envelope.get("user")) if envelope else None


def may_see(context: ApiContext, transfer_id: str, name: str, role: str) -> bool:
    if not valid_id(transfer_id):
        return False
    found = owner(context, transfer_id)
    return found is not None and (role in REVIEWERS or found == name)


def newest(context: ApiContext, name: str, role: str, limit: int = LIST_LIMIT) -> list[str]:
    """The ids of the transfers this person may see, newest first (ids begin with their arrival
    time), at most ``limit``, among the ``LIST_SCAN`` newest of all."""
    ids: set[str] = set()
    for folder in (context.results, *(context.spool.queue(q) for q in SPOOLED)):
        if folder.is_dir():
            ids.update(entry.name for entry in folder.iterdir() if valid_id(entry.name))
    found = []
    for transfer_id in sorted(ids, reverse=True)[:LIST_SCAN]:
        if may_see(context, transfer_id, name, role):
            found.append(transfer_id)
            if len(found) >= limit:
                break
    return found


def arrival(transfer_id: str) -> str:
    """When it arrived, in Japan's time (ids begin with nanoseconds since the epoch)."""
    moment = datetime.fromtimestamp(int(transfer_id[:16], 16) / 1e9, JST)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _file(result: dict[str, Any], index: int, first_output: int, language: Language) -> dict[str, Any]:
    outcome = str(result.get("outcome", ""))
    sha = str(result.get("sha256", ""))
    findings = [f for f in result.get("findings", []) if isinstance(f, dict)]
    codes = list(dict.fromkeys(str(f.get("code", "")) for f in findings))
    outputs = [o for o in result.get("outputs", []) if isinstance(o, dict)]
    return {
        "index": index, "name": str(result.get("input", "")), "state": outcome or "failed",
        "reason": reason_text(str(result.get("reason_code") or ""), language) if outcome == "blocked" else "",
        "reason_code": str(result.get("reason_code") or ""),
        "removed": [finding_text(code, language) for code in codes if code],
        "reference": f"GW-{sha[:12].upper()}" if sha else "",
        "outputs": [{"number": first_output + n, "name": str(o.get("path", ""))} for n, o in enumerate(outputs)],
    }


def _waiting_state(state: str, note: dict[str, Any] | None, index: int) -> str:
    """A file's state before the transfer is done: while it is processing, the worker's note says
    which file is being scanned or disarmed; the files after it are still only received (the ones
    before it wait, disarmed, for the rest: still processing)."""
    if state != "processing" or not note:
        return state
    position = index + 1
    if position == note["file"]:
        return str(note["stage"])
    return "queued" if position > note["file"] else state


def view(context: ApiContext, transfer_id: str, language: Language) -> dict[str, Any]:
    """The transfer as the pages show it: its state and, per file, its state and plain result.
    Before it is done every file has the transfer's state (queued, waiting_for_scan, processing,
    held, failed), the file being worked on its stage (scanning, disarming); once done, its own
    outcome (passed, sanitized, blocked)."""
    try:
        state, result = transfer_status(context, transfer_id)
    except HTTPException:
        return {"id": transfer_id, "state": "missing", "received": arrival(transfer_id),
                "user": owner(context, transfer_id), "files": []}
    files: list[dict[str, Any]] = []
    if state == "done" and result is not None:
        number = 0
        for index, item in enumerate(result.get("files", [])):
            files.append(_file(item, index, number, language))
            number += len(files[-1]["outputs"])
    else:
        envelope = _envelope(context, transfer_id) or {}
        note = (result or {}).get("progress")
        files = [{"index": index, "name": str(name), "state": _waiting_state(state, note, index), "reason": "",
                  "reason_code": "", "removed": [], "reference": "", "outputs": []}
                 for index, name in enumerate(envelope.get("names", []))]
    return {"id": transfer_id, "state": state, "received": arrival(transfer_id), "user": owner(context, transfer_id),
            "files": files}


def output(context: ApiContext, transfer_id: str, number: int) -> dict[str, Any] | None:
    """The n-th output of a done transfer (the API's numbering): its stored place, name, type, hash."""
    try:
        state, result = transfer_status(context, transfer_id)
    except HTTPException:
        return None
    outputs = [o for f in (result or {}).get("files", []) for o in f.get("outputs", [])]
    if state != "done" or not 0 <= number < len(outputs):
        return None
    return dict(outputs[number])
