"""What every console page relies on: the security headers, the templates (autoescaped), the
static files shipped in the package, the session cookie and the CSRF checks.

Cookies: ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, no expiry (the server ends sessions).
``Secure`` (and the ``__Host-`` name prefix) and HSTS are set when the request came over HTTPS:
directly, or through a TLS proxy on the same host that says so in ``X-Forwarded-Proto`` (uvicorn
believes that header from 127.0.0.1 only). The gateway itself speaks plain HTTP, so on a
loopback test or a closed segment without TLS the cookie cannot be ``Secure`` (a browser would
never send it back); put a TLS proxy in front in production.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.console.i18n import catalogue, language_of, state_word, word
from gateway.messages import Language

HERE = Path(__file__).parent
STATIC = "/static/console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
LANGUAGE_COOKIE = "gw-lang"
HSTS = "max-age=31536000"
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                        trim_blocks=True, lstrip_blocks=True)


class SecurityHeaders:
    """Every answer of the app (pages, API, /docs) gets the Content-Security-Policy (no inline
    script or style, nothing from another origin), no framing, no referrer, no type sniffing;
    HSTS over HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _SET]
                headers += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if https:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_SET = {b"content-security-policy", b"x-frame-options", b"referrer-policy", b"x-content-type-options",
        b"cross-origin-opener-policy", b"strict-transport-security"}


def static_files(app: FastAPI) -> None:
    """/static/console (once per app) and the security headers on everything the app answers."""
    if any(getattr(route, "path", None) == STATIC for route in app.routes):
        return
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_middleware(SecurityHeaders)


class ForbiddenError(Exception):
    """A page the session's role may not see: answered with a 403 page (``gateway/console/pages.py``)."""

    def __init__(self, session: Any) -> None:
        super().__init__("forbidden")
        self.session = session


def form_checked(form: Any, csrf: str) -> bool:
    """Whether a posted form carries the session's CSRF token."""
    return same(str(form.get("csrf") or ""), csrf)


def https(request: Request) -> bool:
    return request.url.scheme == "https"


def language(request: Request) -> Language:
    return language_of(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=https(request), httponly=True,
                        samesite="strict")


def forget_cookie(request: Request, response: Response, name: str) -> None:
    """Remove a cookie with the attributes it was set with (a ``__Host-`` cookie is only replaced by a Secure one)."""
    response.delete_cookie(name, path="/", secure=https(request), httponly=True, samesite="strict")


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page in the reader's language (a ``?lang=`` choice is remembered in a cookie), never cached."""
    chosen = language(request)
    html = templates.get_template(template).render(
        lang=chosen, other=("en" if chosen == "ja" else "ja"), t=lambda key, **kw: word(key, chosen).format(**kw),
        state=lambda name: state_word(name, chosen),
        static=STATIC, words=json.dumps(catalogue(chosen), ensure_ascii=False), **values)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in ("ja", "en"):
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, path="/", secure=https(request),
                            httponly=True, samesite="strict")
    return response
