"""A client's side of one control connection, as rules: calls out, answers matched. No I/O.

:class:`ClientConnection` numbers requests and keeps which are waiting for an answer; fed
the daemon's bytes, it hands out the answers to those requests, the notifications, and the
end of the connection:

- an answer to a request nobody waits for (given up, or never sent) is dropped;
- an error answer without id is the daemon refusing the connection (unauthorized, busy, line
  too long), bytes that are not the protocol, or the end of the stream: the connection is
  :class:`Closed`, and every waiting and later call fails with that error;
- ``dropped`` notifications keep the count of notifications the daemon dropped for us;
- the ``hello`` handshake: its params, and the check of the daemon's protocol version.

The client shell (:mod:`candlewick.control.client`) only reads, feeds, waits and writes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from candlewick.control.protocol import (
    CLIENT_MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    ClientProtocol,
    Notification,
    ProtocolViolation,
    Response,
    check_compatible,
    encode_request,
)
from candlewick.errors import ControlError

log = logging.getLogger(__name__)

__all__ = ["CLOSED_HINT", "ClientConnection", "ClientEvent", "Closed"]

CLOSED_HINT: Final = "it may be shutting down; check its log"


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over (the daemon refused us, broke the protocol or left).

    Every waiting call fails with ``error``, and so does every later one.
    """

    error: ControlError


ClientEvent = Response | Notification | Closed


class ClientConnection:
    """One connection to the daemon, seen from a client."""

    def __init__(self, *, address: str, max_line: int = CLIENT_MAX_LINE_BYTES) -> None:
        self.address = address
        self._protocol = ClientProtocol(max_line)
        #: Ids of the requests waiting for an answer.
        self.pending: set[int] = set()
        #: Why the connection is over (``None`` while it is open).
        self.closed: ControlError | None = None
        #: Notifications the daemon dropped for this client (from ``dropped`` notifications).
        self.dropped_by_daemon = 0

    # -- out -------------------------------------------------------------------------------

    def send_request(self, method: str, params: Mapping[str, Any] | None = None) -> tuple[int, bytes]:
        """A new request: its id (now waiting) and the line to send; raises once closed."""
        if self.closed is not None:
            raise self.closed
        id_, data = self._protocol.request(method, params)
        self.pending.add(id_)
        return id_, data

    def send_notification(self, method: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The line of a call that gets no answer."""
        if self.closed is not None:
            raise self.closed
        return encode_request(None, method, params)

    def abandon(self, id_: int) -> None:
        """The caller stopped waiting for ``id_`` (answered, timed out or cancelled)."""
        self.pending.discard(id_)

    @staticmethod
    def hello_params(client: str, token: str | None = None) -> dict[str, Any]:
        """The ``hello`` params: our protocol version, who we are, and the token over TCP."""
        params: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "client": client}
        if token is not None:
            params["token"] = token
        return params

    @staticmethod
    def receive_hello(result: Any) -> dict[str, Any]:
        """The daemon's ``hello`` answer; raises ``IncompatibleProtocol`` for another major."""
        server = result if isinstance(result, dict) else {}
        check_compatible(server)
        return server

    # -- in --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[ClientEvent]:
        """Feed bytes from the daemon; answers, notifications and the end, in order."""
        if self.closed is not None:
            return []
        try:
            messages = self._protocol.receive_data(data)
        except ProtocolViolation as exc:
            return [self._close(exc)]
        events: list[ClientEvent] = []
        for message in messages:
            event = self._receive(message)
            if event is not None:
                events.append(event)
            if isinstance(event, Closed):
                break  # nothing after a refusal counts
        return events

    def receive_eof(self) -> Closed:
        """The stream ended (or the reader stopped): the connection is over."""
        return self._close(ControlError(f"the daemon closed the connection on {self.address}", hint=CLOSED_HINT))

    def _receive(self, message: Response | Notification) -> ClientEvent | None:
        if isinstance(message, Notification):
            if message.method == "dropped" and isinstance(message.params, dict):
                self.dropped_by_daemon = int(message.params.get("total", self.dropped_by_daemon))
            return message
        if isinstance(message.id, int) and message.id in self.pending:
            self.pending.discard(message.id)
            return message
        if message.id is None and message.error is not None:
            return self._close(message.error)  # the daemon refuses us
        log.debug("answer to unknown request id %r ignored", message.id)
        return None

    def _close(self, error: ControlError) -> Closed:
        if self.closed is None:
            self.closed = error
        self.pending.clear()
        return Closed(self.closed)
