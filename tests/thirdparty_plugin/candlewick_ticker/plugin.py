"""The ``ticker`` source: one synthetic closed candle per tick, per configured coin.

Also ``stubborn``, a source that ignores cancellation, used to test the daemon's shutdown deadline.
"""

from __future__ import annotations

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.model import Candle
from candlewick.plugin import ComponentSpec, Source, hookimpl


class TickerOptions(BaseModel):
    """``[sources.ticker]``."""

    model_config = ConfigDict(extra="forbid")
    coins: list[str] = ["TICK"]
    """Coins to make candles for."""
    period: float = 0.05
    """Seconds between candles."""


class TickerSource(Source):
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        options: TickerOptions = self.ctx.config
        task_status.started()
        minute = 0
        while True:
            for coin in options.coins:
                t = minute * 60_000
                price = f"{100 + minute % 7}.5"
                await self.ctx.candles.send(
                    Candle(coin, "1m", t, t + 59_999, price, price, price, price, "1.0", 1, closed=True)
                )
            minute += 1
            await self.ctx.clock.sleep(options.period)

    def markets(self) -> list[tuple[str, str]]:
        return [(coin, "1m") for coin in self.ctx.config.coins]


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
