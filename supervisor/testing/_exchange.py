"""The fake Hyperliquid exchange: one loopback port serving ``POST /info`` and the ``/ws`` websocket.

It speaks the wire format of the reference (``/work/shared/reference/hyperliquid-api.md``):
the plain-text greeting, ``subscriptionResponse`` echoes, a candle as one object per frame,
``pong``, error strings (``Already subscribed: {...}``, ``Invalid subscription {...}``),
``candleSnapshot`` arrays with overlap semantics and the 5000-candle window, ``meta`` and
``spotMeta``, 429 with body ``null`` and 422 with a text body; every HTTP response carries a
``Date`` header from the exchange's clock, as the real one does. Candles come from a
:class:`~candlewick.testing._market.MarketModel` in (optionally scaled) real time, and
:meth:`FakeExchange.truth` says what every closed candle is, so tests can compare a database
with what the exchange served. Faults are switched at runtime through :attr:`FakeExchange.faults`
and the action methods. Runs on asyncio and trio. The websocket is served by the ``websockets``
library's server protocol (:mod:`candlewick.testing._websocket`), not by the live source's own
client code, so the two check each other.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import ssl
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup, TaskStatus
from anyio.streams.tls import TLSListener

from candlewick.model import Candle
from candlewick.plugins.hyperliquid.protocol import GREETING
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.testing._faults import GARBAGE, RETENTION, ExchangeStats, Faults
from candlewick.testing._http import BadHttp, HttpRequest, read_request, write_response
from candlewick.testing._info import InfoEndpoint
from candlewick.testing._limits import IpLimits
from candlewick.testing._market import DEFAULT_COINS, CoinSpec, MarketModel
from candlewick.testing._subscriptions import WsClient, candle_frames, compact, replies
from candlewick.testing._websocket import ServerWebSocket, WebSocketClosed

__all__ = ["ExchangeStats", "FakeExchange", "Faults"]

log = logging.getLogger(__name__)


class FakeExchange:
    """A Hyperliquid look-alike on loopback.

    Use ``async with FakeExchange(seed=1) as ex:`` or ``await tg.start(ex.serve)``; then point
    a client at :attr:`ws_url` and :attr:`rest_url`.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        coins: tuple[CoinSpec, ...] = DEFAULT_COINS,
        clock: Clock | None = None,
        push_interval: float = 0.5,
        idle_timeout: float = 60.0,
        weight_per_minute: float | None = None,
        greeting: bool = True,
        retention: int = RETENTION,
        ssl_context: ssl.SSLContext | None = None,
        grid_shift: dict[str, int] | None = None,
        enforce_limits: bool = True,
    ) -> None:
        #: ``grid_shift`` moves the grid of some intervals (ms): an exchange that aligns them otherwise.
        self.model = MarketModel(seed=seed, coins=coins, grid_shift=dict(grid_shift or {}))
        self.host = host
        self.port = port
        self.clock: Clock = clock or SystemClock()
        self.push_interval = push_interval
        self.idle_timeout = idle_timeout
        self.weight_per_minute = weight_per_minute
        self.greeting = greeting
        self.retention = retention
        #: Serve ``wss://`` and ``https://`` with this server-side context (``None``: plain).
        self.ssl_context = ssl_context
        self.faults = Faults()
        self.stats = ExchangeStats()
        self._clients: set[WsClient] = set()
        #: The per-IP websocket limits (every client is on loopback: one IP); ``enforce_limits``
        #: false only counts violations.
        self.limits = IpLimits(
            subscriptions=lambda: sum(len(c.subs) for c in self._clients),
            connections=lambda: len(self._clients),
            enforce=enforce_limits,
        )
        self._numbers = 0
        self._rng = random.Random(seed)
        self._info = InfoEndpoint(
            model=self.model,
            faults=self.faults,
            stats=self.stats,
            clock=self.clock,
            weight_per_minute=weight_per_minute,
            snapshot=self.snapshot,
        )
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._serving: anyio.CancelScope | None = None
        self._ready = anyio.Event()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.ssl_context else 'ws'}://{self.host}:{self.port}/ws"

    @property
    def rest_url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # -- truth and faults --------------------------------------------------------------------

    @property
    def sparse_coins(self) -> set[str]:
        """Coins whose 1m candles sometimes have no trades (such candles do not exist)."""
        return self.model.sparse

    def truth(self, coin: str, interval: str, start: int, end: int) -> list[Candle]:
        """Every closed candle of a market overlapping ``[start, end]`` (ms), as the exchange has it."""
        now = self.now_ms()
        out = []
        for t in self.model.open_times(interval, start, end):
            if self.model.next_open(interval, t) > now:
                break
            c = self.model.candle(coin, interval, t)
            if c is not None:
                out.append(c)
        return out

    def current(self, coin: str, interval: str) -> Candle | None:
        """The open candle as it stands now (``None`` before its first trade)."""
        return self.model.state(coin, interval, self.now_ms())

    @property
    def connections(self) -> int:
        """Open websocket connections."""
        return len(self._clients)

    def list_coin(self, spec: CoinSpec) -> None:
        """List a coin now (or change one): ``meta``/``spotMeta`` show it from now on."""
        self.model.update(spec)

    def delist_coin(self, name: str) -> None:
        """Delist a coin now: ``meta`` flags it ``isDelisted`` and it trades no more."""
        spec = self.model.coin(name)
        if spec is None:
            raise KeyError(name)
        self.model.update(dataclasses.replace(spec, delisted_at=self.now_ms()))

    def subscriptions(self) -> list[tuple[str, str]]:
        """Subscriptions over every open connection."""
        return [s for c in self._clients for s in c.subs]

    def drop_connections(self) -> int:
        """Cut every websocket without a closing handshake; returns how many."""
        clients = list(self._clients)
        for client in clients:
            client.dropped = True
            if client.scope is not None:
                client.scope.cancel()
        return len(clients)

    def stall_connections(self) -> int:
        """Make every open websocket go silent for good (half-open); new ones are healthy."""
        for client in self._clients:
            client.stalled = True
        return len(self._clients)

    async def inject_garbage(self, frames: tuple[str, ...] = GARBAGE) -> None:
        """Send every garbage frame to every open websocket now."""
        for client in list(self._clients):
            for text in frames:
                try:
                    await client.ws.send_text(text)
                    self.stats.garbage_frames += 1
                except WebSocketClosed:
                    break

    # -- lifecycle ---------------------------------------------------------------------------

    async def serve(self, *, task_status: TaskStatus[Self] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled (or :meth:`go_offline`); ``task_status.started(self)`` once bound."""
        with anyio.CancelScope() as scope:
            self._serving = scope
            tcp = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
            self.port = int(tcp.extra(SocketAttribute.local_port))
            listener: Listener[Any] = tcp
            if self.ssl_context is not None:
                listener = TLSListener(tcp, self.ssl_context, standard_compatible=False)
            # The listener closes first, so new connections are refused while the open ones finish.
            async with anyio.create_task_group() as tg, listener:
                self._ready.set()
                task_status.started(self)
                await listener.serve(self._handle, task_group=tg)

    def go_offline(self) -> None:
        """Vanish from the network: close the listening socket and every connection.

        New connections are refused at the TCP level (as when the network is down), unlike
        ``faults.refuse_connections``, which accepts and then hangs up. Needs ``async with``.
        """
        if self._serving is not None:
            self._serving.cancel()
            self._serving = None

    async def go_online(self) -> None:
        """Listen again on the same port after :meth:`go_offline`."""
        if self._tg is None:
            raise RuntimeError("go_online needs the exchange entered with 'async with'")
        if self._serving is None:
            await self._tg.start(self.serve)

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        tg: TaskGroup = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)
        await tg.start(self.serve)
        self._stack, self._tg = stack, tg
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack, self._tg = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # -- connections -------------------------------------------------------------------------

    async def _handle(self, stream: ByteStream) -> None:
        try:
            async with stream:
                if self.faults.refuse_connections:
                    return
                buffered = b""
                while True:
                    try:
                        req = await read_request(stream, buffered)
                    except BadHttp as exc:
                        await write_response(
                            stream,
                            400,
                            str(exc).encode(),
                            content_type="text/plain",
                            close=True,
                            date=self.clock.time(),
                        )
                        return
                    if req is None:
                        return
                    if req.is_websocket:
                        if self.faults.refuse_websockets:
                            await write_response(
                                stream,
                                503,
                                b"unavailable",
                                content_type="text/plain",
                                close=True,
                                date=self.clock.time(),
                            )
                            return
                        if req.path.split("?")[0] != "/ws":
                            await write_response(
                                stream, 404, b"not found", content_type="text/plain", close=True, date=self.clock.time()
                            )
                            return
                        if not self.limits.connect(self.clock.monotonic()):
                            await write_response(
                                stream, 429, b"Too many connections", content_type="text/plain", close=True,
                                date=self.clock.time(),
                            )  # fmt: skip
                            return
                        await self._serve_ws(stream, req)
                        return
                    status, body, ctype = self._route(req)
                    await write_response(
                        stream, status, body, content_type=ctype, close=not req.keep_alive, date=self.clock.time()
                    )
                    if not req.keep_alive:
                        return
                    buffered = req.leftover
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, WebSocketClosed, OSError):
            return
        except Exception:  # one broken connection must not take the server down
            log.exception("fake exchange: connection handler failed")

    def _route(self, req: HttpRequest) -> tuple[int, bytes, str]:
        if req.path.split("?")[0] != "/info":
            return 404, b"not found", "text/plain"
        if req.method != "POST":
            return 405, b"use POST", "text/plain"
        status, body, ctype = self._info.answer(req.body)
        self.stats.rest_status[status] = self.stats.rest_status.get(status, 0) + 1
        return status, body, ctype

    # -- REST --------------------------------------------------------------------------------

    def snapshot(self, coin: str, interval: str, start: int, end: int | None) -> list[Candle]:
        """What ``candleSnapshot`` returns: candles overlapping ``[start, end]`` within the window."""
        spec = self.model.coin(coin)
        if spec is None:
            return []
        now = self.now_ms()
        current = self.model.open_time(interval, now)
        last = min(end if end is not None else now, now)
        floor = self.model.step_back(interval, current, self.retention - 1)
        t = max(self.model.open_time(interval, start), floor, self.model.open_time(interval, spec.listed_at))
        out: list[Candle] = []
        limit = self.faults.page_limit
        while t <= last and len(out) < limit:
            c = self.model.state(coin, interval, now) if t == current else self.model.candle(coin, interval, t)
            if c is not None:
                out.append(c)
            t = self.model.next_open(interval, t)
        return out

    # -- websocket ---------------------------------------------------------------------------

    async def _serve_ws(self, stream: ByteStream, req: HttpRequest) -> None:
        ws = await ServerWebSocket.accept(stream, req.head + req.leftover)
        self._numbers += 1
        client = WsClient(ws, self._numbers, self.clock.monotonic())
        self._clients.add(client)
        self.stats.ws_connections += 1
        try:
            if self.greeting:
                await ws.send_text(GREETING)
            with anyio.CancelScope() as scope:
                client.scope = scope
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._guard, scope, self._pusher(client))
                    tg.start_soon(self._guard, scope, self._idle_watch(client, scope))
                    tg.start_soon(self._guard, scope, self._reader(client))
        except WebSocketClosed:
            pass
        finally:
            self._clients.discard(client)
            if client.dropped:
                await ws.abort()
            else:
                await ws.aclose()

    @staticmethod
    async def _guard(scope: anyio.CancelScope, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except WebSocketClosed:
            scope.cancel()

    async def _reader(self, client: WsClient) -> None:
        while True:
            text = await client.ws.recv()
            client.last_recv = self.clock.monotonic()
            await self._on_message(client, text)

    def _silent(self, client: WsClient) -> bool:
        return client.stalled or self.faults.stall

    async def _idle_watch(self, client: WsClient, scope: anyio.CancelScope) -> None:
        while True:
            await self.clock.sleep(min(1.0, self.idle_timeout / 4))
            if self.clock.monotonic() - client.last_recv > self.idle_timeout:
                client.dropped = True
                scope.cancel()
                return

    async def _send(self, client: WsClient, obj: Any) -> None:
        if not self._silent(client):
            await client.ws.send_text(compact(obj))

    async def _on_message(self, client: WsClient, text: str) -> None:
        now = (self.clock.monotonic(), self.now_ms())
        for reply in replies(client, text, self.model, self.faults, self.stats, limits=self.limits, now=now):
            await self._send(client, reply)

    async def _pusher(self, client: WsClient) -> None:
        while True:
            await self.clock.sleep(self.push_interval)
            if self._silent(client):
                continue
            now = self.now_ms()
            for key in list(client.subs):
                for frame in candle_frames(client, key, now, self.model, self.faults):
                    await client.ws.send_text(frame)
                    self.stats.candle_frames += 1
            if self.faults.garbage_rate and self._rng.random() < self.faults.garbage_rate:
                await client.ws.send_text(self._rng.choice(GARBAGE))
                self.stats.garbage_frames += 1
