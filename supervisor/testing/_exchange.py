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

import json
import logging
import math
import random
import ssl
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup, TaskStatus
from anyio.streams.tls import TLSListener

from candlewick.model import INTERVALS, Candle
from candlewick.plugins.hyperliquid.protocol import GREETING
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.testing._http import BadHttp, HttpRequest, read_request, write_response
from candlewick.testing._market import DEFAULT_COINS, CoinSpec, MarketModel
from candlewick.testing._websocket import ServerWebSocket, WebSocketClosed

__all__ = ["ExchangeStats", "FakeExchange", "Faults"]

log = logging.getLogger(__name__)

#: The exchange keeps this many candles per market and returns at most this many per response.
RETENTION = 5000
MAX_SUBSCRIPTIONS = 1000
#: Weight of every info request this fake serves (candleSnapshot adds one per 60 rows).
BASE_WEIGHT = 20
DESERIALIZE_ERROR = b"Failed to deserialize the JSON body into the target type"
GARBAGE: tuple[str, ...] = (
    "this is not json",
    '{"channel":"candle","data":{"t":"soon"',
    '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"1m","o":1.5,"c":"x","h":"1","l":"1","v":"1","n":1}}',
    '{"channel":"candle","data":[]}',
    '{"channel":"error","data":{"not":"a string"}}',
    "[1,2,3]",
    '{"data":"no channel"}',
)


@dataclass
class Faults:
    """Switches tests flip while the exchange runs."""

    #: Every websocket goes silent (no candles, acks or pongs) while set; TCP stays open.
    stall: bool = False
    #: Each candle push is sent twice.
    duplicates: bool = False
    #: After each push, the previous (older) version of that candle is sent again.
    out_of_order: bool = False
    #: The last trades of every candle are never pushed: the websocket's final version is partial.
    miss_final_push: bool = False
    #: Probability per push round and connection of one garbage frame.
    garbage_rate: float = 0.0
    #: The next N REST requests are answered 429 with body ``null``.
    rate_limit_requests: int = 0
    #: The next N REST requests are answered 500.
    server_error_requests: int = 0
    #: Items per ``candleSnapshot`` response (5000; set 500 to mimic the generic docs note).
    page_limit: int = RETENTION
    #: New TCP connections are closed at once.
    refuse_connections: bool = False
    #: Websocket upgrades are answered 503 while REST keeps working (a partial outage).
    refuse_websockets: bool = False
    #: Subscriptions to these coins are refused with ``Invalid subscription {...}``.
    reject_coins: set[str] = field(default_factory=set)


@dataclass
class ExchangeStats:
    """What the exchange saw, for assertions."""

    ws_connections: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    pings: int = 0
    candle_frames: int = 0
    garbage_frames: int = 0
    rest_requests: int = 0
    rest_by_type: dict[str, int] = field(default_factory=dict)
    rest_status: dict[int, int] = field(default_factory=dict)
    rest_weight: int = 0
    rate_limited: int = 0


class _Client:
    """One websocket client of the fake."""

    def __init__(self, ws: ServerWebSocket, number: int, now: float) -> None:
        self.ws = ws
        self.number = number
        self.subs: dict[tuple[str, str], None] = {}
        self.pushed: dict[tuple[str, str], Candle] = {}
        self.last_recv = now
        self.stalled = False
        self.scope: anyio.CancelScope | None = None
        self.dropped = False


def _ws_candle(c: Candle) -> dict[str, Any]:
    return {
        "t": c.open_time, "T": c.close_time, "s": c.coin, "i": c.interval,
        "o": c.open, "c": c.close, "h": c.high, "l": c.low, "v": c.volume, "n": c.trades,
    }  # fmt: skip


