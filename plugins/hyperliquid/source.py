"""The ``hyperliquid`` live source: websocket candles plus REST catch-up, self-healing.

Lifecycle of :class:`HyperliquidSource`:

1. Check the configured coins against ``meta``/``spotMeta`` (an unknown coin raises
   :class:`~candlewick.errors.SourceError` listing close matches; transient REST failures are
   retried with backoff). Then ``task_status.started()``.
2. Open one websocket per block of ``max_subscriptions_per_connection`` markets (one connection
   for any realistic setup) and run each as a :class:`Link`:

   - subscribe every market, then publish ``EV_CONNECTED`` (event ``source`` = this
     component's name; data ``markets`` as ``[coin, interval]`` pairs and ``disconnected_since``
     ms or ``None``) so gap repair can check the stored history; ``EV_DISCONNECTED`` when a
     connection is lost, and once when the very first attempt fails (gap repair then keeps
     the database complete over REST until the feed is up);
   - fetch over REST what the websocket cannot replay: ``backfill_on_start`` on the first
     connect, the period since the newest candle seen after a reconnect. Subscribing first
     means no hole opens between history and live data;
   - ping every ``ping_interval`` seconds; reconnect when neither a pong nor any frame arrives
     within ``pong_timeout`` (silent stalls happen);
   - reconnect with exponential backoff and full jitter, reset only after the connection stayed
     healthy ``healthy_after`` seconds, and resubscribe everything. While the server gives no
     answer at all (no TCP connection, or a hang-up before the HTTP response: no connection the
     exchange counts), the delay stays under ``reconnect_unreachable_max``: the feed is back
     within seconds of the exchange.

   Outbound messages of all connections share one bucket (1800 per minute, bursts of 1000) so
   repeated reconnects never exceed the exchange's 2000 messages per minute per IP.
3. Every candle (live or REST) passes the :class:`~candlewick.plugins.hyperliquid.closing.ClosingTracker`,
   which closes candles when a newer ``t`` arrives or ``T + close_grace`` passes on the
   exchange's clock, and never lets a candle go backwards.
4. Every candle the exchange sends is also checked against candlewick's grid
   (:class:`~candlewick.runtime.gridreport.GridReporter`, ``source.grid``): the first page of
   start-up history checks each market within seconds, every frame afterwards. A candle off
   the grid is stored all the same; its market shows a grid mismatch in health, and gap
   repair leaves it alone until the exchange's candles are back on the grid.

The exchange's clock is ``source.exchange`` (an
:class:`~candlewick.runtime.exchange_clock.ExchangeClock`, shared with the REST client): every
candle frame and every REST response's ``Date`` header measure how far the local clock is off,
so a host clock minutes ahead closes nothing early, and an NTP step while running changes
nothing. The offset is exported as ``candlewick_clock_offset_seconds``; a step is logged and
published as a ``clock.step`` event.

Markets can be added and removed while running.

For gap repair and backfill jobs, a running source exposes its REST client and the one
weight budget every REST caller shares: ``source.rest`` (a
:class:`~candlewick.plugins.hyperliquid.rest.HyperliquidRest`, ``None`` while not running;
``await source.rest.fetch_range(coin, interval, start_ms, end_ms, priority=Priority.REPAIR)``)
and ``source.budget``. Candles fetched that way go to the buffer through the closing tracker
with ``await source.ingest(candles)``. Telemetry (names from
:mod:`candlewick.runtime.names`): frames, candle updates, malformed frames, reconnects, last
frame time per market, newest candle per market, REST weight and requests.

Logging: WARNING for disconnects and retries, ERROR for refused subscriptions, DEBUG per
frame event; nothing per message at INFO.
"""

from __future__ import annotations

