"""The control server: a Unix socket (and optionally loopback TCP) speaking the control protocol.

A daemon-owned :class:`~candlewick.plugin.Service`. Each connection is a :class:`Session`
with a reader (bytes into :class:`~candlewick.control.protocol.ServerProtocol`; methods that
never wait are answered right there, the others run as tasks, at most ``MAX_INFLIGHT`` at
once), a writer (its :class:`Outbox`), and the topics it subscribed to. The server fans
``stats`` (every second), ``events`` (as published) and ``logs`` out to subscribers without
ever waiting for a client.

Who gets in: on the Unix socket, peers whose uid (``SO_PEERCRED``) is the daemon's or root;
on TCP, clients whose first call is ``hello`` with the token from ``[control] token_file``.

Logging: INFO for listening and stopping; DEBUG per connection; WARNING for refused peers.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, SocketStream, TaskGroup, TaskStatus

from candlewick.control import protocol as p
from candlewick.control import sockstream
from candlewick.control.builtin import CONTROL_SERVICE, INLINE_METHODS, builtin_methods
from candlewick.control.dispatch import MethodTable
from candlewick.control.methods import ControlHost, Handler
from candlewick.control.outbox import DEFAULT_MAX_NOTIFICATIONS, Outbox
from candlewick.control.socketfile import SocketLock, bind_unix, peer_uid
from candlewick.control.views import stats_view
from candlewick.errors import ConfigError
from candlewick.plugin import ComponentContext, Service
from candlewick.runtime import names
from candlewick.runtime.telemetry import Event

if TYPE_CHECKING:
    from candlewick.runtime.daemon import Daemon

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_CLIENTS", "STATS_PERIOD", "TOPICS", "ControlServer", "Session", "parse_listen"]

TOPICS: Final = ("events", "logs", "stats")
#: Seconds between two ``stats`` notifications.
STATS_PERIOD: Final = 1.0
#: Seconds between two deliveries of collected log records.
LOGS_PERIOD: Final = 0.2
#: Connections served at once (Unix and TCP together); more are answered BUSY and closed.
DEFAULT_MAX_CLIENTS: Final = 256
#: Requests of one connection running at once; past it the connection is not read.
MAX_INFLIGHT: Final = 16
#: Most past events ``subscribe`` replays (``history``); below a client's notification queue.
MAX_HISTORY: Final = 200
#: Log records held between deliveries; older ones are dropped.
LOG_BACKLOG: Final = 1000
#: How long a closing connection may take to flush its last answers.
FLUSH_TIMEOUT: Final = 2.0
#: How long requests still running may take once the peer stopped sending.
HANDLER_GRACE: Final = 30.0
READ_SIZE: Final = 65536
#: How long a closing connection waits for the peer to read its last answer and close.
LINGER: Final = 1.0
#: Most bytes discarded from a peer while lingering.
LINGER_MAX_BYTES: Final = 4 * 1024 * 1024
_LEVELS: Final = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


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


def parse_listen(value: str, *, key: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` -> ``("127.0.0.1", 9464)``; only loopback addresses are allowed."""
    host, sep, port_s = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_s.isdigit() or not 0 <= int(port_s) < 65536:
        raise ConfigError(f"{key}: {value!r} is not HOST:PORT", hint='e.g. "127.0.0.1:9465"')
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"{key}: {host!r} is not a loopback address",
            hint="listen on 127.0.0.1 or ::1 and tunnel over SSH for remote access",
        )
    return host, int(port_s)


