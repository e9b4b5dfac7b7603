"""The console's routes, mounted on the HTTP API's apps (``create_app(..., serve=...)``):

- both sides: ``/console/login`` (GET, POST), ``/console/logout`` (POST), ``/`` and ``/console/``
  (to the side's page), ``/console/api/transfers/{id}`` (the page's live status, plain words);
- internet side: ``/console/upload`` (the アップロード page) and ``POST /console/api/transfers``
  (its uploads, one file each, session and CSRF header);
- LGWAN side: ``/console/receive`` (受け取り) and ``/console/transfers/{id}/files/{n}`` (downloads).

Every route checks the session and the role itself; an uploader sees only its own transfers.
Logins, failed logins, logouts and downloads are audit records (event ``access``, channel ``web``).
"""

# FastAPI resolves these annotations at run time: no postponed evaluation.

import secrets
import unicodedata
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.audit import records
from gateway.audit.recorder import Recorder
from gateway.config import ServeSettings
from gateway.console import admin, auditlog, health, transfers
from gateway.console.sessions import Session, SessionStore
from gateway.console.sso import SingleSignOn, peer
from gateway.console.users import MAX_NAME, UserStore, open_users_database
from gateway.console.web import (
    ForbiddenError,
    client_ip,
    forget_cookie,
    https,
    language,
    render,
    same,
    set_cookie,
    static_files,
)
from gateway.intake.http_api import ApiContext, content_disposition, receive_upload
from gateway.intake.tokens import Identity

UPLOADERS = ("uploader", "admin")


