"""The daemon's side of one control connection, as rules: bytes in, what to do out. No I/O.

:class:`ServerConnection` frames and parses what the peer sends
(:class:`~candlewick.control.protocol.ServerProtocol`) and applies the connection's rules:

- **Authentication.** A connection made unauthenticated (TCP) must first call ``hello``
  with the token from ``[control] token_file``; anything else, or a wrong token, is
  answered ``UNAUTHORIZED`` and the connection is closed.
- **Subscriptions.** ``subscribe``/``unsubscribe`` are answered here: the topics
  (``events``, ``logs``, ``stats``), the ``logs`` level and the ``events`` replay are
  validated, and the connection's topics kept.
- **Answers.** A method's result or error becomes the answer line (none for a notification).

Out of :meth:`ServerConnection.receive_data` come, in order: a
:class:`~candlewick.control.protocol.Request` (run the method, then send :meth:`answer` or
:meth:`fail`), :class:`Send` (a line to send now), :class:`Close` (send a last line, then
close: nothing more comes out) and :class:`TopicsChanged` (push the first ``stats``, replay
past events). The server shell (:mod:`candlewick.control.server`) only reads, feeds, runs
and writes.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from msgspec import Meta

from candlewick.control.params import Params, decode_params
from candlewick.control.protocol import (
    INTERNAL_ERROR,
    MAX_LINE_BYTES,
    UNAUTHORIZED,
    Invalid,
    LineTooLong,
    Request,
    RpcError,
    ServerProtocol,
    encode_error,
    encode_result,
)

log = logging.getLogger(__name__)

__all__ = [
    "LEVELS",
    "MAX_HISTORY",
    "SUBSCRIPTION_METHODS",
    "TOPICS",
    "Close",
    "Send",
    "ServerConnection",
    "ServerEvent",
    "SubscribeParams",
    "TopicsChanged",
]

#: What a client may subscribe to.
TOPICS: Final = ("events", "logs", "stats")
#: Methods answered by the connection itself.
SUBSCRIPTION_METHODS: Final = ("subscribe", "unsubscribe")
#: Most past events ``subscribe`` replays (``history``); below a client's notification queue.
MAX_HISTORY: Final = 200
#: ``logs`` levels a subscriber may ask for.
LEVELS: Final = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
AUTHENTICATE_FIRST: Final = "authenticate first: call hello with the token from [control] token_file"

Topic = Literal["events", "logs", "stats"]


class SubscribeParams(Params):
    """``subscribe`` / ``unsubscribe``: topics, and for ``logs`` the lowest level wanted."""

    topics: Annotated[list[Topic] | Topic, Meta(description="a list of " + ", ".join(TOPICS))]
    level: Annotated[str, Meta(description="one of " + ", ".join(LEVELS))] = "INFO"
    history: Annotated[int, Meta(ge=0, le=MAX_HISTORY)] = 0

    def __post_init__(self) -> None:
        if self.level.upper() not in LEVELS:
            raise self.invalid("level")

    @property
    def topic_set(self) -> frozenset[str]:
        return frozenset([self.topics] if isinstance(self.topics, str) else self.topics)


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """A line to send now: an error answer to a bad line, a subscription's answer."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Send ``data``, then close the connection; ``reason`` is for the daemon's log."""

    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class TopicsChanged:
    """The connection's topics changed; ``added`` ones start now, ``replay`` past events are due."""

    added: frozenset[str]
    replay: int = 0


ServerEvent = Request | Send | Close | TopicsChanged


# -- the state machine -----------------------------------------------------------------------


class ServerConnection:
    """One client connection, seen from the daemon: authentication, subscriptions, answers."""

    def __init__(self, *, authenticated: bool = True, token: str | None = None, max_line: int = MAX_LINE_BYTES) -> None:
        self._protocol = ServerProtocol(max_line)
        self._token = token
        #: The peer may call methods (Unix peers are checked before; TCP peers say ``hello``).
        self.authenticated = authenticated
        #: Topics the peer subscribed to.
        self.topics: set[str] = set()
        #: Lowest level of the ``logs`` records the peer gets.
        self.log_level = logging.INFO
        #: The connection is closing: nothing more is read from the peer.
        self.closing = False

    def receive_data(self, data: bytes) -> list[ServerEvent]:
        """Feed bytes from the peer; what to do, in order."""
        events: list[ServerEvent] = []
        for item in self._protocol.receive_data(data):
            if self.closing:
                break
            if isinstance(item, LineTooLong):
                events.append(self._close(item.reply, f"sent a line over {item.limit} bytes"))
            elif isinstance(item, Invalid):
                events.append(Send(item.reply))
            elif not self.authenticated:
                events.append(self._authenticate(item))
            elif item.method in SUBSCRIPTION_METHODS:
                events.extend(self._subscription(item))
            else:
                events.append(item)
        return events

    def wants_log(self, levelno: int) -> bool:
        """Whether a ``logs`` record of ``levelno`` goes to this peer."""
        return "logs" in self.topics and levelno >= self.log_level

    def answer(self, request: Request, result: Any) -> bytes | None:
        """The answer line for ``request``'s result (``None`` for a notification)."""
        if request.notify:
            return None
        try:
            return encode_result(request.id, result)
        except (TypeError, ValueError) as exc:
            log.error("control method %s returned a value that is not JSON: %s", request.method, exc)
            return encode_error(request.id, INTERNAL_ERROR, f"{request.method} returned an unencodable result")

    def fail(self, request: Request, error: RpcError) -> bytes | None:
        """The error line for ``request`` (``None`` for a notification)."""
        return None if request.notify else encode_error(request.id, error.code, error.message, error.data)

    # -- rules -----------------------------------------------------------------------------

    def _close(self, data: bytes, reason: str) -> Close:
        self.closing = True
        return Close(data, reason)

    def _authenticate(self, request: Request) -> Request | Close:
        token = request.params.get("token")
        if request.method != "hello" or not isinstance(token, str) or self._token is None:
            message = AUTHENTICATE_FIRST
        elif not hmac.compare_digest(token.encode(), self._token.encode()):
            message = "wrong token"
        else:
            self.authenticated = True
            return request
        return self._close(encode_error(request.id, UNAUTHORIZED, message), f"refused: {message}")

    def _subscription(self, request: Request) -> list[ServerEvent]:
        try:
            params = decode_params(SubscribeParams, request.params)
        except RpcError as err:
            reply = self.fail(request, err)
            return [Send(reply)] if reply is not None else []
        topics = params.topic_set
        added = topics - self.topics
        if request.method == "subscribe":
            self.topics |= topics
            self.log_level = LEVELS[params.level.upper()]
        else:
            added = frozenset()
            self.topics -= topics
        events: list[ServerEvent] = []
        reply = self.answer(request, {"topics": sorted(self.topics)})
        if reply is not None:
            events.append(Send(reply))
        events.append(TopicsChanged(added, params.history if "events" in added else 0))
        return events
