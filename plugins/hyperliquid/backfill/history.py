"""Hyperliquid's ``candleSnapshot`` history as gap repair sees it.

In the daemon, requests go through the live source's REST client, so gap repair shares its
one weight budget. Without a live source (``candlewick backfill`` standalone) it opens its
own client and budget from the ``[sources.hyperliquid]`` options.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

from candlewick.errors import SourceError
from candlewick.gaps.jobs import STARTUP, URGENT
from candlewick.model import INTERVAL_MS, Candle
from candlewick.plugin import ComponentContext
from candlewick.plugins.hyperliquid.budget import CANDLE_SNAPSHOT_BASE, ITEMS_PER_EXTRA_WEIGHT, Priority, WeightBudget
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.rest import MAX_CANDLES, HyperliquidRest, RestUnavailable
from candlewick.plugins.hyperliquid.source import HyperliquidSource
from candlewick.plugins.hyperliquid.universe import resolve
from candlewick.plugins.hyperliquid.universe_watch import fetch_metadata
from candlewick.runtime.clock import Clock
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.gridreport import GridReporter

__all__ = ["HyperliquidHistory", "budget_priority"]

#: How long to wait between looks for the live source's REST client.
READY_POLL = 0.1


def budget_priority(priority: int) -> Priority:
    """Map a job priority onto the REST budget's: urgent repair with the live catch-up."""
    if priority <= URGENT:
        return Priority.LIVE
    if priority <= STARTUP:
        return Priority.REPAIR
    return Priority.BACKFILL


class HyperliquidHistory:
    """:class:`candlewick.gaps.history.History` over Hyperliquid's REST ``info`` endpoint."""

    window = MAX_CANDLES
    page_size = MAX_CANDLES
    base_weight = CANDLE_SNAPSHOT_BASE
    items_per_weight = ITEMS_PER_EXTRA_WEIGHT

    def __init__(self, ctx: ComponentContext[Any], source: str = "hyperliquid") -> None:
        self.ctx = ctx
        self.source = source
        raw = ctx.settings.sources.get(source, {})
        self.config = HyperliquidConfig.model_validate(raw if isinstance(raw, dict) else {})
        self._own: HyperliquidRest | None = None
        self._own_grid: GridReporter | None = None
        #: Standalone: the markets ``coins`` resolves to (market sets need the exchange's metadata).
        self._resolved: list[tuple[str, str]] = []
        #: The exchange's clock when there is no live source (measured by the own REST client).
        self._exchange = ExchangeClock(ctx.clock)

    def _live(self) -> HyperliquidSource | None:
        if self.ctx.lookup is None:
            return None
        try:
            component = self.ctx.component(self.source)
        except LookupError:
            return None
        return component if isinstance(component, HyperliquidSource) else None

    @property
    def exchange_clock(self) -> Clock:
        """The live source's measure of the exchange's clock, or the own REST client's."""
        live = self._live()
        return live.exchange if live is not None else self._exchange

    def markets(self) -> Sequence[tuple[str, str]]:
        """Every market, shortest interval first: checks (and so start-up history) reach first what
        the exchange forgets first (1m's 5000 candles are 3.5 days)."""
        live = self._live()
        markets = live.markets() if live is not None else self._resolved or self.config.markets()
        return sorted(markets, key=lambda m: INTERVAL_MS[m[1]])

    @property
    def weight_per_minute(self) -> float:
        """The REST budget jobs share (``backfill.list`` turns it into ETAs)."""
        live = self._live()
        return live.budget.per_minute if live is not None else float(self.config.rest_weight_per_minute)

    def backfill_on_start(self) -> int | str | None:
        return self.config.backfill()

    def fetches_start_history(self) -> bool:
        # HyperliquidSource.catch_up fetches backfill_on_start on its first connect, unless the
        # markets are many (startup_history): then gap repair's jobs do, shortest horizon first,
        # resumed after a restart from what is stored.
        live = self._live()
        return live is not None and self.config.backfill() is not None and not live.history_by_jobs()

    async def _rest(self) -> HyperliquidRest:
        live = self._live()
        if live is None:
            if self._own is None:
                cfg = self.config
                budget = WeightBudget(cfg.rest_weight_per_minute, self.ctx.clock)
                self._own = HyperliquidRest.from_config(
                    cfg, budget=budget, clock=self.ctx.clock, telemetry=self.ctx.telemetry, exchange=self._exchange
                )
            return self._own
        while live.rest is None:
            await self.ctx.clock.sleep(READY_POLL)
        return live.rest

    def _grid(self) -> GridReporter:
        """The live source's grid check, or (standalone) one of our own under the source's name."""
        live = self._live()
        if live is not None:
            return live.grid
        if self._own_grid is None:
            self._own_grid = GridReporter(self.source, self.ctx.telemetry)
        return self._own_grid

    async def ready(self) -> None:
        """The REST client; standalone, the market sets of ``coins`` resolved as the source would."""
        rest = await self._rest()
        cfg = self.config
        if self._live() is None and cfg.has_sets() and not self._resolved:
            coins = cfg.shard_of().share(resolve(cfg.coins, await fetch_metadata(rest, cfg.coins)).coins)
            self._resolved = [(c, i) for c in coins for i in cfg.intervals]

    async def check_coin(self, coin: str) -> None:
        if not self.config.validate_coins:
            return
        rest = await self._rest()
        try:
            await rest.check_coins([coin])
        except SourceError as exc:
            raise ValueError(str(exc)) from None

    async def pages(
        self, coin: str, interval: str, first: int, last: int, *, priority: int
    ) -> AsyncIterator[list[Candle]]:
        rest = await self._rest()
        grid = self._grid()
        async with aclosing(rest.iter_range(coin, interval, first, last, priority=budget_priority(priority))) as pages:
            async for page in pages:
                grid.observe_many(page)  # what the exchange sends is checked against the grid
                yield page

    def transient(self, exc: Exception) -> bool:
        return isinstance(exc, RestUnavailable | OSError | TimeoutError)

    async def aclose(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            await own.aclose()
