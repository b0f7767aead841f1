"""The control server: a Unix socket (and optionally loopback TCP) speaking the control protocol.

A daemon-owned :class:`~candlewick.plugin.Service`. It accepts connections and runs each
as a :class:`~candlewick.control.session.Session` (whose
:class:`~candlewick.control.server_connection.ServerConnection` holds the protocol's rules),
builds the method table (:class:`~candlewick.control.builtin.BuiltinMethods` and the
plugins' handlers), and fans ``stats`` (every second), ``events`` (as published) and
``logs`` out to subscribers without ever waiting for a client.

Who gets in: on the Unix socket, peers whose uid (``SO_PEERCRED``) is the daemon's or root;
on TCP, clients whose first call is ``hello`` with the token from ``[control] token_file``
(checked by the connection).

Logging: INFO for listening and stopping; DEBUG per connection; WARNING for refused peers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Final

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, SocketStream, TaskStatus

from candlewick.control import protocol as p
from candlewick.control import sockstream
from candlewick.control.builtin import CONTROL_SERVICE, BuiltinMethods
from candlewick.control.dispatch import MethodTable
from candlewick.control.logtap import LogTap
from candlewick.control.methods import ControlHost, Handler, ServiceHost
from candlewick.control.outbox import DEFAULT_MAX_NOTIFICATIONS
from candlewick.control.server_connection import SUBSCRIPTION_METHODS, TOPICS, TopicsChanged
from candlewick.control.session import Session, linger_close
from candlewick.control.socketfile import SocketLock, bind_unix, peer_uid
from candlewick.control.views import stats_view
from candlewick.errors import ConfigError
from candlewick.plugin import ComponentContext, Service
from candlewick.runtime import names
from candlewick.runtime.telemetry import Event

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_CLIENTS", "STATS_PERIOD", "TOPICS", "ControlServer", "Session", "parse_listen"]

#: Seconds between two ``stats`` notifications.
STATS_PERIOD: Final = 1.0
#: Seconds between two deliveries of collected log records.
LOGS_PERIOD: Final = 0.2
#: Connections served at once (Unix and TCP together); more are answered BUSY and closed.
DEFAULT_MAX_CLIENTS: Final = 256


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
        self._tap = LogTap()
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
        table = MethodTable()
        table.add_methods(BuiltinMethods(self.host, socket=str(self.socket_path), method_names=self.method_names))
        if self._plugin_methods is not None:
            table.update(self._plugin_methods())
        return table

    def method_names(self) -> list[str]:
        return sorted([*self.methods.names(), *SUBSCRIPTION_METHODS])

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
        session = Session(
            self, stream, peer=peer, authenticated=unix, token=self.token, max_notifications=self.max_notifications
        )
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

    # -- notifications ---------------------------------------------------------------------

    def count_request(self, method: str) -> None:
        self._requests.inc(method=method)

    def count_dropped(self) -> None:
        self._dropped.inc()

    def topics_changed(self, session: Session, change: TopicsChanged) -> None:
        """Wake the loops a new subscriber needs; it gets the current stats and past events at once."""
        self.subscriptions_changed()
        if "stats" in change.added:
            session.push(p.encode_notification("stats", stats_view(self.host)))
        if change.replay:
            for event in self.host.telemetry.events.recent(change.replay):
                session.push(p.encode_notification("events", event.to_json()))

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
                    if session.connection.wants_log(levelno):
                        session.push(data)


def build_control_server(daemon: ServiceHost) -> ControlServer:
    """The control server of ``daemon``."""
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