def _rest_candle(c: Candle) -> dict[str, Any]:
    return dict(sorted(_ws_candle(c).items()))


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


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
        self._clients: set[_Client] = set()
        self._numbers = 0
        self._rng = random.Random(seed)
        self._bucket = float(weight_per_minute or 0)
        self._bucket_stamp = self.clock.monotonic()
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
        status, body, ctype = self._info(req.body)
        self.stats.rest_status[status] = self.stats.rest_status.get(status, 0) + 1
        return status, body, ctype

    # -- REST --------------------------------------------------------------------------------

    def _refill(self) -> None:
        if self.weight_per_minute is None:
            return
        now = self.clock.monotonic()
        self._bucket = min(
            self.weight_per_minute, self._bucket + (now - self._bucket_stamp) * self.weight_per_minute / 60.0
        )
        self._bucket_stamp = now

    def _info(self, raw: bytes) -> tuple[int, bytes, str]:
        self.stats.rest_requests += 1
        faults = self.faults
        if faults.rate_limit_requests > 0:
            faults.rate_limit_requests -= 1
            self.stats.rate_limited += 1
            return 429, b"null", "application/json"
        if faults.server_error_requests > 0:
            faults.server_error_requests -= 1
            return 500, b"internal server error", "text/plain"
        self._refill()
        if self.weight_per_minute is not None and self._bucket < BASE_WEIGHT:
            self.stats.rate_limited += 1
            return 429, b"null", "application/json"
        try:
            body = json.loads(raw)
            kind = body["type"]
            if not isinstance(kind, str):
                raise TypeError(kind)
        except (ValueError, KeyError, TypeError):
            return 422, DESERIALIZE_ERROR, "text/plain"
        self.stats.rest_by_type[kind] = self.stats.rest_by_type.get(kind, 0) + 1
        if kind == "meta":
            result: Any = self._meta(body.get("dex"))
            weight = BASE_WEIGHT
        elif kind == "spotMeta":
            result = self._spot_meta()
            weight = BASE_WEIGHT
        elif kind == "candleSnapshot":
            parsed = self._snapshot_request(body.get("req"))
            if parsed is None:
                return 422, DESERIALIZE_ERROR, "text/plain"
            result = [_rest_candle(c) for c in self.snapshot(*parsed)]
            weight = BASE_WEIGHT + math.ceil(len(result) / 60)
        else:
            return 422, DESERIALIZE_ERROR, "text/plain"
        self.stats.rest_weight += weight
        if self.weight_per_minute is not None:
            self._bucket -= weight
        return 200, _compact(result).encode(), "application/json"

    def _meta(self, dex: object) -> dict[str, Any]:
        if dex:
            return {"universe": [], "marginTables": []}
        universe = [
            {"name": c.name, "szDecimals": c.sz_decimals, "maxLeverage": 50}
            for c in self.model.coins
            if c.kind == "perp"
        ]
        return {"universe": universe, "marginTables": []}

    def _spot_meta(self) -> dict[str, Any]:
        tokens: list[dict[str, Any]] = [
            {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
             "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True,
             "evmContract": None, "fullName": None},
        ]  # fmt: skip
        universe: list[dict[str, Any]] = []
        for k, c in enumerate(c for c in self.model.coins if c.kind == "spot"):
            if c.name.startswith("@"):
                index = int(c.name[1:])
                base = {"@107": "HYPE"}.get(c.name, f"TOKEN{index}")
            else:
                base = c.name.split("/")[0]
                index = k
            token_index = len(tokens)
            tokens.append(
                {"name": base, "szDecimals": c.sz_decimals, "weiDecimals": 8, "index": token_index,
                 "tokenId": f"0x{token_index:032x}", "isCanonical": True, "evmContract": None, "fullName": None}
            )  # fmt: skip
            universe.append({"name": c.name, "tokens": [token_index, 0], "index": index, "isCanonical": True})
        return {"tokens": tokens, "universe": universe}

    @staticmethod
    def _snapshot_request(req: object) -> tuple[str, str, int, int | None] | None:
        if not isinstance(req, dict):
            return None
        coin, interval = req.get("coin"), req.get("interval")
        start, end = req.get("startTime"), req.get("endTime")
        if not isinstance(coin, str) or interval not in INTERVALS:
            return None
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            return None
        if end is not None and (not isinstance(end, int) or isinstance(end, bool) or end < 0):
            return None
        return coin, str(interval), start, end

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
        client = _Client(ws, self._numbers, self.clock.monotonic())
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

    async def _reader(self, client: _Client) -> None:
        while True:
            text = await client.ws.recv()
            client.last_recv = self.clock.monotonic()
            await self._on_message(client, text)

    def _silent(self, client: _Client) -> bool:
        return client.stalled or self.faults.stall

    async def _idle_watch(self, client: _Client, scope: anyio.CancelScope) -> None:
        while True:
            await self.clock.sleep(min(1.0, self.idle_timeout / 4))
            if self.clock.monotonic() - client.last_recv > self.idle_timeout:
                client.dropped = True
                scope.cancel()
                return

    async def _send(self, client: _Client, obj: Any) -> None:
        if not self._silent(client):
            await client.ws.send_text(_compact(obj))

    async def _error(self, client: _Client, message: str) -> None:
        await self._send(client, {"channel": "error", "data": message})

    async def _on_message(self, client: _Client, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            await self._error(client, f"Error parsing JSON into valid websocket request: {text}")
            return
        method = msg.get("method")
        if method == "ping":
            self.stats.pings += 1
            await self._send(client, {"channel": "pong"})
            return
        if method not in ("subscribe", "unsubscribe"):
            await self._error(client, f"Error parsing JSON into valid websocket request: {text}")
            return
        sub = msg.get("subscription")
        if (
            not isinstance(sub, dict)
            or sub.get("type") != "candle"
            or not isinstance(sub.get("coin"), str)
            or sub.get("interval") not in INTERVALS
        ):
            await self._error(client, f"Error parsing JSON into valid websocket request: {text}")
            return
        coin, interval = sub["coin"], str(sub["interval"])
        echo = {"type": "candle", "coin": coin, "interval": interval}
        reordered = _compact({"type": "candle", "interval": interval, "coin": coin})
        key = (coin, interval)
        if method == "subscribe":
            self.stats.subscribes += 1
            if self.model.coin(coin) is None or coin in self.faults.reject_coins:
                await self._error(client, f"Invalid subscription {_compact(echo)}")
            elif key in client.subs:
                await self._error(client, f"Already subscribed: {reordered}")
            elif len(client.subs) >= MAX_SUBSCRIPTIONS:
                await self._error(client, f"Cannot subscribe to more than {MAX_SUBSCRIPTIONS} channels.")
            else:
                client.subs[key] = None
                await self._send(
                    client, {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": echo}}
                )
        else:
            self.stats.unsubscribes += 1
            if key not in client.subs:
                await self._error(client, f"Already unsubscribed: {reordered}")
            else:
                del client.subs[key]
                client.pushed.pop(key, None)
                await self._send(
                    client, {"channel": "subscriptionResponse", "data": {"method": "unsubscribe", "subscription": echo}}
                )

    async def _pusher(self, client: _Client) -> None:
        while True:
            await self.clock.sleep(self.push_interval)
            if self._silent(client):
                continue
            now = self.now_ms()
            for key in list(client.subs):
                for frame in self._updates(client, key, now):
                    await client.ws.send_text(frame)
                    self.stats.candle_frames += 1
            if self.faults.garbage_rate and self._rng.random() < self.faults.garbage_rate:
                await client.ws.send_text(self._rng.choice(GARBAGE))
                self.stats.garbage_frames += 1

    def _updates(self, client: _Client, key: tuple[str, str], now: int) -> list[str]:
        coin, interval = key
        model = self.model
        last = client.pushed.get(key)
        versions: list[Candle] = []
        current_t = model.open_time(interval, now)
        missing_final = self.faults.miss_final_push
        if last is not None and last.open_time < current_t and not missing_final:
            final = model.candle(coin, interval, last.open_time)
            if final is not None and final.trades != last.trades:
                versions.append(final)  # the last trades of the previous candle, pushed late
        state = model.state(coin, interval, now)
        if state is not None and missing_final:
            final = model.candle(coin, interval, state.open_time)
            if final is not None and state.trades >= final.trades - max(1, final.trades // 10):
                state = None  # the last tenth of the trades never reaches the websocket
        if state is not None and (last is None or (last.open_time, last.trades) != (state.open_time, state.trades)):
            versions.append(state)
        frames: list[str] = []
        for version in versions:
            frame = _compact({"channel": "candle", "data": _ws_candle(version)})
            frames.append(frame)
            if self.faults.duplicates:
                frames.append(frame)
            if self.faults.out_of_order and last is not None:
                frames.append(_compact({"channel": "candle", "data": _ws_candle(last)}))
            last = version
        if last is not None:
            client.pushed[key] = last
        return frames
