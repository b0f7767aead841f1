"""One client connection of the control server: reads, feeds, runs, writes.

A :class:`Session` is the I/O shell around a
:class:`~candlewick.control.server_connection.ServerConnection`, which holds the rules
(authentication, subscriptions, answer lines). The session has a reader (bytes into the
connection; methods that never wait are run right there, the others as tasks, at most
``MAX_INFLIGHT`` at once), a writer (its :class:`~candlewick.control.outbox.Outbox`), and
closes the stream gently (:func:`linger_close`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final, Protocol

import anyio
from anyio.abc import ByteStream, TaskGroup

from candlewick.control import protocol as p
from candlewick.control.dispatch import MethodTable
from candlewick.control.outbox import DEFAULT_MAX_NOTIFICATIONS, Outbox
from candlewick.control.server_connection import Close, Send, ServerConnection, ServerEvent, TopicsChanged

log = logging.getLogger(__name__)

__all__ = ["MAX_INFLIGHT", "Session", "SessionOwner", "linger_close"]

#: Requests of one connection running at once; past it the connection is not read.
MAX_INFLIGHT: Final = 16
#: How long a closing connection may take to flush its last answers.
FLUSH_TIMEOUT: Final = 2.0
#: How long requests still running may take once the peer stopped sending.
HANDLER_GRACE: Final = 30.0
READ_SIZE: Final = 65536
#: How long a closing connection waits for the peer to read its last answer and close.
LINGER: Final = 1.0
#: Most bytes discarded from a peer while lingering.
LINGER_MAX_BYTES: Final = 4 * 1024 * 1024


async def linger_close(stream: ByteStream, *, timeout: float = LINGER) -> None:
    """Close after the peer had a chance to read our last answer.

    Closing with unread input makes the kernel reset the connection, which can destroy the
    answer in flight (the error explaining why we close). So: send EOF, discard what the
    peer still sends until it closes too (or ``timeout``), then close.
    """
    with anyio.CancelScope(shield=True):
        with anyio.move_on_after(timeout), contextlib.suppress(Exception):
            await stream.send_eof()
            discarded = 0
            while discarded < LINGER_MAX_BYTES:
                discarded += len(await stream.receive(READ_SIZE))
        with anyio.move_on_after(1):
            await stream.aclose()


class SessionOwner(Protocol):
    """What a session needs of its server."""

    @property
    def methods(self) -> MethodTable: ...

    def count_request(self, method: str) -> None:
        """One answer to ``method`` (a known method, successful or not)."""

    def count_dropped(self) -> None:
        """One notification dropped for a slow client."""

    def topics_changed(self, session: Session, change: TopicsChanged) -> None:
        """``session`` subscribed or unsubscribed (push what a new subscriber gets first)."""


class Session:
    """One client connection."""

    def __init__(
        self,
        owner: SessionOwner,
        stream: ByteStream,
        *,
        peer: str,
        authenticated: bool,
        token: str | None = None,
        max_notifications: int = DEFAULT_MAX_NOTIFICATIONS,
    ) -> None:
        self.owner = owner
        self.stream = stream
        self.peer = peer
        self.connection = ServerConnection(authenticated=authenticated, token=token)
        self.outbox = Outbox(max_notifications=max_notifications)
        self._inflight = anyio.Semaphore(MAX_INFLIGHT)
        self._log = logging.LoggerAdapter(log, {"peer": peer})

    @property
    def topics(self) -> set[str]:
        """Topics this client subscribed to."""
        return self.connection.topics

    def push(self, data: bytes) -> None:
        """Offer a notification (never waits)."""
        if not self.outbox.put_notification(data):
            self.owner.count_dropped()

    async def run(self) -> None:
        """Serve the connection until the peer leaves or breaks the protocol."""
        self._log.debug("client connected: %s", self.peer)
        writer_done = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._write_loop, writer_done)
                await self._read_loop(tg)
                # The peer finished sending (or must go): answer what runs, flush, then close.
                with anyio.move_on_after(HANDLER_GRACE):
                    for _ in range(MAX_INFLIGHT):
                        await self._inflight.acquire()
                self.outbox.close()
                with anyio.move_on_after(FLUSH_TIMEOUT):
                    await writer_done.wait()
                if not writer_done.is_set():
                    await self._abort()  # wakes the writer instead of cancelling it (see _abort)
                tg.cancel_scope.cancel()
        finally:
            self.outbox.closed = True
            await linger_close(self.stream)
            self._log.debug("client gone: %s (%d notifications dropped)", self.peer, self.outbox.dropped)

    async def _write_loop(self, done: anyio.Event) -> None:
        try:
            while data := await self.outbox.take():
                await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self._abort()  # the reader then sees the stream closed and returns
        finally:
            done.set()

    async def _abort(self) -> None:
        """Close the stream under the other task's feet.

        Closing wakes a task blocked on the socket with an error; cancelling it instead can
        race the socket's readiness callback on asyncio (an ``InvalidStateError`` logged by
        the event loop), so a connection is closed, not cancelled, wherever it can be.
        """
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()

    async def _read_loop(self, tg: TaskGroup) -> None:
        while not self.connection.closing:
            try:
                data = await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            for event in self.connection.receive_data(data):
                await self._act(event, tg)

    async def _act(self, event: ServerEvent, tg: TaskGroup) -> None:
        """Do what the connection says."""
        if isinstance(event, p.Request):
            if self.owner.methods.inline(event.method):
                await self._answer(event)
            else:
                await self._inflight.acquire()
                tg.start_soon(self._answer_then_release, event)
        elif isinstance(event, Send):
            await self.outbox.put_reply(event.data)
        elif isinstance(event, Close):
            self._log.warning("client %s %s; closing", self.peer, event.reason)
            await self.outbox.put_reply(event.data)
        else:
            self.owner.topics_changed(self, event)

    async def _answer(self, request: p.Request) -> None:
        methods = self.owner.methods
        try:
            result = await methods.call(request.method, request.params)
        except p.RpcError as err:
            if request.method in methods:
                self.owner.count_request(request.method)
            reply = self.connection.fail(request, err)
        else:
            self.owner.count_request(request.method)
            reply = self.connection.answer(request, result)
        if reply is not None:
            await self.outbox.put_reply(reply)

    async def _answer_then_release(self, request: p.Request) -> None:
        try:
            await self._answer(request)
        finally:
            self._inflight.release()
