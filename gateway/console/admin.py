"""管理 (LGWAN side; administrators only): console accounts (add, disable, reset a password,
change the role) and API tokens (create - shown once, only its hash kept -, revoke, expiry),
the same stores ``gateway user`` and ``gateway token`` use. Every change is an audit record
(event ``access``, channel ``web``, the administrator as ``user``); every form carries the CSRF
token; a refused change says which rule refused it."""

# FastAPI resolves these annotations at run time: no postponed evaluation.

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.console.users import AccountError
from gateway.console.web import form_checked, render
from gateway.intake.tokens import DEFAULT_VALID_DAYS, MAX_VALID_DAYS, ROLES

ADMINS = ("admin",)
DONE = ("user_added", "user_disabled", "password_set", "role_changed", "token_revoked")


def mount(app: FastAPI, console: Any) -> None:
    """The 管理's routes on the LGWAN side's app (``console``: gateway/console/pages.py's Console)."""
    users, tokens = console.users, console.context.tokens

    def page(request: Request, session: Any, status: int = 200, **extra: Any) -> Response:
        done = request.query_params.get("done", "")
        return render(request, "admin.html", status=status, session=session, side=console.side,
                      users=users.listing(), tokens=tokens.listing(), roles=ROLES,
                      done=f"done_{done}" if done in DONE else "", default_days=DEFAULT_VALID_DAYS,
                      max_days=MAX_VALID_DAYS, **extra)

    @app.get("/console/admin", include_in_schema=False)
    def admin_page(request: Request) -> Response:
        return page(request, console.require(request, ADMINS))

    async def posted(request: Request) -> tuple[Any, dict[str, str] | None]:
        session = await run_in_threadpool(console.require, request, ADMINS)
        form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
        if not form_checked(form, session.csrf):
            return session, None
        return session, {key: str(value) for key, value in form.items() if isinstance(value, str)}

    def change(request: Request, session: Any, what: str, act: Any, subject: str, done: str) -> Response:
        try:
            act()
        except (AccountError, ValueError) as exc:
            return page(request, session, 400, refused=str(exc))
        console.audit(session.name, request, subject, detail=f"by {session.name} on the {console.side} side")
        return RedirectResponse(f"/console/admin?done={done}", status_code=303)

    @app.post("/console/admin/users", include_in_schema=False)
    async def user_change(request: Request) -> Response:
        session, form = await posted(request)
        if form is None:
            return render(request, "forbidden.html", status=403, session=session, side=console.side)
        action, name = form.get("action", ""), form.get("name", "")[:200]
        if action == "add":
            role = form.get("role", "")
            return await run_in_threadpool(change, request, session, action,
                                           lambda: users.add(name, role, form.get("password", "")),
                                           f"web user add {name} ({role})", "user_added")
        if action == "disable":
            if name == session.name:
                return await run_in_threadpool(page, request, session, 400, refused="not your own account")
            return await run_in_threadpool(change, request, session, action, lambda: users.disable(name),
                                           f"web user disable {name}", "user_disabled")
        if action == "password":
            return await run_in_threadpool(change, request, session, action,
                                           lambda: users.set_password(name, form.get("password", "")),
                                           f"web user password reset {name}", "password_set")
        if action == "role":
            role = form.get("role", "")
            if name == session.name:
                return await run_in_threadpool(page, request, session, 400, refused="not your own account")
            return await run_in_threadpool(change, request, session, action, lambda: users.set_role(name, role),
                                           f"web user role {name} ({role})", "role_changed")
        return await run_in_threadpool(page, request, session, 400, refused="unknown action")

    @app.post("/console/admin/tokens", include_in_schema=False)
    async def token_change(request: Request) -> Response:
        session, form = await posted(request)
        if form is None:
            return render(request, "forbidden.html", status=403, session=session, side=console.side)
        name = form.get("name", "").strip()[:200]
        if form.get("action") == "revoke":
            return await run_in_threadpool(change, request, session, "revoke", lambda: _revoke(tokens, name),
                                           f"web token revoke {name}", "token_revoked")
        role, days = form.get("role", ""), form.get("days", "")
        if not name or not days.isdigit():
            return await run_in_threadpool(page, request, session, 400, refused="a holder and a number of days")

        def create() -> str:
            token = str(tokens.create(role, name, int(days)))
            try:
                console.audit(session.name, request, f"web token create {name} ({role}, {days} days)",
                              detail=f"by {session.name} on the {console.side} side")
            except BaseException:
                tokens.revoke_token(token)  # a token nobody can audit is never handed out
                raise
            return token

        try:
            token = await run_in_threadpool(create)
        except ValueError as exc:
            return await run_in_threadpool(page, request, session, 400, refused=str(exc))
        return await run_in_threadpool(page, request, session, 200, new_token=token, new_token_name=name)


def _revoke(tokens: Any, name: str) -> None:
    if not tokens.revoke(name):
        raise ValueError(f"no live token of {name}")
