"""The HTTP API (FastAPI): staff upload files from the internet side; the disarmed results are
delivered to the LGWAN side and can be downloaded by authorised users.

- ``POST /api/v1/transfers`` (multipart, ``file`` fields) → ``202 {"id"}`` once every file is
  durably spooled; 401 without a valid token, 403 for a role that may not upload, 413 over the cap,
  503 (Retry-After) when the disk is low or the queue full; 429 after too many failed logins.
- ``GET /api/v1/transfers/{id}`` → status and the sanitize report of each file.
- ``GET /api/v1/transfers/{id}/files/{n}`` → the n-th disarmed output (never an original).
- ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text).
"""

# FastAPI resolves these annotations at run time (dependencies are closures): no postponed evaluation.

import contextlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from converters.names import safe_component
from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.config import ServeSettings
from gateway.console import apidocs
from gateway.intake import access_log
from gateway.intake.throttle import AuthThrottle
from gateway.intake.tokens import Identity, TokenStore
from gateway.messages import api_error, reason_pair
from gateway.pipeline import scan
from gateway.pipeline.progress import read_progress
from gateway.sandbox.crash_report import crash_count
from gateway.spool import Queue, Spool, fsync_dir, new_job_id, write_durably

log = logging.getLogger(__name__)
COPY_CHUNK = 1024 * 1024
bearer = HTTPBearer(auto_error=False)


@dataclass
class ApiContext:
    spool: Spool
    audit: AuditLog
    tokens: TokenStore
    results: Path
    max_upload_bytes: int
    min_free_bytes: int
    max_queue: int
    throttle: AuthThrottle = field(default_factory=AuthThrottle)
    accepted: int = 0
    antivirus: scan.MalwareStage | None = None  # the engines, for /readyz and /metrics

    def authenticate(self, request: Request, token: str | None) -> Identity:
        """The token's holder. A valid token is accepted whatever others at its address did
        (see gateway/intake/throttle.py); a wrong one is 401, or 429 once the address has too
        many recent failures."""
        client = request.client.host if request.client else ""
        found = self.tokens.identify(token) if token else None
        if found is not None:
            return found
        wait = self.throttle.retry_after(client)
        if wait:
            raise HTTPException(429, api_error("login_throttled"),
                                headers={"Retry-After": str(wait)})
        self.throttle.failed(client)
        raise HTTPException(401, api_error("token_required"), headers={"WWW-Authenticate": "Bearer"})


def with_reason_ja(result: dict[str, Any]) -> dict[str, Any]:
    """A file's result as the API shows it: a blocked one (and each blocked archive member) also
    says why in Japanese, from the message catalogue (``reason`` stays the converter's English)."""
    shown = dict(result)
    if shown.get("outcome") == "blocked":
        shown["reason_ja"] = reason_pair(shown.get("reason_code"), str(shown.get("reason") or ""))[0]
    if isinstance(shown.get("members"), list):
        shown["members"] = [with_reason_ja(m) if isinstance(m, dict) else m for m in shown["members"]]
    return shown


def transfer_status(context: ApiContext, transfer_id: str) -> tuple[str, dict[str, Any] | None]:
    result_file = context.results / transfer_id / "result.json"
    if result_file.exists():
        return "done", json.loads(result_file.read_text(encoding="utf-8"))
    states = ((Queue.UPLOADS, "queued"), (Queue.WORKING, "processing"), (Queue.CORRUPT, "failed"), (Queue.HOLD, "held"))
    for queue, status in states:
        if (context.spool.queue(queue) / transfer_id).exists():
            # put back (and tried again) while the antivirus engines cannot scan
            if queue in (Queue.UPLOADS, Queue.WORKING):
                with contextlib.suppress(OSError, ValueError):
                    meta = json.loads((context.spool.queue(queue) / transfer_id / "envelope.json").read_text("utf-8"))
                    if isinstance(meta, dict) and meta.get("waiting_for_scan"):
                        return "waiting_for_scan", {"detail": "waiting for the malware scan (the antivirus engine "
                                                              "is unavailable; it is retried automatically)"}
            if queue == Queue.WORKING:  # the worker's note: which file, being scanned or disarmed
                note = read_progress(context.results / transfer_id)
                return status, {"progress": note} if note else None
            return status, None
    raise HTTPException(404, api_error("no_transfer"))