import logging
import math
import random
from contextlib import aclosing
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from candlewick.errors import SourceError
from candlewick.model import Candle, check_interval
from candlewick.plugin import ComponentContext, Source
from candlewick.plugins.hyperliquid.budget import Priority, WeightBudget
from candlewick.plugins.hyperliquid.closing import ClosingTracker
from candlewick.plugins.hyperliquid.config import MAX_SUBSCRIPTIONS, HyperliquidConfig
from candlewick.plugins.hyperliquid.protocol import (
    PING_FRAME,
    CandleUpdate,
    Greeting,
    Malformed,
    Pong,
    ServerError,
    SubscriptionAck,
    UnknownChannel,
    parse_frame,
    subscribe_frame,
    unsubscribe_frame,
)
from candlewick.plugins.hyperliquid.rest import HyperliquidRest, RestError, RestUnavailable
from candlewick.plugins.hyperliquid.wsconn import ConnectionLost, Unreachable, WebSocket, connect
from candlewick.runtime import names
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.gridreport import GridReporter

__all__ = [
    "MAX_CONNECTIONS",
    "HyperliquidSource",
    "Link",
]

log = logging.getLogger(__name__)

Market = tuple[str, str]
#: The documented per-IP connection limit.
MAX_CONNECTIONS = 10
#: Candles per market remembered for confirmation (older ones are left to gap repair).
MAX_UNCONFIRMED = 1000
#: Confirmations wait while less than this share of the REST burst is available.
CONFIRM_MIN_BUDGET = 0.5
#: Outbound websocket messages per minute we allow ourselves (the exchange allows 2000 per IP).
MESSAGES_PER_MINUTE = 1800
#: Messages that may go out at once (a reconnect resubscribing up to 1000 markets).
MESSAGES_BURST = 1000
#: Longest sleep of the clock-closing loop (it also wakes at the next known deadline).
CLOSER_MAX_SLEEP = 1.0
#: Log a malformed frame at WARNING the first time and then every this many.
MALFORMED_LOG_EVERY = 100


