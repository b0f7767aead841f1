"""Async client of the control socket, used by the TUI and ``candlewick ctl``.

::

    async with ControlClient.connect(path) as client:
        status = await client.call("status")
        await client.subscribe(["stats", "events"])
        async for note in client.notifications():
            print(note.method, note.params)

The rules (ids, matching answers to calls, the daemon refusing us, the handshake) are
:class:`~candlewick.control.client_connection.ClientConnection`'s; this shell reads, feeds,
waits and writes. Runs on asyncio and trio. Imports nothing of the daemon runtime (no
asyncpg, websockets or textual): only :mod:`candlewick.control`'s protocol modules,
:mod:`candlewick.errors` and anyio.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import ByteStream, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from candlewick._version import __version__
from candlewick.control import sockstream
from candlewick.control.client_connection import ClientConnection, ClientEvent
from candlewick.control.protocol import (
    CLIENT_MAX_LINE_BYTES,
    IncompatibleProtocol,
    Notification,
    Response,
    RpcError,
)
from candlewick.errors import ControlError, DaemonUnreachable

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_NOTIFICATION_QUEUE",
    "ControlClient",
    "DaemonUnreachable",
    "IncompatibleProtocol",
    "Notification",
    "RpcError",
    "resolve_socket_path",
]

log = logging.getLogger(__name__)

#: Seconds to wait for the socket to accept and ``hello`` to answer.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Notifications held for a slow consumer; past it the oldest are dropped and counted.
DEFAULT_NOTIFICATION_QUEUE = 1000
READ_SIZE = 65536
START_HINT = "start the daemon with 'candlewick run', or pass the daemon's socket with --socket"


def resolve_socket_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` or the default (``$XDG_RUNTIME_DIR/candlewick/control.sock``; as root ``/run/...``)."""
    if path is not None:
        return Path(path)
    from candlewick.config import default_socket_path  # pydantic only when needed

    return default_socket_path()


class _Waiter:
    """One call waiting for its answer (``response`` stays ``None`` when the connection ends)."""

    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.response: Response | None = None

    def resolve(self, response: Response) -> None:
        self.response = response
        self.event.set()