def content_disposition(name: str) -> str:
    """``attachment`` with the name twice: RFC 6266's ``filename*`` (UTF-8, what browsers use) and
    an ASCII ``filename`` for tools that read only that (curl -OJ): non-ASCII characters become
    "_", and a name left with no letters becomes ``download.<extension>``."""
    stem, dot, extension = name.rpartition(".") if "." in name else (name, "", "")
    ascii_stem = re.sub(r"[^A-Za-z0-9._ ()-]", "_", stem)
    if not re.search(r"[A-Za-z0-9]", ascii_stem):
        ascii_stem = "download"
    fallback = ascii_stem + dot + re.sub(r"[^A-Za-z0-9]", "_", extension)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def spool_upload(context: ApiContext, files: list[BinaryIO], meta: dict[str, Any]) -> str:
    """Stage an upload durably (files, envelope, fsync), record it, then commit it into
    ``uploads`` (the rename, the last step before 202); its transfer id. As for mail
    (``IntakeHandler._store``): a crash before the commit discards it, and a record that cannot
    be written is postponed."""
    transfer_id = new_job_id()
    staging = context.spool.queue(Queue.TMP) / transfer_id
    (staging / "files").mkdir(parents=True)
    total = 0
    try:
        for index, source in enumerate(files):
            with (staging / "files" / str(index)).open("wb") as sink:
                while chunk := source.read(COPY_CHUNK):
                    total += len(chunk)
                    if total > context.max_upload_bytes:
                        raise HTTPException(413, api_error("upload_too_large", limit=context.max_upload_bytes))
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
        write_durably(staging / "envelope.json", json.dumps(meta, ensure_ascii=False).encode())
        fsync_dir(staging / "files")
        fsync_dir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    recorder = Recorder(context.audit, context.spool)
    recorder.write(records.received_upload(transfer_id, meta, total))
    try:
        context.spool.commit(transfer_id, Queue.UPLOADS)
    except BaseException:
        recorder.write(records.not_accepted(transfer_id))
        context.spool.discard(transfer_id)
        raise
    return transfer_id


