"""The fake exchange's side of a websocket: the ``websockets`` library's server protocol over anyio.

Deliberately independent of :mod:`candlewick.plugins.hyperliquid.wsconn`, the live source's
client: nothing here is shared with it, so a framing or close-handshake mistake in that client is
not mirrored by the fake it is tested against. ``websockets.server.ServerProtocol`` (sans-I/O)
does the framing, masking checks, permessage-deflate, pong replies and the closing handshake;
this shell only moves bytes between it and an anyio stream (TCP or TLS, asyncio or trio), in
order, and reassembles fragmented messages.
"""

from __future__ import annotations

import collections
from typing import Final

import anyio
from anyio.abc import ByteStream
from websockets.extensions.permessage_deflate import enable_server_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["ServerWebSocket", "WebSocketClosed"]

#: Largest message the fake takes from a client (subscriptions and pings are tiny).
MAX_MESSAGE: Final = 1024 * 1024
#: How long a closing fake waits for the client's close frame before dropping the transport.
CLOSE_WAIT: Final = 2.0
_READ: Final = 65536
_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class WebSocketClosed(Exception):
    """The websocket ended: closing handshake, transport gone, or a protocol error."""


class ServerWebSocket:
    """One accepted websocket: ``send_text``, ``recv``, then ``aclose`` (or ``abort``)."""

    def __init__(self, stream: ByteStream, protocol: ServerProtocol) -> None:
        self._stream = stream
        self._protocol = protocol
        self._writing = anyio.Lock()
        self._messages: collections.deque[str] = collections.deque()
        self._fragments: list[bytes] | None = None
        self._eof = False
        self._outbox: collections.deque[bytes] = collections.deque()

    @classmethod
    async def accept(cls, stream: ByteStream, head: bytes) -> ServerWebSocket:
        """Answer the upgrade request whose bytes so far (``head``) the HTTP layer has read."""
        protocol = ServerProtocol(extensions=enable_server_permessage_deflate(None), max_size=MAX_MESSAGE)
        ws = cls(stream, protocol)
        protocol.receive_data(head)
        request = ws._take_all()
        while request is None:
            if not ws._open() or protocol.handshake_exc is not None:
                raise WebSocketClosed(f"no websocket request: {protocol.handshake_exc}")
            request = await ws._read_once()
        protocol.send_response(protocol.accept(request))
        await ws._write_pending()
        if protocol.state is not State.OPEN:
            raise WebSocketClosed(f"websocket handshake refused: {protocol.handshake_exc}")
        return ws

    async def _write_pending(self) -> None:
        """Send what the protocol queued, in its order, whichever task queued it.

        The protocol's output is moved to the outbox at once (no await in between), and only the
        lock holder drains it, so concurrent writers never reorder frames (with permessage-deflate
        a reordered frame corrupts the stream). A reader with nothing to send never waits here
        behind a pusher's slow send.
        """
        self._outbox.extend(self._protocol.data_to_send())
        if not self._outbox:
            return
        async with self._writing:
            while self._outbox:
                data = self._outbox.popleft()
                try:
                    if data:
                        await self._stream.send(data)
                    else:  # the protocol is done with the connection: the server closes TCP
                        await self._stream.aclose()
                except _GONE as exc:
                    raise WebSocketClosed(f"the client is gone: {type(exc).__name__}") from exc

    def _ended(self) -> WebSocketClosed:
        protocol = self._protocol
        if protocol.state is not State.CLOSED:  # close_exc exists only once closed
            return WebSocketClosed(f"websocket {protocol.state.name.lower()}")
        return WebSocketClosed(f"websocket closed: {protocol.close_exc}")

    async def _read_once(self) -> Request | None:
        """Read what the client sent, let the protocol digest it, and send what it answers."""
        try:
            data = await self._stream.receive(_READ)
        except _GONE:
            self._eof = True
            self._protocol.receive_eof()
        else:
            self._protocol.receive_data(data)
        request = self._take_all()
        await self._write_pending()
        return request

    def _take_all(self) -> Request | None:
        """Keep the messages the protocol parsed; returns the upgrade request if it was one of them."""
        request = None
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                self._take(event)
            elif isinstance(event, Request):
                request = event
        return request

    def _open(self) -> bool:
        return self._protocol.state is not State.CLOSED and not self._eof

    def _take(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragments is not None:
            self._fragments.append(bytes(frame.data))
        else:  # control frames: the protocol answers pings and closes itself
            return
        if frame.fin:
            self._messages.append(b"".join(self._fragments).decode("utf-8", "replace"))
            self._fragments = None

    async def send_text(self, text: str) -> None:
        """Send one text message (one frame)."""
        if self._protocol.state is not State.OPEN:
            raise self._ended()
        self._protocol.send_text(text.encode())
        await self._write_pending()

    async def recv(self) -> str:
        """The client's next message; :class:`WebSocketClosed` once the websocket has ended."""
        while not self._messages:
            if not self._open():
                raise self._ended()
            await self._read_once()
        return self._messages.popleft()

    async def aclose(self) -> None:
        """The server's closing handshake (code 1000), bounded by :data:`CLOSE_WAIT`."""
        with anyio.move_on_after(CLOSE_WAIT, shield=True):
            try:
                if self._protocol.state is State.OPEN:
                    self._protocol.send_close(1000)
                    await self._write_pending()
                while self._open():
                    await self._read_once()
            except WebSocketClosed:
                pass
        await self.abort()

    async def abort(self) -> None:
        """Drop the transport without a closing handshake (a hang-up)."""
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()
