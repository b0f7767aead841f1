"""The ``hyperliquid`` live source: websocket candles plus REST catch-up, self-healing.

Lifecycle of :class:`HyperliquidSource`:

1. Check the configured coins against ``meta``/``spotMeta`` (an unknown coin raises
   :class:`~candlewick.errors.SourceError` listing close matches; transient REST failures are
   retried with backoff). Then ``task_status.started()``.
2. Open one websocket per block of ``max_subscriptions_per_connection`` markets (one connection
   for any realistic setup) and run each as a :class:`~candlewick.plugins.hyperliquid.link.Link`,
   which owns the connection and its subscription states
   (:mod:`~candlewick.plugins.hyperliquid.subscriptions`, free of I/O); the source only spreads
   markets over links and turns their candle frames into candles:

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

   Outbound messages of all connections share one bucket, and new connections another
   (:mod:`~candlewick.plugins.hyperliquid.limits`), so repeated reconnects never exceed the
   exchange's 2000 messages or 30 new connections a minute per IP. Markets are spread over at
   most 10 connections and 1000 subscriptions by :func:`~candlewick.plugins.hyperliquid.limits.plan`;
   which markets are native and which derived is decided by
   :class:`~candlewick.plugins.hyperliquid.following.Following`.
3. Intervals in ``derive`` (or derived because the per-IP limit demands it) are not subscribed:
   :class:`~candlewick.plugins.hyperliquid.derived_feed.DerivedFeed` folds them from the 1m
   candles this source emits and reconciles them with the exchange's.
4. Every candle (live or REST) passes the :class:`~candlewick.plugins.hyperliquid.closing.ClosingTracker`,
   which closes candles when a newer ``t`` arrives or ``T + close_grace`` passes on the
   exchange's clock, and never lets a candle go backwards.
5. Every candle the exchange sends is also checked against candlewick's grid
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

Markets can be added and removed while running. With market sets in ``coins`` or a ``shard``,
a :class:`~candlewick.plugins.hyperliquid.universe_watch.UniverseWatch` resolves them at
start and adds new listings and retires delisted coins as the exchange's metadata changes.
Closes are confirmed over REST by a :class:`~candlewick.plugins.hyperliquid.confirm.Confirmer`.

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
from collections.abc import Callable, Container, Coroutine
from contextlib import aclosing
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from candlewick.model import Candle, check_interval
from candlewick.plugin import ComponentContext, Source
from candlewick.plugins.hyperliquid.budget import Priority, WeightBudget
from candlewick.plugins.hyperliquid.clockwatch import ClockWatch
from candlewick.plugins.hyperliquid.closing import ClosingTracker
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.confirm import Confirmer
from candlewick.plugins.hyperliquid.derived_feed import DerivedFeed
from candlewick.plugins.hyperliquid.following import Following
from candlewick.plugins.hyperliquid.limits import (
    CONNECTS_BURST,
    CONNECTS_PER_MINUTE,
    MAX_CONNECTIONS,
    MESSAGES_BURST,
    MESSAGES_PER_MINUTE,
)
from candlewick.plugins.hyperliquid.link import Link
from candlewick.plugins.hyperliquid.protocol import CandleUpdate
from candlewick.plugins.hyperliquid.rest import HyperliquidRest
from candlewick.plugins.hyperliquid.subscriptions import Market, SubState
from candlewick.plugins.hyperliquid.universe_watch import UniverseWatch
from candlewick.plugins.hyperliquid.usage import LimitUsage
from candlewick.runtime import names
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.gridreport import GridReporter
from candlewick.runtime.telemetry import Child

__all__ = [
    "MAX_CONNECTIONS",
    "HyperliquidSource",
    "Link",
]

log = logging.getLogger(__name__)

#: Above this many markets, ``startup_history = "auto"`` leaves start-up history to gap repair's jobs.
HISTORY_JOBS_ABOVE = 50
#: Longest sleep of the clock-closing loop (it also wakes at the next known deadline).
CLOSER_MAX_SLEEP = 1.0
#: Log a malformed frame at WARNING the first time and then every this many.
MALFORMED_LOG_EVERY = 100


class HyperliquidSource(Source):
    """Live Hyperliquid candles over up to 10 multiplexed websockets, with REST catch-up."""

    def __init__(self, ctx: ComponentContext[HyperliquidConfig]) -> None:
        super().__init__(ctx)
        self.config: HyperliquidConfig = ctx.config
        self.tracker = ClosingTracker(int(self.config.close_grace * 1000))
        #: Each market's candles against candlewick's grid (gap repair reads it too).
        self.grid = GridReporter(ctx.name, ctx.telemetry)
        #: The exchange's clock, measured from candle frames and REST ``Date`` headers.
        self.exchange = ExchangeClock(ctx.clock)
        self.budget = WeightBudget(self.config.rest_weight_per_minute, ctx.clock)
        #: Outbound websocket messages (subscribes, unsubscribes, pings), shared by every connection.
        self.messages = WeightBudget(MESSAGES_PER_MINUTE, ctx.clock, burst=MESSAGES_BURST, headroom=0)
        #: New websocket connections, shared by every connection (the per-IP limit of 30 a minute).
        self.connects = WeightBudget(CONNECTS_PER_MINUTE, ctx.clock, burst=CONNECTS_BURST, headroom=0)
        #: Checks the named coins, resolves market sets and follows listings, within the shard.
        self.universe = UniverseWatch(self.config, ctx.clock)
        self.confirmer = Confirmer(
            self.config.confirm_closed, delay=self.config.confirm_delay, budget_per_minute=self.budget.per_minute
        )
        self.rest: HyperliquidRest | None = None
        #: TLS client context for wss:// and https:// (system authorities plus ``ca_file``).
        self.tls = self.config.ssl_context()
        self.links: list[Link] = []
        #: Derived intervals: folded from 1m candles and reconciled with the exchange's.
        self.derived = DerivedFeed(self)
        #: The followed markets: which are derived, which connection subscribes the others.
        self.following = Following(self)
        self._tg: TaskGroup | None = None
        self._newest: dict[Market, int] = {}
        #: Markets whose start-up history has been fetched completely.
        self._history_done: set[Market] = set()
        #: Per-market metric handles, bound on a market's first candle (see :meth:`_market_metrics`).
        self._bound: dict[Market, tuple[Child, Child]] = {}
        m = ctx.telemetry.metrics
        label = {"source": ctx.name}
        self.frames = m.counter(names.FRAMES, "Websocket frames received", ("source",)).labels(**label)
        self.malformed = m.counter(names.MALFORMED, "Frames that failed validation", ("source",)).labels(**label)
        self.reconnects = m.counter(names.RECONNECTS, "Websocket reconnects", ("source",)).labels(**label)
        self._candles_in = m.counter(names.CANDLES_IN, "Candle updates received", ("source", "coin", "interval"))
        self._last_frame = m.gauge(names.LAST_FRAME, "Wall time of the last frame", ("source", "coin", "interval"))
        self._last_candle = m.gauge(names.LAST_CANDLE, "Open time of the newest candle", ("coin", "interval"))
        self.usage = LimitUsage(ctx.name, self, ctx.telemetry)
        self.clock_watch = ClockWatch(
            ctx.name, self.exchange, ctx.telemetry,
            max_offset=ctx.settings.daemon.max_clock_offset, last_frame=self._last_frame,
        )  # fmt: skip

    # -- Source API --------------------------------------------------------------------------

    def markets(self) -> list[Market]:
        return list(self.following.wanted)

    @property
    def running(self) -> bool:
        return self._tg is not None

    def start_soon(self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run a task in the source's task group (while running)."""
        if self._tg is not None:
            self._tg.start_soon(func, *args)

    async def add_market(self, coin: str, interval: str) -> None:
        """Follow one more market now (validated like the configured ones), derived or native as planned."""
        check_interval(interval)
        if (coin, interval) in self.following.wanted:
            return
        if self.rest is not None and self.config.validate_coins:
            await self.rest.check_coins([coin])
        await self.following.add((coin, interval))

    async def remove_market(self, coin: str, interval: str) -> None:
        """Stop following a market now."""
        await self.following.remove((coin, interval))
        self._history_done.discard((coin, interval))
        self._bound.pop((coin, interval), None)

    def feed_alive(self, coin: str, interval: str) -> bool:
        """The connection subscribed to the market (to its coin's 1m when derived) is up and
        subscribed: it answers pings or is reconnected within ``ping_interval + pong_timeout``."""
        market = (coin, "1m") if self.derived.derives((coin, interval)) else (coin, interval)
        return any(link.connected and link.subs.state(market) is SubState.SUBSCRIBED for link in self.links)

    def describe(self) -> dict[str, Any]:
        estimate = self.exchange.estimate()
        return {
            "markets": [f"{c}/{i}" for c, i in self.following.wanted],
            "connections": [lk.status() for lk in self.links],
            "rest_weight_available": round(self.budget.level(), 1),
            "limits": self.usage.snapshot(),
            "universe": self.universe.describe(),
            "confirm_closed": {"every": self.confirmer.every, "trusted": self.confirmer.trusted},
            "grid_mismatch": [f"{m.coin}/{m.interval}" for m in self.grid.watch.mismatches()],
            "derived": self.derived.describe(),
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
                self.following.resolve(await self.universe.first(rest, name=self.name))
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    for link in self.links:
                        tg.start_soon(link.run)
                    tg.start_soon(self._closer)
                    if self.confirmer.enabled:
                        tg.start_soon(self.confirmer.run, self, self.ctx.clock, self._confirmed)
                    tg.start_soon(self.universe.run, rest, self)
                    tg.start_soon(self.derived.run)
                    task_status.started()
            finally:
                self._tg = None
                self.rest = None

    def history_by_jobs(self) -> bool:
        """True when gap repair's jobs fetch ``backfill_on_start`` instead of the first connect."""
        mode = self.config.startup_history
        return mode == "jobs" or (mode == "auto" and len(self.following.wanted) > HISTORY_JOBS_ABOVE)

    async def _confirmed(self, candles: list[Candle]) -> None:
        self.grid.observe_many(candles)
        await self.ingest(candles)

    async def _closer(self) -> None:
        """Close open candles whose ``T + close_grace`` has passed on the exchange's clock."""
        clock = self.ctx.clock
        while True:
            self.clock_watch.look()
            now = self.now_ms()
            hold = {m for link in self.links if not link.connected for m in link.subs.markets}
            await self.emit(self.tracker.tick(now, hold=hold))
            await self.emit(self.derived.tick(now, disconnected=hold))
            deadlines = [d for d in (self.tracker.next_deadline_ms(), self.derived.deriver.next_deadline_ms()) if d]
            deadline = min(deadlines) if deadlines else None
            wait = CLOSER_MAX_SLEEP if deadline is None else min(CLOSER_MAX_SLEEP, max(0.0, (deadline - now) / 1000))
            await clock.sleep(max(wait, 0.001))

    async def emit(self, candles: list[Candle], *, evidenced: Container[tuple[Market, int]] = ()) -> None:
        """Hand candles to the buffer as they are (waits while it is full), and the derived
        candles their 1m versions yield after them.

        Closed live candles whose (market, open time) is in ``evidenced`` were closed by a
        successor's frame on a connection up since before they opened (see
        :mod:`~candlewick.plugins.hyperliquid.confirm`).
        """
        newest = self._newest
        note = self.confirmer.note
        derived = self.derived.offer_all(candles)
        batch = [*candles, *derived] if derived else candles
        for candle in batch:
            market = (candle.coin, candle.interval)
            if candle.closed:  # only a close may need confirming
                note(candle, evidenced=(market, candle.open_time) in evidenced)
            if candle.open_time > newest.get(market, -1):
                newest[market] = candle.open_time
                self._last_candle.set(candle.open_time / 1000, coin=candle.coin, interval=candle.interval)
        await self.ctx.candles.send_many(batch)

    async def ingest(self, candles: list[Candle]) -> None:
        """Pass candles from elsewhere (gap repair) through the closing tracker to the buffer."""
        await self.emit(self.tracker.offer_many(candles, self.now_ms()))

    async def on_candles(self, link: Link, updates: list[tuple[CandleUpdate, bytes]]) -> None:
        """Candle frames of ``link`` from one read: the exchange's clock, the grid, the closing tracker, the buffer.

        Metrics and the clock's evidence are taken once per read; every candle is still checked.
        """
        clock = self.ctx.clock
        received, now_s = clock.monotonic(), clock.time()
        newest = max(c.open_time for update, _ in updates for c in update.candles)
        self.exchange.saw_candle(newest, received=received)  # the newest candle bounds the clock tightest
        now = self.exchange.at_ms(received)
        out: list[Candle] = []
        seen: dict[Market, int] = {}
        #: Closed by a successor's frame, on a connection up since before they opened: evidenced.
        evidenced: set[tuple[Market, int]] = set()
        up_since = self.exchange.at_ms(link.connected_at) if link.connected_at is not None else now
        observe, follows, offer = self.grid.observe, link.subs.candle, self.tracker.offer
        for update, raw in updates:
            single = len(update.candles) == 1
            for candle in update.candles:
                market = (candle.coin, candle.interval)
                if not follows(market):
                    continue  # a late frame of a market just removed
                observe(candle)
                seen[market] = seen.get(market, 0) + 1
                closed = offer(candle, now)
                if single and (len(closed) > 1 or (closed and closed[0].closed)):  # usually [candle], open
                    t = candle.open_time
                    evidenced.update((market, c.open_time) for c in closed if c.closed and up_since <= c.open_time < t)
                out.extend(closed)
            if update.errors:
                self.count_malformed("; ".join(update.errors), raw.decode("utf-8", "replace"))
        for market, count in seen.items():
            candles_in, last_frame = self._market_metrics(market)
            candles_in.inc(count)
            last_frame.set(now_s)
        await self.emit(out, evidenced=evidenced)

    def _market_metrics(self, market: Market) -> tuple[Child, Child]:
        """The per-market metric handles (bound once: label lookups cost more than the update)."""
        bound = self._bound.get(market)
        if bound is None:
            labels = {"source": self.name, "coin": market[0], "interval": market[1]}
            bound = self._bound[market] = (self._candles_in.labels(**labels), self._last_frame.labels(**labels))
        return bound

    def count_malformed(self, reason: str, raw: str) -> None:
        """Count a frame that failed validation; log the first and then every ``MALFORMED_LOG_EVERY``."""
        self.malformed.inc()
        count = int(self.malformed.get())
        level = logging.WARNING if count == 1 or count % MALFORMED_LOG_EVERY == 0 else logging.DEBUG
        log.log(level, "%s: malformed frame #%d (%s): %.200s", self.name, count, reason, raw)

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
        first = market not in self._history_done
        if first:
            if policy is None or self.history_by_jobs():
                start = None
            else:
                start = rest.latest_start(interval, now_ms=now) if policy == "max" else max(0, now - int(policy))
            priority = Priority.REPAIR  # start-up history yields to gap repair
        else:
            start = newest if newest is not None else since
            priority = Priority.LIVE  # a reconnect's catch-up is urgent and small
        with self.derived.catching_up(market, first=first, start=start, now=now):
            if start is not None:
                async with aclosing(rest.iter_range(coin, interval, start, now, priority=priority)) as pages:
                    async for page in pages:
                        self.grid.observe_many(page)  # the first page checks the market's grid at start-up
                        await self.emit(self.tracker.offer_many(self.derived.history(market, page), self.now_ms()))
        self._history_done.add(market)
