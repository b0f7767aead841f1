"""JSON-RPC 2.0 over newline-delimited JSON: framing, ids, errors. No I/O.

Bytes go in through ``receive_data``; requests, responses and notifications come out as
events, and what to send comes out as bytes. The rules of a connection built on this
(authentication, subscriptions, matching answers to calls) are the equally pure
:mod:`~candlewick.control.server_connection` and :mod:`~candlewick.control.client_connection`;
the server and the client only read, feed and write (the websockets "sans-I/O" pattern).

Wire format: one UTF-8 JSON object per line, ``\\n`` terminated (``\\r\\n`` is accepted).
Requests are ``{"jsonrpc": "2.0", "id": 1, "method": "status", "params": {...}}``; ``params``
is an object or absent (positional arrays are refused). A request without ``id`` is a
notification and gets no answer. Batches (JSON arrays) are refused with ``-32600``: send one
object per line and use ids to pipeline.

A line longer than :data:`MAX_LINE_BYTES` is answered with :data:`LINE_TOO_LONG` and the
connection is closed; the line is never held whole in memory.

Error codes (``error.code``). Standard JSON-RPC:

======  ==================  ===========================================================
code    name                meaning
======  ==================  ===========================================================
-32700  PARSE_ERROR         the line is not valid UTF-8 JSON
-32600  INVALID_REQUEST     valid JSON but not a JSON-RPC 2.0 request object
-32601  METHOD_NOT_FOUND    no such method (``hello`` lists them)
-32602  INVALID_PARAMS      a parameter is missing or has the wrong type or value
-32603  INTERNAL_ERROR      the daemon failed unexpectedly (details in its log)
======  ==================  ===========================================================

Application codes (the JSON-RPC "server error" range):

======  ==================  ===========================================================
-32000  APPLICATION_ERROR   a known daemon error; ``data`` has ``title`` and ``hint``
-32001  LINE_TOO_LONG       the request line exceeded 1 MiB; the connection is closed
-32002  UNAUTHORIZED        peer uid not allowed, or TCP token missing or wrong; closed
-32003  NOT_FOUND           no such component, market, source or backfill job
-32004  UNSUPPORTED         the component cannot do that (e.g. a fixed set of markets)
-32005  NO_BACKFILL         no backfill service is running
-32006  SINK_UNAVAILABLE    the sink cannot answer now (database down); retry later
-32007  SHUTTING_DOWN       the daemon is shutting down
-32008  BUSY                too many clients connected; the connection is closed
-32009  PROTOCOL_MISMATCH   the client speaks an incompatible protocol major version
======  ==================  ===========================================================
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from candlewick.control.framing import LineFramer
from candlewick.errors import ControlError

__all__ = [
    "APPLICATION_ERROR",
    "BUSY",
    "ERROR_NAMES",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LINE_TOO_LONG",
    "MAX_LINE_BYTES",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "NO_BACKFILL",
    "PARSE_ERROR",
    "PROTOCOL_MISMATCH",
    "PROTOCOL_VERSION",
    "SHUTTING_DOWN",
    "SINK_UNAVAILABLE",
    "UNAUTHORIZED",
    "UNSUPPORTED",
    "ClientProtocol",
    "IncompatibleProtocol",
    "Invalid",
    "LineFramer",
    "LineTooLong",
    "Notification",
    "ProtocolViolation",
    "Request",
    "Response",
    "RpcError",
    "ServerProtocol",
    "check_compatible",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
    "parse_message",
    "parse_request",
    "parse_version",
]

#: ``major.minor``: a client refuses a daemon whose major differs; minors add methods/fields.
PROTOCOL_VERSION: Final = "1.0"
#: Longest request line the daemon reads (bytes, without the newline).
MAX_LINE_BYTES: Final = 1024 * 1024
#: Longest line a client reads: answers (``candles.recent``) may exceed a request's limit.
CLIENT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
APPLICATION_ERROR: Final = -32000
LINE_TOO_LONG: Final = -32001
UNAUTHORIZED: Final = -32002
NOT_FOUND: Final = -32003
UNSUPPORTED: Final = -32004
NO_BACKFILL: Final = -32005
SINK_UNAVAILABLE: Final = -32006
SHUTTING_DOWN: Final = -32007
BUSY: Final = -32008
PROTOCOL_MISMATCH: Final = -32009

#: Every code this protocol uses, by number (documentation and ``ctl`` messages).
ERROR_NAMES: Final[Mapping[int, str]] = {
    PARSE_ERROR: "parse error",
    INVALID_REQUEST: "invalid request",
    METHOD_NOT_FOUND: "method not found",
    INVALID_PARAMS: "invalid params",
    INTERNAL_ERROR: "internal error",
    APPLICATION_ERROR: "application error",
    LINE_TOO_LONG: "line too long",
    UNAUTHORIZED: "unauthorized",
    NOT_FOUND: "not found",
    UNSUPPORTED: "unsupported",
    NO_BACKFILL: "no backfill service",
    SINK_UNAVAILABLE: "sink unavailable",
    SHUTTING_DOWN: "shutting down",
    BUSY: "busy",
    PROTOCOL_MISMATCH: "protocol mismatch",
}

Id = int | str | None

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class RpcError(ControlError):
    """An error answer: raised by handlers to choose the code, raised by clients on receipt."""

    title = "request failed"

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data

    def __str__(self) -> str:
        hint = self.data.get("hint") if isinstance(self.data, dict) else None
        return f"{self.message} ({hint})" if hint else self.message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class IncompatibleProtocol(ControlError):
    """The daemon speaks another protocol major version than this client."""

    title = "incompatible daemon"


class ProtocolViolation(ControlError):
    """The peer sent something that is not this protocol (a client-side error)."""

    title = "protocol violation"


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """A call to run; ``id`` is absent (``notify``) for a JSON-RPC notification."""

    method: str
    params: dict[str, Any]
    id: Id = None
    notify: bool = False


@dataclass(frozen=True, slots=True)
class Invalid:
    """A line that is not a valid request; ``reply`` is the error answer to send."""

    reply: bytes
    code: int


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """The peer sent a line over the limit; send ``reply`` (if any) and close."""

    reply: bytes
    limit: int


@dataclass(frozen=True, slots=True)
class Response:
    """An answer to one of our requests: ``error`` is set instead of ``result`` on failure."""

    id: Id
    result: Any = None
    error: RpcError | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A message without id: ``stats``, ``events``, ``logs`` or ``dropped`` from the daemon."""

    method: str
    params: Any = field(default_factory=dict)