class Link:
    """One websocket connection carrying a set of subscriptions, reconnecting forever."""

    def __init__(self, source: HyperliquidSource, index: int, markets: list[Market]) -> None:
        self.source = source
        self.index = index
        self.markets: dict[Market, str] = dict.fromkeys(markets, "new")
        self.ws: WebSocket | None = None
        self.connected = False
        self.connected_at: float | None = None
        self.disconnected_since_ms: int | None = None
        self.sessions = 0
        self.last_error: str | None = None
        self._waiting_since: float | None = None
        self._pending_ping: float | None = None
        self._last_frame_ms: int | None = None
        self._tg: TaskGroup | None = None
        self._lost_reason: str | None = None
        self._told_first_failure = False
        self._rng = random.Random()

    @property
    def room(self) -> int:
        return self.source.config.max_subscriptions_per_connection - len(self.markets)

    def status(self) -> dict[str, Any]:
        states = list(self.markets.values())
        return {
            "connected": self.connected,
            "subscribed": states.count("subscribed"),
            "pending": states.count("pending"),
            "rejected": [f"{c}/{i}" for (c, i), s in self.markets.items() if s == "rejected"],
            "sessions": self.sessions,
            "last_error": self.last_error,
        }

    # -- runtime market changes --------------------------------------------------------------

    async def add(self, market: Market) -> None:
        self.markets[market] = "new"
        ws, tg = self.ws, self._tg
        if ws is not None and tg is not None and self.connected:
            try:
                self.markets[market] = "pending"
                await self._send(ws, subscribe_frame(*market))
            except ConnectionLost as exc:
                self._lose(f"subscribe failed: {exc}")
                return
            tg.start_soon(self._catch_up, [market], None)

    async def remove(self, market: Market) -> None:
        self.markets.pop(market, None)
        ws = self.ws
        if ws is not None and self.connected:
            try:
                await self._send(ws, unsubscribe_frame(*market))
            except ConnectionLost as exc:
                self._lose(f"unsubscribe failed: {exc}")

    async def _send(self, ws: WebSocket, text: str) -> None:
        """Send one message within the per-IP outbound message limit."""
        await self.source.messages.acquire(1)
        await ws.send_text(text)

    # -- the reconnect loop ------------------------------------------------------------------

    async def run(self) -> None:
        src = self.source
        cfg = src.config
        clock = src.ctx.clock
        attempt = 0
        while True:
            self._lost_reason = None
            unreachable = False
            try:
                await self._session()
                reason = self._lost_reason or "session ended"
            except Unreachable as exc:
                reason, unreachable = str(exc), True
            except (ConnectionLost, OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ConnectionLost) else str(exc)
            except Exception as exc:  # a bug must not end the feed for good: log it and reconnect
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("%s connection %d failed unexpectedly", src.name, self.index)
            self.last_error = reason
            now = clock.monotonic()
            if self.connected_at is not None:
                if now - self.connected_at >= cfg.healthy_after:
                    attempt = 0
                if self.disconnected_since_ms is None:
                    # The feed went quiet at the last frame (a stall is noticed only later).
                    self.disconnected_since_ms = self._last_frame_ms or src.now_ms()
                src.ctx.telemetry.publish(
                    names.EV_DISCONNECTED, src.name, f"{src.name} disconnected: {reason}",
                    reason=reason, exchange_time=src.now_ms(),
                )  # fmt: skip
            elif self.sessions == 0 and not self._told_first_failure:
                self._told_first_failure = True
                src.ctx.telemetry.publish(
                    names.EV_DISCONNECTED, src.name, f"{src.name} cannot connect: {reason}",
                    reason=reason, exchange_time=src.now_ms(),
                )  # fmt: skip
            self.connected = False
            self.connected_at = None
            ceiling = min(cfg.reconnect_max, cfg.reconnect_initial * 2**attempt)
            if unreachable:
                # No answer at all, so nothing the exchange counts: retry soon, to be back promptly.
                ceiling = min(ceiling, cfg.reconnect_unreachable_max)
            attempt += 1
            delay = self._rng.uniform(0.0, ceiling)
            log.warning("%s connection %d lost (%s); reconnecting in %.1fs", src.name, self.index, reason, delay)
            src.reconnects.inc()
            await clock.sleep(delay)

    def _lose(self, reason: str) -> None:
        """End the current session (any task of it may call this)."""
        if self._lost_reason is None:
            self._lost_reason = reason
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _session(self) -> None:
        src = self.source
        cfg = src.config
        ws = await connect(cfg.ws_url, open_timeout=cfg.open_timeout, ssl_context=src.tls)
        try:
            self.ws = ws
            self._pending_ping = None
            self._last_frame_ms = None
            self.sessions += 1
            self.connected = True
            self.connected_at = src.ctx.clock.monotonic()
            since = self.disconnected_since_ms
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._reader, ws)
                markets = list(self.markets)
                try:
                    for market in markets:
                        self.markets[market] = "pending"
                        await self._send(ws, subscribe_frame(*market))
                except ConnectionLost as exc:
                    self._lose(f"subscribe failed: {exc}")
                    return
                src.ctx.telemetry.publish(
                    names.EV_CONNECTED, src.name,
                    f"{src.name} connected, {len(markets)} markets"
                    + ("" if since is None else " (catching up since the disconnect)"),
                    markets=[[c, i] for c, i in markets], disconnected_since=since,
                )  # fmt: skip
                self.disconnected_since_ms = None
                tg.start_soon(self._keepalive, ws)
                tg.start_soon(self._catch_up, markets, since)
        finally:
            self._tg = None
            self.ws = None
            self.connected = False
            await ws.aclose()

    # -- session tasks -----------------------------------------------------------------------

    async def _reader(self, ws: WebSocket) -> None:
        src = self.source
        clock = src.ctx.clock
        try:
            while True:
                self._waiting_since = clock.monotonic()
                text = await ws.recv()
                self._waiting_since = None
                self._pending_ping = None
                self._last_frame_ms = src.now_ms()
                await src.on_frame(self, text)
        except ConnectionLost as exc:
            self._lose(str(exc))
        finally:
            self._waiting_since = None

    async def _keepalive(self, ws: WebSocket) -> None:
        """Ping every ``ping_interval``; end the session when a ping finds no answer in time.

        A ping is answered by any inbound frame. Time the reader spends handing candles
        downstream (backpressure) does not count: only time spent waiting on the socket.
        """
        cfg = self.source.config
        clock = self.source.ctx.clock
        next_ping = clock.monotonic() + cfg.ping_interval
        try:
            while True:
                now = clock.monotonic()
                pending, waiting = self._pending_ping, self._waiting_since
                deadline = math.inf
                if pending is not None and waiting is not None:
                    deadline = max(pending, waiting) + cfg.pong_timeout
                    if now >= deadline:
                        self._lose(f"stalled: no pong or frame within {cfg.pong_timeout:g}s of a ping")
                        return
                if now >= next_ping:
                    await self._send(ws, PING_FRAME)
                    if self._pending_ping is None:
                        self._pending_ping = now
                    next_ping = now + cfg.ping_interval
                    continue
                await clock.sleep(min(next_ping, deadline) - now)
        except ConnectionLost as exc:
            self._lose(str(exc))

    async def _catch_up(self, markets: list[Market], since: int | None) -> None:
        """REST history for what the websocket cannot replay (runs after subscribing)."""
        src = self.source
        for market in markets:
            if market not in self.markets:
                continue
            try:
                await src.catch_up(market, since=since)
            except RestError as exc:
                log.warning("%s: REST catch-up of %s/%s failed: %s", src.name, *market, exc)


