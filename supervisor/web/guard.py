"""The gate in front of every route: methods, Host, token, client caps and CORS (pure ASGI).

In order: only ``GET`` and ``HEAD`` (``OPTIONS`` too when CORS is configured) else 405; a
``Host`` header on the allow-list (:mod:`candlewick.web.hosts`) else 421; the token when one is
configured, else 401; at most ``max_clients`` requests at once, else 503. The token is compared
with :func:`hmac.compare_digest` and may come as ``Authorization: Bearer <token>``, as the
``candlewick_token`` cookie, or as ``?token=`` in the URL. A browser's ``EventSource`` sends no
header: the dashboard is opened once as ``/?token=...``, which sets the cookie (HttpOnly,
SameSite=Strict) that its later fetches and its stream carry, and redirects to ``/`` so the token
leaves the address bar and the history.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

from candlewick.web.hosts import HostAllowList
from candlewick.web.replies import error_json

__all__ = ["COOKIE", "Guard", "GuardOptions"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE: Final = "candlewick_token"
READ_METHODS: Final = ("GET", "HEAD")


@dataclass(frozen=True)
class GuardOptions:
    hosts: HostAllowList
    token: str | None
    cors_origins: frozenset[str]
    max_clients: int
    #: Counts each answer by status (``candlewick_web_requests_total{status}``).
    count: Callable[[int], None] = lambda status: None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _offered_token(scope: Scope, headers: dict[str, str]) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the URL (then a cookie is set)."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "token" in query:
        return query["token"][-1], True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no token at all
        return None, False
    morsel = cookie.get(COOKIE)
    return (morsel.value if morsel is not None else None), False


class Guard:
    """Wraps the app; refuses what the service does not serve, before any route runs."""

    def __init__(self, app: ASGIApp, options: GuardOptions) -> None:
        self.app = app
        self.options = options
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._gate(scope, receive, _counting(send, self.options.count))

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        method = scope["method"]
        origin = headers.get("origin")
        cors = origin if origin is not None and origin in self.options.cors_origins else None
        if method == "OPTIONS" and cors is not None:
            await _reply(send, 204, b"", cors=cors, extra=[(b"access-control-allow-methods", b"GET, HEAD")])
            return
        if method not in READ_METHODS:
            message = f"method {method} is not allowed: this API is read-only (GET and HEAD)"
            await _reply(send, 405, error_json(405, message), extra=[(b"allow", b"GET, HEAD")])
            return
        if not self.options.hosts.allows(headers.get("host")):
            message = f"host {headers.get('host')!r} is not served here; add it to [web] allowed_hosts"
            await _reply(send, 421, error_json(421, message, "Host"))
            return
        set_cookie = await self._check_token(scope, headers, send)
        if set_cookie is None:
            return
        if set_cookie and scope["path"] == "/":  # the page: keep the token out of the address bar
            await _reply(send, 303, b"", extra=[(b"location", b"/"), _cookie_header(set_cookie)])
            return
        if self.active >= self.options.max_clients:
            message = f"too many requests at once ({self.options.max_clients}); try again later"
            await _reply(send, 503, error_json(503, message), extra=[(b"retry-after", b"1")])
            return
        self.active += 1
        try:
            await self.app(scope, receive, _decorate(send, cookie=set_cookie, cors=cors))
        finally:
            self.active -= 1

    async def _check_token(self, scope: Scope, headers: dict[str, str], send: Send) -> str | None:
        """``""`` when the request may pass, the token to set as a cookie, or None when refused."""
        expected = self.options.token
        if expected is None:
            return ""
        offered, in_url = _offered_token(scope, headers)
        if offered is not None and hmac.compare_digest(offered.encode(), expected.encode()):
            return offered if in_url else ""
        message = "a token is required: send 'Authorization: Bearer <token>', or open /?token=<token> once"
        if offered is not None:
            message = "the token is wrong"
        await _reply(send, 401, error_json(401, message, "token"), extra=[(b"www-authenticate", b"Bearer")])
        return None


def _counting(send: Send, count: Callable[[int], None]) -> Send:
    """``send`` counting the status of the response it starts."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            count(int(message["status"]))
        await send(message)

    return wrapped


def _decorate(send: Send, *, cookie: str, cors: str | None) -> Send:
    """``send`` adding the token cookie and CORS headers to the response start."""
    if not cookie and cors is None:
        return send

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if cookie:
                headers.append(_cookie_header(cookie))
            if cors is not None:
                headers += _cors_headers(cors)
            message["headers"] = headers
        await send(message)

    return wrapped


def _cookie_header(token: str) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1"))


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-headers", b"Authorization, Last-Event-ID"),
        (b"vary", b"Origin"),
    ]


async def _reply(
    send: Send, status: int, body: bytes, *, cors: str | None = None, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    if cors is not None:
        headers += _cors_headers(cors)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