async def receive_upload(context: ApiContext, request: Request, who: Identity) -> str:
    """The upload of ``who`` (already allowed to upload) spooled; its transfer id. Size, disk and
    queue are settled from the headers before a byte of the body is read. Used by the API and by
    the web console's upload page (gateway/console/pages.py)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, api_error("length_required"))
    if int(length) > context.max_upload_bytes:
        raise HTTPException(413, api_error("upload_too_large", limit=context.max_upload_bytes))
    if context.spool.free_bytes() < context.min_free_bytes:
        raise HTTPException(503, api_error("disk_short"),
                            headers={"Retry-After": "300"})
    if context.spool.depth() >= context.max_queue:
        raise HTTPException(503, api_error("busy"), headers={"Retry-After": "60"})
    form = await request.form(max_files=100, max_fields=20, max_part_size=1024 * 1024)
    try:
        file = [item for item in form.getlist("file") if isinstance(item, StarletteUploadFile)]
        if not file:
            raise HTTPException(422, api_error("multipart_required"))
        destination = form.get("destination")
        meta = {"user": who.name, "client_ip": request.client.host if request.client else "",
                "names": [safe_component(item.filename or f"file-{n + 1}") for n, item in enumerate(file)],
                "destination": safe_component(destination[:100]) if isinstance(destination, str) and destination
                else ""}
        # the disk work (copies, fsyncs, the audit record) in a thread: the event loop keeps serving
        transfer_id = await run_in_threadpool(spool_upload, context, [item.file for item in file], meta)
    finally:
        await form.close()  # the temporary files starlette kept the parts in
    context.accepted += 1
    return transfer_id


def create_app(context: ApiContext, *, accepts_uploads: bool = True, serve: ServeSettings | None = None) -> FastAPI:
    """The API; ``accepts_uploads=False`` gives the LGWAN-side listener (status and downloads only).
    With ``serve``, the web console's pages are served too (gateway/console/)."""
    app = FastAPI(title="LGWAN sanitisation gateway", version="0.1.0", docs_url=None, redoc_url=None)
    apidocs.install(app)  # /docs from the package's own files: the networks reach no CDN
    access_log.install(app)  # one line per request, no headers
    if serve is not None:
        from gateway.console.pages import mount  # the console imports this module

        mount(app, context, serve, uploads=accepts_uploads)

    def identity(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Identity:
        return context.authenticate(request, credentials.credentials if credentials else None)

    def owner_or_reviewer(transfer_id: str, who: Identity) -> None:
        if who.role in ("auditor", "admin"):
            return
        meta = context.results / transfer_id / "meta.json"
        spooled = [context.spool.queue(q) / transfer_id / "envelope.json"
                   for q in (Queue.UPLOADS, Queue.WORKING, Queue.CORRUPT, Queue.HOLD)]  # hold: `gateway queue hold`
        source = meta if meta.exists() else next((p for p in spooled if p.exists()), None)
        if source is None or json.loads(source.read_text(encoding="utf-8")).get("user") != who.name:
            raise HTTPException(404, api_error("no_transfer"))

    async def upload(request: Request) -> dict[str, str]:
        # who and how much are settled from the headers before a byte of the body is read
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        who = await run_in_threadpool(context.authenticate, request,  # a database lookup: off the event loop
                                      token.strip() if scheme.lower() == "bearer" else None)
        if who.role not in ("uploader", "admin"):
            raise HTTPException(403, api_error("upload_forbidden"))
        return {"id": await receive_upload(context, request, who)}

    if accepts_uploads:
        app.post("/api/v1/transfers", status_code=202, openapi_extra=apidocs.UPLOAD_BODY)(upload)

    @app.get("/api/v1/transfers/{transfer_id}")
    def status(transfer_id: str, who: Annotated[Identity, Depends(identity)]) -> dict[str, Any]:
        if not transfer_id.isalnum():
            raise HTTPException(404, api_error("no_transfer"))
        owner_or_reviewer(transfer_id, who)
        state, result = transfer_status(context, transfer_id)
        files = [with_reason_ja(f) for f in (result or {}).get("files", [])]
        number = 0
        for shown in files:  # each output says where it is downloaded (n counts every file's outputs in order)
            outputs = [dict(o) for o in shown.get("outputs", []) if isinstance(o, dict)]
            for output in outputs:
                output["download"] = f"/api/v1/transfers/{transfer_id}/files/{number}"
                number += 1
            shown["outputs"] = outputs
        answer = {"id": transfer_id, "status": state, "files": files}
        if result and "detail" in result:
            answer["detail"] = result["detail"]
        if result and "progress" in result:  # processing: "stage" (scanning, disarming), "file" N of "file_count"
            note = result["progress"]  # ("files" is already the list of results, empty until done)
            answer.update({"stage": note["stage"], "file": note["file"], "file_count": note["files"]})
        return answer

    @app.get("/api/v1/transfers/{transfer_id}/files/{number}")
    def download(transfer_id: str, number: int, who: Annotated[Identity, Depends(identity)]) -> FileResponse:
        if not transfer_id.isalnum():
            raise HTTPException(404, api_error("no_transfer"))
        owner_or_reviewer(transfer_id, who)
        state, result = transfer_status(context, transfer_id)
        outputs = [o for f in (result or {}).get("files", []) for o in f.get("outputs", [])]
        if state != "done" or not 0 <= number < len(outputs):
            raise HTTPException(404, api_error("no_output"))
        path = context.results / transfer_id / "outputs" / outputs[number]["stored"]
        return FileResponse(path, media_type=outputs[number]["type"],
                            headers={"Content-Disposition": content_disposition(Path(outputs[number]["path"]).name)})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        ready, reasons, engines = scan.readiness(context.antivirus)
        if context.spool.free_bytes() < context.min_free_bytes:
            ready, reasons = False, ["low disk", *reasons]
        body = {"status": "ready" if ready else "not ready", "queue": context.spool.depth(), "reasons": reasons,
                "antivirus": engines, "scanning": bool(context.antivirus and context.antivirus.configured)}
        return body if ready else JSONResponse(body, status_code=503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        return ("# HELP gateway_queue_depth Jobs waiting or in progress.\n# TYPE gateway_queue_depth gauge\n"
                f"gateway_queue_depth {context.spool.depth()}\n"
                "# HELP gateway_uploads_accepted_total Uploads accepted since start.\n"
                "# TYPE gateway_uploads_accepted_total counter\n"
                f"gateway_uploads_accepted_total {context.accepted}\n"
                "# HELP gateway_spool_free_bytes Free disk under the spool.\n# TYPE gateway_spool_free_bytes gauge\n"
                f"gateway_spool_free_bytes {context.spool.free_bytes()}\n"
                "# HELP gateway_sandbox_crashes_total Sandboxed children that crashed (each logged with its "
                "transfer id and input hash).\n# TYPE gateway_sandbox_crashes_total counter\n"
                f"gateway_sandbox_crashes_total {crash_count(context.spool.root)}\n"
                "# HELP gateway_queue_jobs Jobs in each spool queue (corrupt above 0 needs a person).\n"
                "# TYPE gateway_queue_jobs gauge\n"
                + "".join(f'gateway_queue_jobs{{queue="{queue}"}} {count}\n'
                          for queue, count in context.spool.queue_sizes().items())
                + scan.metrics(context.antivirus, context.spool.root))

    return app
