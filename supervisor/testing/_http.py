"""A minimal HTTP/1.1 server side over an anyio byte stream: enough for ``POST /info`` and upgrades.

Reads one request head (bounded), its ``Content-Length`` body, and writes responses with
keep-alive. Chunked request bodies are not supported (no client of ours sends them).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field

import anyio
from anyio.abc import ByteStream

__all__ = ["HttpRequest", "read_request", "write_response"]

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class BadHttp(Exception):
    """The peer sent something that is not an acceptable HTTP/1.1 request."""


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: The raw bytes of the head (an upgrade hands them to the websocket handshake).
    head: bytes = b""
    leftover: bytes = field(default=b"", repr=False)

    @property
    def is_websocket(self) -> bool:
        return "websocket" in self.headers.get("upgrade", "").lower()

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


async def read_request(stream: ByteStream, buffered: bytes = b"") -> HttpRequest | None:
    """The next request on ``stream`` (``None`` when the peer closed between requests)."""
    data = bytearray(buffered)
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise BadHttp("request head too large")
        try:
            chunk = await stream.receive(65536)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            if data:
                raise BadHttp("connection closed mid-request") from None
            return None
        data.extend(chunk)
    end = data.index(b"\r\n\r\n") + 4
    head = bytes(data[:end])
    rest = bytes(data[end:])
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, path, _version = lines[0].split(" ", 2)
    except ValueError:
        raise BadHttp(f"bad request line {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadHttp(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade"):
        return HttpRequest(method, path, headers, b"", head=head, leftover=rest)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadHttp("bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise BadHttp("body too large")
    body = bytearray(rest)
    while len(body) < length:
        try:
            body.extend(await stream.receive(65536))
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise BadHttp("connection closed mid-body") from None
    return HttpRequest(method, path, headers, bytes(body[:length]), head=head, leftover=bytes(body[length:]))


async def write_response(
    stream: ByteStream,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    close: bool = False,
    date: float | None = None,
) -> None:
    """Write one complete response; ``date`` (Unix seconds) goes out as the ``Date`` header, as servers send it."""
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
        + (f"Date: {email.utils.formatdate(date, usegmt=True)}\r\n" if date is not None else "")
        + f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    await stream.send(head.encode("latin-1") + body)
