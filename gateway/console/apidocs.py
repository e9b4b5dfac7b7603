"""``/docs`` that works in a closed network: Swagger UI's files ship in this package
(``static/swagger/``, FastAPI's self-hosting recipe; FastAPI's own page loads them from a CDN,
which neither side can reach), started by a script file of ours (no inline script, so the
pages' Content-Security-Policy holds here too). ``UPLOAD_BODY`` describes the upload's multipart body, which FastAPI
cannot see (the route reads the form itself, to check the token and size first), so that /docs
can send files."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from gateway.console.web import STATIC, static_files

SWAGGER_PATH = f"{STATIC}/swagger"
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "array", "items": {  # a file: OpenAPI 3.1's way, and 3.0's for older readers
                    "type": "string", "contentMediaType": "application/octet-stream", "format": "binary"},
                         "description": "one or more files; each is disarmed on its own"},
                "destination": {"type": "string", "maxLength": 100,
                                "description": "a folder under DATA_DIR/lgwan-files/ on the LGWAN side (made safe)"},
            }}}},
    },
    "security": [{"HTTPBearer": []}],  # the scheme FastAPI declares for the other routes' bearer dependency
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LGWAN sanitisation gateway - API</title>
<link rel="stylesheet" href="{swagger}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="{swagger}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """/docs and the files it loads."""
    static_files(app)
    page = PAGE.format(swagger=SWAGGER_PATH, static=STATIC)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

