"""The ``ticker`` source: one synthetic closed candle per tick, per followed coin.

Also ``stubborn``, a source that ignores cancellation, used to test the daemon's shutdown deadline.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.model import Candle
from candlewick.plugin import ComponentContext, ComponentSpec, Source, SourceStats, hookimpl


class TickerOptions(BaseModel):
    """``[sources.ticker]``."""

    model_config = ConfigDict(extra="forbid")
    coins: list[str] = ["TICK"]
    """Coins to make candles for."""
    period: float = 0.05
    """Seconds between candles."""


def ticker_candle(coin: str, minute: int) -> Candle:
    """The candle the ticker makes for ``coin`` in its ``minute``-th minute since the epoch."""
    t = minute * 60_000
    price = f"{100 + minute % 7}.5"
    return Candle(coin, "1m", t, t + 59_999, price, price, price, price, "1.0", 1, closed=True)


class TickerSource(Source):
    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        self.options: TickerOptions = ctx.config
        self.coins = list(self.options.coins)
        self.stats = SourceStats(ctx.telemetry, ctx.name)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        minute = 0
        while True:
            for coin in list(self.coins):
                candle = ticker_candle(coin, minute)
                await self.ctx.candles.send(candle)
                self.stats.emitted(candle, now=self.ctx.clock.time())
            minute += 1
            await self.ctx.clock.sleep(self.options.period)

    def markets(self) -> list[tuple[str, str]]:
        return [(coin, "1m") for coin in self.coins]

    async def add_market(self, coin: str, interval: str) -> None:
        if interval != "1m":
            raise ValueError(f"the ticker makes 1m candles only, not {interval!r}")
        if coin not in self.coins:
            self.coins.append(coin)

    async def remove_market(self, coin: str, interval: str) -> None:
        if (coin, interval) in self.markets():
            self.coins.remove(coin)


class StubbornSource(Source):
    """Swallows cancellation and keeps going: the daemon must still exit."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(3600)


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    return [
        ComponentSpec("ticker", "source", TickerSource, config_model=TickerOptions, description="synthetic candles"),
        ComponentSpec("stubborn", "source", StubbornSource, description="ignores cancellation (tests)"),
    ]