# -- encoding --------------------------------------------------------------------------------


def _dump(obj: dict[str, Any]) -> bytes:
    return _encoder.encode(obj) + b"\n"


def encode_request(id: Id, method: str, params: Mapping[str, Any] | None = None) -> bytes:
    """One request line."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params:
        msg["params"] = dict(params)
    if id is not None:
        msg["id"] = id
    return _dump(msg)


def encode_result(id: Id, result: Any) -> bytes:
    """One success line."""
    return _dump({"jsonrpc": "2.0", "id": id, "result": result})


def encode_error(id: Id, code: int, message: str, data: Any = None) -> bytes:
    """One error line."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return _dump({"jsonrpc": "2.0", "id": id, "error": error})


def encode_notification(method: str, params: Any) -> bytes:
    """One notification line (the daemon's push messages)."""
    return _dump({"jsonrpc": "2.0", "method": method, "params": params})


# -- parsing ---------------------------------------------------------------------------------


def _valid_id(value: object) -> bool:
    return value is None or (isinstance(value, int | str) and not isinstance(value, bool))


def parse_request(line: bytes) -> Request | Invalid:
    """Parse one request line (server side)."""
    try:
        msg = _decoder.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        return Invalid(encode_error(None, PARSE_ERROR, f"not valid JSON: {exc}"), PARSE_ERROR)
    if not isinstance(msg, dict):
        what = "batches (arrays) are not supported" if isinstance(msg, list) else "expected a JSON object"
        return Invalid(
            encode_error(None, INVALID_REQUEST, f"{what}; send one request object per line"), INVALID_REQUEST
        )
    raw_id = msg.get("id")
    id_: Id = raw_id if _valid_id(raw_id) else None

    def bad(code: int, message: str) -> Invalid:
        return Invalid(encode_error(id_, code, message), code)

    if not _valid_id(raw_id):
        return bad(INVALID_REQUEST, "id must be a string, an integer or null")
    if msg.get("jsonrpc") != "2.0":
        return bad(INVALID_REQUEST, 'missing "jsonrpc": "2.0"')
    method = msg.get("method")
    if not isinstance(method, str) or not method:
        return bad(INVALID_REQUEST, "method must be a non-empty string")
    params = msg.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return bad(INVALID_PARAMS, "params must be an object (named parameters)")
    return Request(method, params, id_, notify="id" not in msg)


