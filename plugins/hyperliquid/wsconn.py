"""A websocket over anyio byte streams, driven by websockets' sans-I/O protocol objects.

:func:`connect` opens the live source's client websocket; it runs on asyncio and trio alike.
The fake exchange in :mod:`candlewick.testing` serves its side with code of its own, so the two
check each other. The shell reads, feeds the protocol, writes what the protocol wants written, and
reassembles fragmented messages; protocol-level pings are answered by the protocol itself.
Every way the connection can end surfaces as :class:`ConnectionLost`; a server that gave no
answer at all (no TCP connection, or no HTTP response to the upgrade) as its subclass
:class:`Unreachable`.
"""

from __future__ import annotations

import collections
import ssl
from typing import Final

import anyio
from anyio.abc import ByteStream
from anyio.streams.tls import TLSStream
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidMessage, InvalidURI, ProtocolError
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.uri import parse_uri

__all__ = [
    "DEFAULT_MAX_SIZE",
    "RECEIVE_SIZE",
    "ConnectionLost",
    "Unreachable",
    "WebSocket",
    "connect",
]

#: Largest message accepted (a candleSnapshot over WS ``post`` can be large; candle frames are tiny).
DEFAULT_MAX_SIZE: Final = 8 * 1024 * 1024
RECEIVE_SIZE: Final = 65536
CLOSE_TIMEOUT: Final = 2.0


class ConnectionLost(Exception):
    """The websocket closed, failed its handshake, or its transport broke."""


class Unreachable(ConnectionLost):
    """The server gave no answer: no TCP connection, or it closed before any HTTP response."""


class WebSocket:
    """One open websocket: ``send_text``/``recv`` text messages, ``aclose`` to finish."""

    def __init__(self, stream: ByteStream, protocol: Protocol, pending: list[Frame] | None = None) -> None:
        self.stream = stream
        self.protocol = protocol
        self._send_lock = anyio.Lock()
        #: Complete messages as received (UTF-8 bytes: the protocol core decodes bytes fastest).
        self._messages: collections.deque[bytes] = collections.deque()
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        #: Bytes the last socket read brought (a full read means more is waiting).
        self.last_read = 0
        for frame in pending or ():
            self._on_frame(frame)

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN

    async def _flush(self) -> None:
        chunks = self.protocol.data_to_send()
        if not chunks:
            return
        async with self._send_lock:
            try:
                for chunk in chunks:
                    if chunk:
                        await self.stream.send(chunk)
                    else:
                        await self.stream.send_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise ConnectionLost(f"send failed: {type(exc).__name__}: {exc}") from exc

    async def send_text(self, text: str) -> None:
        """Send one text message."""
        if self.protocol.state is not State.OPEN:
            raise ConnectionLost(self._closed_reason())
        self.protocol.send_text(text.encode())
        await self._flush()

    def _closed_reason(self) -> str:
        if self.protocol.state is not State.CLOSED:  # close_exc is only defined once closed
            return f"connection {self.protocol.state.name.lower()}"
        exc = self.protocol.close_exc
        return f"connection closed: {exc}" if exc is not None else "connection closed"

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            if frame.fin:
                self._messages.append(bytes(frame.data))
            else:
                self._fragment_opcode = frame.opcode
                self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragment_opcode is not None:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                self._messages.append(b"".join(self._fragments))
                self._fragments, self._fragment_opcode = [], None

    async def recv(self) -> str:
        """The next text message; raises :class:`ConnectionLost` once the connection ends."""
        await self._fill()
        return self._messages.popleft().decode("utf-8", "replace")

    async def recv_many(self) -> list[bytes]:
        """Every message one socket read brought (at least one), in order, as UTF-8 bytes.

        Frames arrive in bursts: handling a read's worth at once costs one pass through the
        event loop for all of them instead of one per message.
        """
        await self._fill()
        messages = list(self._messages)
        self._messages.clear()
        return messages

    async def _fill(self) -> None:
        """Read until at least one message is queued; :class:`ConnectionLost` once the connection ends."""
        while not self._messages:
            if self.protocol.state is State.CLOSED:
                raise ConnectionLost(self._closed_reason())
            try:
                data = await self.stream.receive(RECEIVE_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.protocol.receive_eof()
            else:
                self.last_read = len(data)
                self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Frame):
                    self._on_frame(event)
            await self._flush()
            if _state(self.protocol) is State.CLOSED and not self._messages:
                await self.stream.aclose()
                raise ConnectionLost(self._closed_reason())

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close politely (bounded by a short timeout), then drop the transport."""
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            try:
                if self.protocol.state is State.OPEN:
                    self.protocol.send_close(code, reason)
                    await self._flush()
            except (ConnectionLost, ProtocolError):
                pass
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()

    async def abort(self) -> None:
        """Drop the transport without a closing handshake."""
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()


def _state(protocol: Protocol) -> State:
    """The protocol's state, read through a call so type narrowing does not stick."""
    return protocol.state


async def _receive_into(stream: ByteStream, protocol: Protocol) -> list[Request | Response | Frame]:
    try:
        data = await stream.receive(RECEIVE_SIZE)
    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        protocol.receive_eof()
    else:
        protocol.receive_data(data)
    return list(protocol.events_received())


async def connect(
    url: str,
    *,
    open_timeout: float = 10.0,
    max_size: int = DEFAULT_MAX_SIZE,
    ssl_context: ssl.SSLContext | None = None,
    compression: bool = True,
) -> WebSocket:
    """Open a client websocket to ``url`` (``ws://`` or ``wss://``) within ``open_timeout``."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise ConnectionLost(f"bad websocket URL {url!r}: {exc}") from exc
    extensions = enable_client_permessage_deflate(None) if compression else None
    protocol = ClientProtocol(uri, extensions=extensions, max_size=max_size)
    deadline = anyio.current_time() + open_timeout
    stream: ByteStream = await _open_tcp(uri.host, uri.port, open_timeout)
    with anyio.fail_at(deadline):
        try:
            if uri.secure:
                stream = await TLSStream.wrap(
                    stream, hostname=uri.host, ssl_context=ssl_context or ssl.create_default_context(),
                    standard_compatible=False,
                )  # fmt: skip
            ws = WebSocket(stream, protocol)
            protocol.send_request(protocol.connect())
            await ws._flush()
            pending: list[Frame] = []
            while protocol.state is State.CONNECTING:
                for event in await _receive_into(stream, protocol):
                    if isinstance(event, Frame):
                        pending.append(event)
                if _no_response(protocol.handshake_exc):
                    raise Unreachable(f"{url} closed the connection before answering the websocket handshake")
                if protocol.handshake_exc is not None:
                    raise ConnectionLost(f"websocket handshake with {url} failed: {protocol.handshake_exc}")
                if _state(protocol) is State.CLOSED:
                    raise Unreachable(f"{url} closed the connection during the handshake")
            # Frames that arrived with the handshake response (the greeting) come first.
            for event in protocol.events_received():
                if isinstance(event, Frame):
                    pending.append(event)
            for frame in pending:
                ws._on_frame(frame)
            return ws
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise


def _no_response(exc: Exception | None) -> bool:
    """The handshake failed because the connection closed before any HTTP response."""
    return isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError)


async def _open_tcp(host: str, port: int, timeout: float) -> ByteStream:
    """A TCP connection to the server, or :class:`Unreachable` (refused, no route, DNS, timeout)."""
    try:
        with anyio.fail_after(timeout):
            return await anyio.connect_tcp(host, port)
    except (OSError, TimeoutError) as exc:
        raise Unreachable(f"cannot reach {host}:{port}: {exc or type(exc).__name__}") from exc