class Console:
    def __init__(self, context: ApiContext, serve: ServeSettings, side: str) -> None:
        db = open_users_database(serve.data_path, serve.audit_database)
        self.context, self.side = context, side
        self.users = UserStore(db)
        self.sessions = SessionStore(db, side, serve.session_idle_minutes * 60.0, serve.session_max_hours * 3600.0)
        self.recorder = Recorder(context.audit, context.spool)
        self.max_upload_mb = serve.max_upload_mb
        self.serve = serve
        self.sso = SingleSignOn.of(serve.sso_header, serve.sso_proxies)

    def require(self, request: Request, roles: tuple[str, ...]) -> Session:
        """The page's session: to the login page without one, a 403 page for a role not in ``roles``."""
        session = self.session(request)
        if session is None:
            raise _LoginNeededError
        if session.role not in roles:
            raise ForbiddenError(session)
        return session

    def cookie(self, request: Request) -> str:
        """The session cookie's name: one per side (both listeners may share a host name)."""
        return f"{'__Host-' if https(request) else ''}gw-session-{self.side}"

    def login_cookie(self, request: Request) -> str:
        return f"{'__Host-' if https(request) else ''}gw-login-{self.side}"

    def session(self, request: Request) -> Session | None:
        """The request's live session; none when a trusted proxy now vouches for someone else (the
        person at the browser changed: the login page signs the new one in)."""
        session = self.sessions.lookup(request.cookies.get(self.cookie(request), ""))
        vouched = self.sso.user(request)
        if session is not None and vouched is not None and vouched != session.name:
            return None
        return session

    def audit(self, user: str, request: Request, subject: str, **extra: Any) -> None:
        self.recorder.write(records.web_access(user, client_ip(request), subject, **extra))

    def home(self) -> str:
        return "/console/upload" if self.side == "internet" else "/console/receive"


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def mount(app: FastAPI, context: ApiContext, serve: ServeSettings, *, uploads: bool) -> None:
    console = Console(context, serve, "internet" if uploads else "lgwan")
    static_files(app)

    @app.get("/", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    def start() -> RedirectResponse:
        return RedirectResponse(console.home(), status_code=303)

    @app.get("/console/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        if console.session(request) is not None:
            return RedirectResponse(console.home(), status_code=303)
        vouched = console.sso.user(request, report=True)
        if vouched is not None:
            return _single_sign_on(request, console, vouched)
        return _login_form(request, console)

    @app.post("/console/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
        # as the account store reads it (NFC): the per-name limit cannot be dodged by another spelling
        name = unicodedata.normalize("NFC", str(form.get("name") or "")[:MAX_NAME * 4])
        password = str(form.get("password") or "")
        if not same(str(form.get("csrf") or ""), request.cookies.get(console.login_cookie(request))):
            return _login_form(request, console, "login_expired", status=400)
        # the failed-login limits (gateway/intake/throttle.py): a name with too many recent failures is
        # refused, right password or not; an address only ever has its failures refused, never a login
        client = client_ip(request)
        wait = context.throttle.identity_retry_after(name)
        who: Identity | None = None
        if not wait:
            who = await run_in_threadpool(console.users.authenticate, name, password)
        if who is None:
            wait = wait or context.throttle.retry_after(client)
            context.throttle.failed(client)
            context.throttle.identity_failed(name)
            refused = ", refused by the failed-login limit" if wait else ""
            await run_in_threadpool(console.audit, name[:MAX_NAME], request, "web login failed",
                                    detail=f"{console.side} side{refused}")
            if wait:
                return _login_form(request, console, "login_throttled", status=429, seconds=wait,
                                   headers={"Retry-After": str(wait)})
            return _login_form(request, console, "login_failed", status=401)
        previous = request.cookies.get(console.cookie(request))
        session_id, _ = await run_in_threadpool(console.sessions.create, who.name, previous)
        await run_in_threadpool(console.audit, who.name, request, "web login", detail=f"{console.side} side")
        response = RedirectResponse(console.home(), status_code=303)
        set_cookie(request, response, console.cookie(request), session_id)
        forget_cookie(request, response, console.login_cookie(request))
        return response

    @app.post("/console/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
        session = await run_in_threadpool(console.session, request)
        if session is not None and not same(str(form.get("csrf") or ""), session.csrf):
            return RedirectResponse(console.home(), status_code=303)  # a forged form changes nothing
        if session is not None:
            await run_in_threadpool(console.sessions.end, request.cookies.get(console.cookie(request), ""))
            await run_in_threadpool(console.audit, session.name, request, "web logout", detail=f"{console.side} side")
        response = _to_login()
        forget_cookie(request, response, console.cookie(request))
        return response

    def page_session(request: Request) -> Session:
        session = console.session(request)
        if session is None:
            raise _LoginNeededError
        return session

    def api_session(request: Request, *, changes: bool = False) -> Session:
        """The session of a script's request; 401 without one, 403 when a change lacks its CSRF header."""
        session = console.session(request)
        if session is None:
            raise HTTPException(401, "log in first")
        if changes and not same(request.headers.get("x-csrf-token"), session.csrf):
            raise HTTPException(403, "the CSRF token is missing or wrong")
        return session

    @app.exception_handler(_LoginNeededError)
    def login_needed(request: Request, exc: Exception) -> Response:
        return _to_login()

    @app.exception_handler(ForbiddenError)
    def forbidden(request: Request, exc: Exception) -> Response:
        session = exc.session if isinstance(exc, ForbiddenError) else None
        return render(request, "forbidden.html", status=403, session=session, side=console.side)

    @app.get("/console/api/transfers/{transfer_id}", include_in_schema=False)
    def transfer_view(transfer_id: str, request: Request) -> dict[str, Any]:
        session = api_session(request)
        if not transfers.may_see(context, transfer_id, session.name, session.role):
            raise HTTPException(404, "no such transfer")
        return transfers.view(context, transfer_id, language(request))

    if uploads:
        @app.get("/console/upload", include_in_schema=False)
        def upload_page(request: Request) -> Response:
            session = page_session(request)
            return render(request, "upload.html", session=session, side=console.side,
                          may_upload=session.role in UPLOADERS, max_mb=console.max_upload_mb)

        @app.post("/console/api/transfers", status_code=202, include_in_schema=False)
        async def upload(request: Request) -> dict[str, str]:
            session = await run_in_threadpool(api_session, request, changes=True)
            if session.role not in UPLOADERS:
                raise HTTPException(403, "this account may not upload")
            return {"id": await receive_upload(context, request, Identity(session.name, session.role))}
    else:
        auditlog.mount(app, console)
        health.mount(app, console)
        admin.mount(app, console)

        @app.get("/console/receive", include_in_schema=False)
        def receive_page(request: Request) -> Response:
            session = page_session(request)
            shown = [transfers.view(context, transfer_id, language(request))
                     for transfer_id in transfers.newest(context, session.name, session.role)]
            return render(request, "receive.html", session=session, side=console.side, transfers=shown,
                          everyone=session.role in transfers.REVIEWERS)

        @app.get("/console/transfers/{transfer_id}/files/{number}", include_in_schema=False)
        def download(transfer_id: str, number: int, request: Request) -> Response:
            session = page_session(request)
            found = transfers.output(context, transfer_id, number) \
                if transfers.may_see(context, transfer_id, session.name, session.role) else None
            if found is None:
                return render(request, "missing.html", status=404, session=session, side=console.side)
            console.audit(session.name, request, f"web download {transfer_id} file {number}",
                          detail=str(found.get("path", ""))[:300], outputs=[str(found.get("sha256", ""))])
            return FileResponse(context.results / transfer_id / "outputs" / found["stored"],
                                media_type=found["type"], headers={
                                    "Content-Disposition": content_disposition(Path(found["path"]).name),
                                    "Cache-Control": "no-store"})


class _LoginNeededError(Exception):
    """A page asked for without a live session: answered with the way to the login page."""



def _single_sign_on(request: Request, console: Console, name: str) -> Response:
    """A login for the name a trusted proxy vouched for: a session as a password login makes (so
    CSRF tokens and roles work unchanged), for an existing, enabled account only; an audit record
    either way, with the proxy's address in the detail."""
    try:
        account = unicodedata.normalize("NFC", name)
        role = console.users.role(account) if account and len(account) <= MAX_NAME else None
    except ValueError:
        role = None
    where = f"{console.side} side, single sign-on via {peer(request)}"
    if role is None:
        console.audit(name[:MAX_NAME], request, "web login failed", detail=f"{where}: no enabled account")
        return _login_form(request, console, "sso_refused", status=403)
    session_id, _ = console.sessions.create(account, request.cookies.get(console.cookie(request)))
    console.audit(account, request, "web login", detail=where)
    response = RedirectResponse(console.home(), status_code=303)
    set_cookie(request, response, console.cookie(request), session_id)
    forget_cookie(request, response, console.login_cookie(request))
    return response


def _login_form(request: Request, console: Console, problem: str = "", *, status: int = 200,
                headers: dict[str, str] | None = None, **values: Any) -> Response:
    """The login page with a fresh login-CSRF token (double submit: the form's field must match
    the cookie; the session id is only made after the password was right)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, csrf=token, problem=problem, problem_values=values,
                      side=console.side, session=None)
    set_cookie(request, response, console.login_cookie(request), token, max_age=3600)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