def parse_message(line: bytes) -> Response | Notification:
    """Parse one line from the daemon (client side); raises :class:`ProtocolViolation`."""
    try:
        msg = _decoder.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ProtocolViolation(f"the daemon sent invalid JSON: {exc}") from None
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        raise ProtocolViolation(f"the daemon sent a non JSON-RPC 2.0 message: {line[:200]!r}")
    if "method" in msg and "id" not in msg:
        method = msg["method"]
        if not isinstance(method, str):
            raise ProtocolViolation("notification without a method name")
        return Notification(method, msg.get("params", {}))
    id_ = msg.get("id")
    if not _valid_id(id_):
        raise ProtocolViolation(f"answer with an invalid id {id_!r}")
    if "error" in msg:
        err = msg["error"]
        if not isinstance(err, dict) or not isinstance(err.get("code"), int):
            raise ProtocolViolation(f"malformed error object {err!r}")
        return Response(id_, error=RpcError(err["code"], str(err.get("message", "")), err.get("data")))
    if "result" not in msg:
        raise ProtocolViolation("answer without result or error")
    return Response(id_, result=msg["result"])


# -- versions --------------------------------------------------------------------------------


def parse_version(value: object) -> tuple[int, int]:
    """``"1.0"`` -> ``(1, 0)``; raises ``ValueError`` for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"protocol version must be a string like '1.0', got {value!r}")
    major, sep, minor = value.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise ValueError(f"protocol version must look like '1.0', got {value!r}")
    return int(major), int(minor)


def check_compatible(hello: Mapping[str, Any], ours: str = PROTOCOL_VERSION) -> tuple[int, int]:
    """Refuse a daemon whose protocol major differs from ours; returns its version."""
    try:
        theirs = parse_version(hello.get("protocol"))
    except ValueError as exc:
        raise IncompatibleProtocol(f"the daemon did not announce a usable protocol version: {exc}") from None
    mine = parse_version(ours)
    if theirs[0] != mine[0]:
        daemon = hello.get("daemon", "?")
        raise IncompatibleProtocol(
            f"the daemon (candlewick {daemon}) speaks control protocol {theirs[0]}.{theirs[1]}, "
            f"this client speaks {ours}",
            hint="use the candlewick release that matches the running daemon, or upgrade both",
        )
    return theirs


# -- connection state machines ---------------------------------------------------------------


class ServerProtocol:
    """The daemon's side of one connection: bytes in, requests and ready-made replies out."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._framer = LineFramer(max_line)

    @property
    def closing(self) -> bool:
        """A line was too long: nothing more is read from this peer."""
        return self._framer.overflowed

    def receive_data(self, data: bytes) -> list[Request | Invalid | LineTooLong]:
        events: list[Request | Invalid | LineTooLong] = []
        for line in self._framer.feed(data):
            if line is None:
                limit = self._framer.max_line
                reply = encode_error(
                    None, LINE_TOO_LONG, f"request line longer than {limit} bytes; closing the connection"
                )
                events.append(LineTooLong(reply, limit))
            else:
                events.append(parse_request(line))
        return events


class ClientProtocol:
    """A client's side of one connection: numbered requests out, answers and pushes in."""

    def __init__(self, max_line: int = CLIENT_MAX_LINE_BYTES) -> None:
        self._framer = LineFramer(max_line)
        self._ids = itertools.count(1)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> tuple[int, bytes]:
        """A new request id and the line to send."""
        id_ = next(self._ids)
        return id_, encode_request(id_, method, params)

    def receive_data(self, data: bytes) -> list[Response | Notification]:
        out: list[Response | Notification] = []
        for line in self._framer.feed(data):
            if line is None:
                raise ProtocolViolation(f"the daemon sent a line over {self._framer.max_line} bytes")
            out.append(parse_message(line))
        return out