class HyperliquidSource(Source):
    """Live Hyperliquid candles over one multiplexed websocket, with REST catch-up."""

    def __init__(self, ctx: ComponentContext[HyperliquidConfig]) -> None:
        super().__init__(ctx)
        self.config: HyperliquidConfig = ctx.config
        self.tracker = ClosingTracker(int(self.config.close_grace * 1000))
        #: Each market's candles against candlewick's grid (gap repair reads it too).
        self.grid = GridReporter(ctx.name, ctx.telemetry)
        #: The exchange's clock, measured from candle frames and REST ``Date`` headers.
        self.exchange = ExchangeClock(ctx.clock)
        self._offset_exported = False
        self._offset_warned = False
        self.budget = WeightBudget(self.config.rest_weight_per_minute, ctx.clock)
        #: Outbound websocket messages (subscribes, unsubscribes, pings), shared by every connection.
        self.messages = WeightBudget(MESSAGES_PER_MINUTE, ctx.clock, burst=MESSAGES_BURST, headroom=0)
        self.rest: HyperliquidRest | None = None
        #: TLS client context for wss:// and https:// (system authorities plus ``ca_file``).
        self.tls = self.config.ssl_context()
        self.links: list[Link] = []
        self._wanted: list[Market] = self.config.markets()
        self._tg: TaskGroup | None = None
        self._newest: dict[Market, int] = {}
        #: Markets whose start-up history has been fetched completely.
        self._history_done: set[Market] = set()
        #: Candles the websocket closed, per market, awaiting REST confirmation: open -> close time.
        self._unconfirmed: dict[Market, dict[int, int]] = {}
        m = ctx.telemetry.metrics
        label = {"source": ctx.name}
        self.frames = m.counter(names.FRAMES, "Websocket frames received", ("source",)).labels(**label)
        self.malformed = m.counter(names.MALFORMED, "Frames that failed validation", ("source",)).labels(**label)
        self.reconnects = m.counter(names.RECONNECTS, "Websocket reconnects", ("source",)).labels(**label)
        self._candles_in = m.counter(names.CANDLES_IN, "Candle updates received", ("source", "coin", "interval"))
        self._last_frame = m.gauge(names.LAST_FRAME, "Wall time of the last frame", ("source", "coin", "interval"))
        self._last_candle = m.gauge(names.LAST_CANDLE, "Open time of the newest candle", ("coin", "interval"))
        self._offset = m.gauge(names.CLOCK_OFFSET, "Local wall clock minus the exchange's", ("source",))
        self._offset_spread = m.gauge(
            names.CLOCK_OFFSET_UNCERTAINTY, "Half-width of the interval the clock offset lies in", ("source",)
        )

    # -- Source API --------------------------------------------------------------------------

    def markets(self) -> list[Market]:
        return list(self._wanted)

    async def add_market(self, coin: str, interval: str) -> None:
        """Follow one more market now (validated like the configured ones)."""
        check_interval(interval)
        market = (coin, interval)
        if market in self._wanted:
            return
        if len(self._wanted) >= MAX_SUBSCRIPTIONS:
            raise SourceError(
                f"cannot follow {coin}/{interval}: Hyperliquid allows {MAX_SUBSCRIPTIONS} subscriptions per IP",
                hint="remove a market first",
            )
        if self.rest is not None and self.config.validate_coins:
            await self.rest.check_coins([coin])
        self._wanted.append(market)
        if self._tg is None:
            return
        link = next((lk for lk in self.links if lk.room > 0), None)
        if link is None:
            if len(self.links) >= MAX_CONNECTIONS:
                raise SourceError(f"cannot open more than {MAX_CONNECTIONS} websocket connections per IP")
            link = Link(self, len(self.links), [market])
            self.links.append(link)
            self._tg.start_soon(link.run)
            return
        await link.add(market)

    async def remove_market(self, coin: str, interval: str) -> None:
        """Stop following a market now."""
        market = (coin, interval)
        if market not in self._wanted:
            raise SourceError(f"{self.name} does not follow {coin}/{interval}")
        self._wanted.remove(market)
        for link in self.links:
            if market in link.markets:
                await link.remove(market)
        self.tracker.forget(coin, interval)
        self.grid.forget(coin, interval)

    def describe(self) -> dict[str, Any]:
        estimate = self.exchange.estimate()
        return {
            "markets": [f"{c}/{i}" for c, i in self._wanted],
            "connections": [lk.status() for lk in self.links],
            "rest_weight_available": round(self.budget.level(), 1),
            "grid_mismatch": [f"{m.coin}/{m.interval}" for m in self.grid.watch.mismatches()],
            "clock": None
            if estimate is None
            else {
                "offset_ms": round(estimate.offset_ms),
                "uncertainty_ms": None if estimate.uncertainty_ms is None else round(estimate.uncertainty_ms),
                "evidence": list(estimate.evidence),
            },
        }

    def now_ms(self) -> int:
        """The exchange's time (ms), as far as it has surely passed."""
        return self.exchange.now_ms()

    # -- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        async with HyperliquidRest.from_config(
            cfg,
            budget=self.budget,
            clock=self.ctx.clock,
            telemetry=self.ctx.telemetry,
            ssl_context=self.tls,
            exchange=self.exchange,
        ) as rest:
            self.rest = rest
            try:
                if cfg.validate_coins:
                    await self._validate_coins(rest)
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    per = cfg.max_subscriptions_per_connection
                    self.links = [
                        Link(self, k, self._wanted[start : start + per])
                        for k, start in enumerate(range(0, len(self._wanted), per))
                    ]
                    for link in self.links:
                        tg.start_soon(link.run)
                    tg.start_soon(self._closer)
                    if cfg.confirm_closed:
                        tg.start_soon(self._confirmer)
                    task_status.started()
            finally:
                self._tg = None
                self.rest = None

    async def _validate_coins(self, rest: HyperliquidRest) -> None:
        """Refuse unknown coins (SourceError); retry while the exchange cannot be reached."""
        attempt = 0
        while True:
            try:
                await rest.check_coins(self.config.coins)
                return
            except RestUnavailable as exc:
                ceiling = min(self.config.reconnect_max, self.config.reconnect_initial * 2**attempt)
                attempt += 1
                delay = random.uniform(ceiling / 2, ceiling)
                log.warning("%s: cannot check coins yet (%s); retry in %.1fs", self.name, exc, delay)
                await self.ctx.clock.sleep(delay)

    async def _closer(self) -> None:
        """Close open candles whose ``T + close_grace`` has passed on the exchange's clock."""
        clock = self.ctx.clock
        while True:
            self._watch_clock()
            now = self.now_ms()
            hold = {m for link in self.links if not link.connected for m in link.markets}
            await self.emit(self.tracker.tick(now, hold=hold))
            deadline = self.tracker.next_deadline_ms()
            wait = CLOSER_MAX_SLEEP if deadline is None else min(CLOSER_MAX_SLEEP, max(0.0, (deadline - now) / 1000))
            await clock.sleep(max(wait, 0.001))

    def _watch_clock(self) -> None:
        """Export the measured clock offset; log steps of the local clock and a large offset.

        After a step, the wall times of the last frames move with the clock, so "the last frame
        came N s ago" stays true (a step forward must not make every market look stale).
        """
        exchange = self.exchange
        jump = exchange.step()
        if jump is not None:
            frames = self._last_frame.values
            for key in [k for k in frames if k[0] == self.name]:
                frames[key] += jump
            log.warning(
                "%s: the local clock stepped %+.1f s (NTP setting it?); candles close on the exchange's clock, "
                "nothing is affected", self.name, jump,
            )  # fmt: skip
            self.ctx.telemetry.publish(
                names.EV_CLOCK_STEP, self.name, f"{self.name}: the local clock stepped {jump:+.1f} s", step=jump
            )
        estimate = exchange.estimate()
        if estimate is None:
            return
        if not self._offset_exported:
            self._offset_exported = True
            label = {"source": self.name}
            self._offset.set_function(lambda: _offset_s(exchange), **label)
            self._offset_spread.set_function(lambda: _spread_s(exchange), **label)
        limit = self.ctx.settings.daemon.max_clock_offset * 1000
        # Back within 80 % of the limit before "back to normal": an offset near it logs once, not per look.
        off = estimate.beyond(limit) or (self._offset_warned and estimate.beyond(limit * 0.8))
        if off and not self._offset_warned:
            log.warning(
                "%s: the local clock is %s; candles close on the exchange's clock, but fix NTP on this host",
                self.name, estimate.describe(),
            )  # fmt: skip
        elif self._offset_warned and not off:
            log.info("%s: the local clock is now %s", self.name, estimate.describe())
        self._offset_warned = off

    async def _confirmer(self) -> None:
        """Re-fetch candles the websocket closed; the exchange's final version wins if it differs.

        One request per market covers every pending candle; it runs at gap-repair priority and
        waits while the REST budget is low, so catch-ups and repairs come first.
        """
        cfg = self.config
        clock = self.ctx.clock
        delay_ms = int(cfg.confirm_delay * 1000)
        while True:
            await clock.sleep(cfg.confirm_delay)
            rest = self.rest
            if rest is None:
                continue
            for market, pending in list(self._unconfirmed.items()):
                if market not in self._wanted:
                    self._unconfirmed.pop(market, None)
                    continue
                now = self.now_ms()
                due = sorted(t for t, close in pending.items() if close + delay_ms <= now)
                if not due:
                    continue
                if self.budget.level() < self.budget.burst * CONFIRM_MIN_BUDGET:
                    break  # the budget is busy: confirm later
                try:
                    candles = await rest.fetch_range(*market, due[0], due[-1], priority=Priority.REPAIR)
                except RestError as exc:
                    log.warning("%s: confirming %s/%s failed: %s", self.name, *market, exc)
                    continue
                for t in due:
                    del pending[t]
                wanted = set(due)
                self.grid.observe_many(candles)
                await self.ingest([c for c in candles if c.open_time in wanted and c.closed])

    async def emit(self, candles: list[Candle]) -> None:
        """Hand candles to the buffer as they are (waits while it is full)."""
        newest = self._newest
        confirm = self.config.confirm_closed
        for candle in candles:
            await self.ctx.candles.send(candle)
            market = candle.market
            if confirm and candle.closed and candle.origin == "live":
                pending = self._unconfirmed.setdefault(market, {})
                if len(pending) < MAX_UNCONFIRMED:
                    pending[candle.open_time] = candle.close_time
            if candle.open_time > newest.get(market, -1):
                newest[market] = candle.open_time
                self._last_candle.set(candle.open_time / 1000, coin=candle.coin, interval=candle.interval)

    async def ingest(self, candles: list[Candle]) -> None:
        """Pass candles from elsewhere (gap repair) through the closing tracker to the buffer."""
        await self.emit(self.tracker.offer_many(candles, self.now_ms()))

    async def on_frame(self, link: Link, text: str) -> None:
        """Handle one websocket text frame."""
        self.frames.inc()
        event = parse_frame(text)
        if isinstance(event, CandleUpdate):
            clock = self.ctx.clock
            received, now_s = clock.monotonic(), clock.time()
            for candle in event.candles:
                self.exchange.saw_candle(candle.open_time, received=received)
            now = self.exchange.at_ms(received)
            out: list[Candle] = []
            observe = self.grid.observe
            for candle in event.candles:
                market = candle.market
                if market not in link.markets:
                    continue  # a late frame of a market just removed
                observe(candle)
                self._candles_in.inc(source=self.name, coin=candle.coin, interval=candle.interval)
                self._last_frame.set(now_s, source=self.name, coin=candle.coin, interval=candle.interval)
                if link.markets.get(market) == "pending":
                    link.markets[market] = "subscribed"
                out.extend(self.tracker.offer(candle, now))
            if event.errors:
                self._count_malformed("; ".join(event.errors), text)
            await self.emit(out)
        elif isinstance(event, SubscriptionAck):
            acked = event.market
            if acked is not None and acked in link.markets and event.method == "subscribe":
                link.markets[acked] = "subscribed"
        elif isinstance(event, ServerError):
            self._on_error(link, event)
        elif isinstance(event, Malformed):
            self._count_malformed(event.reason, event.raw)
        elif isinstance(event, Pong | Greeting | UnknownChannel) and log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %r", self.name, event)

    def _count_malformed(self, reason: str, raw: str) -> None:
        self.malformed.inc()
        count = int(self.malformed.get())
        level = logging.WARNING if count == 1 or count % MALFORMED_LOG_EVERY == 0 else logging.DEBUG
        log.log(level, "%s: malformed frame #%d (%s): %.200s", self.name, count, reason, raw)

    def _on_error(self, link: Link, event: ServerError) -> None:
        market = event.market
        if event.kind == "already_subscribed" and market in link.markets:
            link.markets[market] = "subscribed"
            log.debug("%s: %s (harmless)", self.name, event.message)
        elif event.harmless:
            log.debug("%s: %s (harmless)", self.name, event.message)
        elif market is not None and market in link.markets:
            link.markets[market] = "rejected"
            log.error("%s: the exchange refused %s/%s: %s", self.name, *market, event.message)
            self.ctx.telemetry.publish(
                "subscription.rejected", self.name, f"{self.name}: {market[0]}/{market[1]} refused: {event.message}",
                coin=market[0], interval=market[1], error=event.message,
            )  # fmt: skip
        else:
            log.warning("%s: server error: %s", self.name, event.message)

    async def catch_up(self, market: Market, *, since: int | None) -> None:
        """Fetch over REST what live data cannot give: start-up history, then the disconnected period.

        A market's ``backfill_on_start`` history is fetched until it once completed (an
        interrupted one is redone after the reconnect); afterwards only the span since the
        newest candle seen (or since the disconnect) is fetched.
        """
        rest = self.rest
        if rest is None:
            return
        coin, interval = market
        now = self.now_ms()
        newest = self.tracker.market(coin, interval).last_open_time
        policy = self.config.backfill()
        start: int | None
        if market not in self._history_done:
            if policy is None:
                start = None
            else:
                start = rest.latest_start(interval, now_ms=now) if policy == "max" else max(0, now - int(policy))
            priority = Priority.REPAIR  # start-up history yields to gap repair
        else:
            start = newest if newest is not None else since
            priority = Priority.LIVE  # a reconnect's catch-up is urgent and small
        if start is not None:
            async with aclosing(rest.iter_range(coin, interval, start, now, priority=priority)) as pages:
                async for page in pages:
                    self.grid.observe_many(page)  # the first page checks the market's grid at start-up
                    await self.emit(self.tracker.offer_many(page, self.now_ms()))
        self._history_done.add(market)


def _offset_s(exchange: ExchangeClock) -> float:
    estimate = exchange.estimate()
    return math.nan if estimate is None else estimate.offset_ms / 1000


def _spread_s(exchange: ExchangeClock) -> float:
    estimate = exchange.estimate()
    if estimate is None:
        return math.nan
    return math.inf if estimate.uncertainty_ms is None else estimate.uncertainty_ms / 1000
