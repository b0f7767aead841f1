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
from candlewick.model import Candle
from candlewick.plugin import ComponentContext
from candlewick.plugins.hyperliquid.budget import CANDLE_SNAPSHOT_BASE, ITEMS_PER_EXTRA_WEIGHT, Priority, WeightBudget
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.rest import MAX_CANDLES, HyperliquidRest, RestUnavailable
from candlewick.plugins.hyperliquid.source import HyperliquidSource

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

    def _live(self) -> HyperliquidSource | None:
        if self.ctx.lookup is None:
            return None
        try:
            component = self.ctx.component(self.source)
        except LookupError:
            return None
        return component if isinstance(component, HyperliquidSource) else None

    def markets(self) -> Sequence[tuple[str, str]]:
        live = self._live()
        return live.markets() if live is not None else self.config.markets()

    def backfill_on_start(self) -> int | str | None:
        return self.config.backfill()

    def fetches_start_history(self) -> bool:
        # HyperliquidSource.catch_up fetches backfill_on_start on its first connect.
        return self._live() is not None and self.config.backfill() is not None

    async def _rest(self) -> HyperliquidRest:
        live = self._live()
        if live is None:
            if self._own is None:
                cfg = self.config
                budget = WeightBudget(cfg.rest_weight_per_minute, self.ctx.clock)
                self._own = HyperliquidRest.from_config(
                    cfg, budget=budget, clock=self.ctx.clock, telemetry=self.ctx.telemetry
                )
            return self._own
        while live.rest is None:
            await self.ctx.clock.sleep(READY_POLL)
        return live.rest

    async def ready(self) -> None:
        await self._rest()

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
        async with aclosing(rest.iter_range(coin, interval, first, last, priority=budget_priority(priority))) as pages:
            async for page in pages:
                yield page

    def transient(self, exc: Exception) -> bool:
        return isinstance(exc, RestUnavailable | OSError | TimeoutError)

    def weight_used(self) -> float:
        live = self._live()
        rest = live.rest if live is not None else self._own
        return rest.budget.used if rest is not None else 0.0

    async def aclose(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            await own.aclose()