class ControlClient:
    """One connection to the daemon. Create it with :meth:`connect` (an async context manager)."""

    def __init__(self, stream: ByteStream, *, address: str, notification_queue: int = DEFAULT_NOTIFICATION_QUEUE):
        self.address = address
        self._stream = stream
        self._connection = ClientConnection(address=address, max_line=CLIENT_MAX_LINE_BYTES)
        self._waiters: dict[int, _Waiter] = {}
        self._send_lock = anyio.Lock(fast_acquire=True)
        notes: tuple[MemoryObjectSendStream[Notification], MemoryObjectReceiveStream[Notification]]
        notes = anyio.create_memory_object_stream[Notification](max_buffer_size=notification_queue)
        self._notes_send, self._notes_receive = notes
        #: The ``hello`` answer: protocol, daemon version, pid, methods.
        self.server: dict[str, Any] = {}
        #: Notifications this client dropped because they were not consumed fast enough.
        self.dropped_locally = 0

    # -- connecting ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
        hello: bool = True,
        client_name: str = "candlewick",
        notification_queue: int = DEFAULT_NOTIFICATION_QUEUE,
    ) -> AsyncIterator[ControlClient]:
        """Connect to the Unix socket (default path when ``None``) and say ``hello``.

        Raises :class:`~candlewick.errors.DaemonUnreachable` naming the socket when nothing
        answers, and :class:`~candlewick.control.protocol.IncompatibleProtocol` when the
        daemon speaks another protocol major version.
        """
        sock = resolve_socket_path(path)
        try:
            with anyio.fail_after(timeout):
                stream: ByteStream = await sockstream.connect(sock)
        except (OSError, TimeoutError) as exc:
            raise _unreachable(str(sock), exc) from None
        async with cls._session(
            stream,
            address=str(sock),
            hello=hello,
            client_name=client_name,
            timeout=timeout,
            notification_queue=notification_queue,
        ) as client:
            yield client

    @classmethod
    @asynccontextmanager
    async def connect_tcp(
        cls,
        host: str,
        port: int,
        *,
        token: str,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
        client_name: str = "candlewick",
        notification_queue: int = DEFAULT_NOTIFICATION_QUEUE,
    ) -> AsyncIterator[ControlClient]:
        """Connect to the optional loopback TCP listener, authenticating with ``token``."""
        address = f"{host}:{port}"
        try:
            with anyio.fail_after(timeout):
                stream: ByteStream = await anyio.connect_tcp(host, port)
        except (OSError, TimeoutError) as exc:
            raise _unreachable(address, exc) from None
        async with cls._session(
            stream,
            address=address,
            hello=True,
            client_name=client_name,
            timeout=timeout,
            notification_queue=notification_queue,
            token=token,
        ) as client:
            yield client

    @classmethod
    @asynccontextmanager
    async def _session(
        cls,
        stream: ByteStream,
        *,
        address: str,
        hello: bool,
        client_name: str,
        timeout: float,
        notification_queue: int,
        token: str | None = None,
    ) -> AsyncIterator[ControlClient]:
        client = cls(stream, address=address, notification_queue=notification_queue)
        try:
            async with stream, anyio.create_task_group() as tg:
                await tg.start(client._read_loop)
                try:
                    if hello:
                        params = client._connection.hello_params(f"{client_name}/{__version__}", token)
                        result = await client.call("hello", params, timeout=timeout)
                        client.server = client._connection.receive_hello(result)
                    yield client
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The reader task never raises: an error here is the caller's own, re-raised as is.
            raise _single(group) from None
        finally:
            client._notes_send.close()
            client._notes_receive.close()

    # -- calls -----------------------------------------------------------------------------

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` and return its result; raises :class:`RpcError` on an error answer."""
        id_, data = self._connection.send_request(method, params)
        waiter = self._waiters[id_] = _Waiter()
        try:
            await self._send(data)
            if timeout is None:
                await waiter.event.wait()
            else:
                with anyio.fail_after(timeout):
                    await waiter.event.wait()
        except TimeoutError:
            raise ControlError(
                f"{method}: no answer from the daemon on {self.address} within {timeout:g}s",
                hint="the daemon may be overloaded; check its log",
            ) from None
        finally:
            del self._waiters[id_]
            self._connection.abandon(id_)
        response = waiter.response
        if response is None:
            raise self._connection.closed or ControlError(f"{method}: the connection closed before an answer")
        if response.error is not None:
            raise response.error
        return response.result

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a JSON-RPC notification (no answer)."""
        await self._send(self._connection.send_notification(method, params))

    async def subscribe(self, topics: Sequence[str], **options: Any) -> list[str]:
        """Receive ``stats``, ``events`` and/or ``logs`` notifications; returns the active topics."""
        result = await self.call("subscribe", {"topics": list(topics), **options})
        return list(result.get("topics", [])) if isinstance(result, dict) else []

    async def unsubscribe(self, topics: Sequence[str]) -> list[str]:
        """Stop receiving the given topics; returns the topics still active."""
        result = await self.call("unsubscribe", {"topics": list(topics)})
        return list(result.get("topics", [])) if isinstance(result, dict) else []

    @property
    def dropped_by_daemon(self) -> int:
        """Notifications the daemon dropped for this client (from ``dropped`` notifications)."""
        return self._connection.dropped_by_daemon

    def notifications(self) -> AsyncIterator[Notification]:
        """Every notification as it arrives (``async for``); ends when the connection closes."""
        return self._notes_receive

    async def aclose(self) -> None:
        await self._stream.aclose()

    # -- internals -------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self._stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise self._connection.closed or ControlError(
                    f"lost the connection to the daemon on {self.address}: {exc}"
                ) from None

    async def _read_loop(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while self._connection.closed is None:
                try:
                    data = await self._stream.receive(READ_SIZE)
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    break
                for event in self._connection.receive_data(data):
                    self._deliver(event)
        finally:
            self._deliver(self._connection.receive_eof())
            self._notes_send.close()

    def _deliver(self, event: ClientEvent) -> None:
        if isinstance(event, Notification):
            self._offer(event)
        elif isinstance(event, Response):
            assert isinstance(event.id, int)  # the connection hands out answers to our calls only
            self._waiters[event.id].resolve(event)
        else:  # Closed: every waiting call ends with the connection's error
            for waiter in self._waiters.values():
                waiter.event.set()

    def _offer(self, note: Notification) -> None:
        try:
            self._notes_send.send_nowait(note)
        except anyio.WouldBlock:
            # Keep the newest: drop the oldest queued notification.
            with suppress(anyio.WouldBlock):
                self._notes_receive.receive_nowait()
            self.dropped_locally += 1
            try:
                self._notes_send.send_nowait(note)
            except anyio.WouldBlock:
                self.dropped_locally += 1
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _unreachable(address: str, exc: BaseException) -> DaemonUnreachable:
    if isinstance(exc, FileNotFoundError):
        why = "no socket there"
    elif isinstance(exc, ConnectionRefusedError):
        why = "nothing is listening (a stale socket from a stopped daemon?)"
    elif isinstance(exc, PermissionError):
        return DaemonUnreachable(
            f"permission denied on the control socket {address}",
            hint="the daemon runs as another user: run as that user or as root",
        )
    elif isinstance(exc, TimeoutError):
        why = "it did not accept in time"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return DaemonUnreachable(f"no candlewick daemon answers on {address} ({why})", hint=START_HINT)
