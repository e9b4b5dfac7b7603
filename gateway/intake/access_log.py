"""The HTTP access log: one line per request - client address, method, path (never the query
string), status, duration and who was authenticated when known - and never a header, so no token
or cookie reaches the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

log = logging.getLogger("gateway.intake.access")
MAX_PATH_CHARS = 200


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def access(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.monotonic()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            client = request.client.host if request.client else "-"
            who = getattr(request.state, "identity", None)
            log.info("%s %s %s %d %.0f ms%s", client, request.method, request.url.path[:MAX_PATH_CHARS], status,
                     (time.monotonic() - started) * 1000, f" user={who}" if who else "")