class _LogTap(logging.Handler):
    """Collects log records for ``logs`` subscribers; safe from any thread, never blocks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.active = False
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_BACKLOG)
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.active:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        entry = {"time": record.created, "level": record.levelname, "logger": record.name, "message": message}
        entry["levelno"] = record.levelno
        with self._lock:
            self.records.append(entry)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            out = list(self.records)
            self.records.clear()
        return out


class Session:
    """One client connection."""

    def __init__(
        self,
        server: ControlServer,
        stream: ByteStream,
        *,
        peer: str,
        authenticated: bool,
        max_notifications: int = DEFAULT_MAX_NOTIFICATIONS,
    ) -> None:
        self.server = server
        self.stream = stream
        self.peer = peer
        self.authenticated = authenticated
        self.topics: set[str] = set()
        self.log_level = logging.INFO
        self.outbox = Outbox(max_notifications=max_notifications)
        self.protocol = p.ServerProtocol()
        self._inflight = anyio.Semaphore(MAX_INFLIGHT)
        self._log = logging.LoggerAdapter(log, {"peer": peer})

    def push(self, data: bytes) -> None:
        """Offer a notification (never waits)."""
        if not self.outbox.put_notification(data):
            self.server.count_dropped()

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
        while True:
            try:
                data = await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            for event in self.protocol.receive_data(data):
                if isinstance(event, p.LineTooLong):
                    self._log.warning("client %s sent a line over %d bytes; closing", self.peer, event.limit)
                    await self.outbox.put_reply(event.reply)
                    return
                if isinstance(event, p.Invalid):
                    await self.outbox.put_reply(event.reply)
                    continue
                if not await self._handle(event, tg):
                    return

    async def _handle(self, request: p.Request, tg: TaskGroup) -> bool:
        """Route one request; False when the connection must close."""
        if not self.authenticated:
            return await self._authenticate(request, tg)
        if request.method in ("subscribe", "unsubscribe"):
            await self._subscription(request)
            return True
        if request.method in INLINE_METHODS:
            reply = await self.server.answer(request)
            if reply is not None:
                await self.outbox.put_reply(reply)
            return True
        await self._inflight.acquire()
        tg.start_soon(self._call, request)
        return True

    async def _call(self, request: p.Request) -> None:
        try:
            reply = await self.server.answer(request)
            if reply is not None:
                await self.outbox.put_reply(reply)
        finally:
            self._inflight.release()

    async def _authenticate(self, request: p.Request, tg: TaskGroup) -> bool:
        token = request.params.get("token")
        expected = self.server.token
        if request.method != "hello" or not isinstance(token, str) or expected is None:
            msg = "authenticate first: call hello with the token from [control] token_file"
        elif not hmac.compare_digest(token.encode(), expected.encode()):
            msg = "wrong token"
        else:
            self.authenticated = True
            await self._inflight.acquire()
            tg.start_soon(self._call, request)
            return True
        self._log.warning("TCP client %s refused: %s", self.peer, msg)
        await self.outbox.put_reply(p.encode_error(request.id, p.UNAUTHORIZED, msg))
        return False

    async def _subscription(self, request: p.Request) -> None:
        params = request.params
        raw = params.get("topics")
        if isinstance(raw, str):
            raw = [raw]
        bad = (
            "topics must be a list of " + ", ".join(TOPICS)
            if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw)
            else ""
        )
        unknown = sorted(set(raw) - set(TOPICS)) if not bad and isinstance(raw, list) else []
        if unknown:
            bad = f"unknown topics {', '.join(unknown)} (topics: {', '.join(TOPICS)})"
        level = params.get("level", "INFO")
        if not bad and (not isinstance(level, str) or level.upper() not in _LEVELS):
            bad = f"level must be one of {', '.join(_LEVELS)}, got {level!r}"
        history = params.get("history", 0)
        if not bad and (isinstance(history, bool) or not isinstance(history, int) or not 0 <= history <= MAX_HISTORY):
            bad = f"history must be an integer from 0 to {MAX_HISTORY}, got {history!r}"
        if bad:
            if not request.notify:
                await self.outbox.put_reply(p.encode_error(request.id, p.INVALID_PARAMS, bad))
            return
        assert isinstance(raw, list)
        assert isinstance(level, str)
        topics = set(raw)
        if request.method == "subscribe":
            new = topics - self.topics
            self.topics |= topics
            self.log_level = _LEVELS[level.upper()]
        else:
            new = set()
            self.topics -= topics
        self.server.subscriptions_changed()
        if not request.notify:
            await self.outbox.put_reply(p.encode_result(request.id, {"topics": sorted(self.topics)}))
        if "stats" in new:
            self.push(p.encode_notification("stats", stats_view(self.server.host)))
        if "events" in new and history:
            for event in self.server.host.telemetry.events.recent(history):
                self.push(p.encode_notification("events", event.to_json()))


class ControlServer(Service):
    """Serves the control socket for one daemon."""

    def __init__(
        self,
        ctx: ComponentContext[Any],
        host: ControlHost,
        *,
        socket_path: Path,
        plugin_methods: Callable[[], Mapping[str, Handler[Any]]] | None = None,
        tcp_listen: str | None = None,
        token_file: Path | None = None,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        max_notifications: int = DEFAULT_MAX_NOTIFICATIONS,
    ) -> None:
        super().__init__(ctx)
        self.host = host
        self.socket_path = socket_path
        self.max_clients = max_clients
        self.max_notifications = max_notifications
        self.sessions: set[Session] = set()
        self.token: str | None = None
        self.tcp_address: tuple[str, int] | None = None
        self.tcp_port: int | None = None
        self._plugin_methods = plugin_methods
        self._tcp = parse_listen(tcp_listen, key="control.tcp_listen") if tcp_listen else None
        if self._tcp is not None and token_file is None:
            raise ConfigError(
                "control.tcp_listen needs control.token_file",
                hint="put a long random token in a file only you can read",
            )
        self._token_file = token_file
        self._lock = SocketLock(socket_path)
        self._tap = _LogTap()
        self._stats_wanted: anyio.Event | None = None
        self._logs_wanted: anyio.Event | None = None
        self.methods = MethodTable()
        self._dropped = ctx.telemetry.metrics.counter(names.CONTROL_DROPPED, "Notifications dropped for slow clients")
        self._requests = ctx.telemetry.metrics.counter(names.CONTROL_REQUESTS, "Control requests answered", ("method",))
        ctx.telemetry.metrics.gauge(names.CONTROL_CLIENTS, "Clients connected to the control socket").set_function(
            lambda: float(len(self.sessions))
        )

    # -- lifecycle -------------------------------------------------------------------------

    def claim(self) -> None:
        """Take the socket's lock now; raises :class:`AddressInUse` if a live daemon owns it."""
        self._lock.acquire()

    def _build_methods(self) -> MethodTable:
        table = MethodTable(builtin_methods(self.host, socket=str(self.socket_path), method_names=self.method_names))
        if self._plugin_methods is not None:
            table.update(self._plugin_methods())
        return table

    def method_names(self) -> list[str]:
        return sorted([*self.methods.names(), "subscribe", "unsubscribe"])

    def _read_token(self) -> str:
        assert self._token_file is not None
        try:
            token = self._token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"control.token_file {str(self._token_file)!r} cannot be read: {exc.strerror}") from exc
        if len(token) < 16:
            raise ConfigError(f"control.token_file {str(self._token_file)!r} holds a token shorter than 16 characters")
        return token

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.claim()
        if not self.methods.names():
            self.methods = self._build_methods()
        sock = None
        inode: int | None = None
        try:
            sock = bind_unix(self.socket_path)
            inode = os.stat(self.socket_path).st_ino
            root = logging.getLogger()
            root.addHandler(self._tap)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._serve_unix, sock)
                    if self._tcp is not None:
                        self.token = self._read_token()
                        tcp = await anyio.create_tcp_listener(local_host=self._tcp[0], local_port=self._tcp[1])
                        self.tcp_port = int(tcp.extra(SocketAttribute.local_port))
                        self.tcp_address = (self._tcp[0], self.tcp_port)
                        tg.start_soon(self._serve_closing, tcp)
                    tg.start_soon(self._stats_loop)
                    tg.start_soon(self._events_loop)
                    tg.start_soon(self._logs_loop)
                    log.info("control socket listening on %s", self.socket_path)
                    task_status.started()
            finally:
                root.removeHandler(self._tap)
        finally:
            if sock is not None:
                if sock.fileno() >= 0:
                    anyio.notify_closing(sock)
                sock.close()
            self._remove_socket(inode)
            self._lock.release()

    def _remove_socket(self, inode: int | None) -> None:
        """Unlink the socket file if it is still the one this server bound."""
        if inode is None:
            return
        try:
            if os.stat(self.socket_path).st_ino == inode:
                os.unlink(self.socket_path)
        except OSError:
            pass

    async def _serve_unix(self, sock: socket.socket) -> None:
        async with anyio.create_task_group() as tg:
            while True:
                stream = await sockstream.accept(sock)
                tg.start_soon(partial(self._connection, stream, unix=True))

    async def _serve_closing(self, listener: Listener[SocketStream]) -> None:
        async with listener, anyio.create_task_group() as tg:
            await listener.serve(partial(self._connection, unix=False), task_group=tg)

    async def _connection(self, stream: ByteStream, *, unix: bool) -> None:
        raw = stream.extra(SocketAttribute.raw_socket, None)
        if unix:
            uid = peer_uid(raw) if raw is not None else None
            peer = f"uid {uid}" if uid is not None else "unknown peer"
            if uid is None or uid not in (os.geteuid(), 0):
                log.warning("control socket: refused %s (only uid %d and root may connect)", peer, os.geteuid())
                await self._refuse(
                    stream, p.UNAUTHORIZED, f"{peer} may not use this socket; only the daemon's user and root"
                )
                return
        else:
            remote = stream.extra(SocketAttribute.remote_address, ("?", 0))
            peer = f"tcp {remote[0]}:{remote[1]}"
        if len(self.sessions) >= self.max_clients:
            log.warning("control socket: refused %s, %d clients already connected", peer, self.max_clients)
            await self._refuse(stream, p.BUSY, f"too many clients ({self.max_clients}); try again later")
            return
        session = Session(self, stream, peer=peer, authenticated=unix, max_notifications=self.max_notifications)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self.subscriptions_changed()

    async def _refuse(self, stream: ByteStream, code: int, message: str) -> None:
        with anyio.move_on_after(1), contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await stream.send(p.encode_error(None, code, message))
        await linger_close(stream)

    # -- requests --------------------------------------------------------------------------

    async def answer(self, request: p.Request) -> bytes | None:
        """Run one request and return the reply line (None for a notification)."""
        try:
            result = await self.methods.call(request.method, request.params)
        except p.RpcError as err:
            if request.method in self.methods:
                self._requests.inc(method=request.method)
            return None if request.notify else p.encode_error(request.id, err.code, err.message, err.data)
        self._requests.inc(method=request.method)
        if request.notify:
            return None
        try:
            return p.encode_result(request.id, result)
        except (TypeError, ValueError) as exc:
            log.error("control method %s returned a value that is not JSON: %s", request.method, exc)
            return p.encode_error(request.id, p.INTERNAL_ERROR, f"{request.method} returned an unencodable result")

    # -- notifications ---------------------------------------------------------------------

    def count_dropped(self) -> None:
        self._dropped.inc()

    def subscribers(self, topic: str) -> list[Session]:
        return [s for s in self.sessions if topic in s.topics]

    def subscriptions_changed(self) -> None:
        if self._stats_wanted is not None and self.subscribers("stats"):
            self._stats_wanted.set()
        if self._logs_wanted is not None and self.subscribers("logs"):
            self._logs_wanted.set()
        self._tap.active = bool(self.subscribers("logs"))

    def broadcast(self, topic: str, params: Any) -> int:
        """Encode once, offer to every subscriber of ``topic``; returns how many got it."""
        sessions = self.subscribers(topic)
        if sessions:
            data = p.encode_notification(topic, params)
            for session in sessions:
                session.push(data)
        return len(sessions)

    async def _stats_loop(self) -> None:
        clock = self.ctx.clock
        while True:
            if not self.subscribers("stats"):
                self._stats_wanted = wanted = anyio.Event()
                await wanted.wait()
            await clock.sleep(STATS_PERIOD)
            if self.subscribers("stats"):
                self.broadcast("stats", stats_view(self.host))

    async def _events_loop(self) -> None:
        with self.host.telemetry.events.subscribe() as sub:
            async for event in sub:
                self._forward_event(event)

    def _forward_event(self, event: Event) -> None:
        self.broadcast("events", event.to_json())

    async def _logs_loop(self) -> None:
        while True:
            if not self._tap.active:
                self._logs_wanted = wanted = anyio.Event()
                await wanted.wait()
            await anyio.sleep(LOGS_PERIOD)
            records = self._tap.take()
            sessions = self.subscribers("logs")
            for record in records:
                levelno = record.pop("levelno")
                data = p.encode_notification("logs", record)
                for session in sessions:
                    if levelno >= session.log_level:
                        session.push(data)


def build_control_server(daemon: Daemon) -> ControlServer:
    """The control server of ``daemon`` (a :class:`~candlewick.runtime.daemon.Daemon`)."""
    settings = daemon.settings
    control = settings.control
    server = ControlServer(
        daemon.context(CONTROL_SERVICE, None),
        daemon,
        socket_path=control.socket_path(),
        plugin_methods=lambda: daemon.hooks.control_methods(daemon),
        tcp_listen=control.tcp_listen,
        token_file=control.token_file,
    )
    server.claim()
    return server
