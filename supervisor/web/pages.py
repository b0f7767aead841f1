"""The dashboard page, its static files, and the API's description (JSON and a readable page).

Everything the page needs is in this package (``static/``, with the vendored chart library under
``static/vendor/``): no request leaves the host.
"""

from __future__ import annotations

import html
import json
import mimetypes
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from candlewick.web.openapi import openapi_document
from candlewick.web.replies import error_json

__all__ = ["api_docs", "dashboard", "openapi", "static_file"]

STATIC: Final = resources.files("candlewick.web") / "static"
#: Files served under /static/ (anything else is a 404).
SERVED: Final = frozenset({
    "app.js", "chart.js", "coverage.js", "style.css",
    "vendor/lightweight-charts.standalone.production.js", "vendor/LICENSE", "vendor/NOTICE",
})  # fmt: skip
SECURITY: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def dashboard(request: Request) -> Response:
    """The dashboard (``/``)."""
    body = (STATIC / "index.html").read_bytes()
    return Response(body, media_type="text/html; charset=utf-8", headers={**SECURITY, "Cache-Control": "no-cache"})


async def static_file(request: Request) -> Response:
    """One of the dashboard's files."""
    path = request.path_params["path"]
    if path not in SERVED:
        return Response(error_json(404, f"no static file {path!r}"), status_code=404, media_type="application/json")
    media = mimetypes.guess_type(path)[0] or "text/plain"
    if path.endswith(".js"):
        media = "text/javascript"
    return Response(
        (STATIC / path).read_bytes(), media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "max-age=300"}
    )


async def openapi(request: Request) -> Response:
    """``/api/v1/openapi.json``."""
    return JSONResponse(openapi_document())


async def api_docs(request: Request) -> Response:
    """``/api/v1/docs``: the OpenAPI document as a plain page (no script, no CDN)."""
    doc = openapi_document()
    parts = [f"<h1>{html.escape(doc['info']['title'])} API {html.escape(doc['info']['version'])}</h1>"]
    for path, item in doc["paths"].items():
        op = item["get"]
        parts.append(f"<h2>GET {html.escape(path)}</h2><p>{html.escape(op['summary'])}</p><ul>")
        for p in op["parameters"]:
            required = " (required)" if p["required"] else ""
            parts.append(f"<li><code>{html.escape(p['name'])}</code>{required}: {html.escape(p['description'])}</li>")
        parts.append("</ul>")
    parts.append(f"<h2>Document</h2><pre>{html.escape(json.dumps(doc, indent=2))}</pre>")
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>candlewick API</title></head><body>" + "".join(parts) + "</body></html>"
    )
    return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY)
