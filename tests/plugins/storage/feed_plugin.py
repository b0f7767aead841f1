"""A tiny source plugin for daemon-level storage tests: sends a fixed, deterministic stream."""

from __future__ import annotations

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.model import Candle
from candlewick.plugin import ComponentSpec, Source, hookimpl

from .helpers import candle


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = 0
    """Closed candles to send (each preceded by two open versions)."""
    markets: int = 10
    """Markets the candles are spread over."""


def feed_candles(count: int, markets: int = 10) -> list[Candle]:
    """The stream: for each candle two open updates, then the closed version."""
    out = []
    for i in range(count):
        minute, coin = divmod(i, markets)
        out += [candle(minute, trades=n, coin=f"C{coin}") for n in (1, 2)]
        out.append(candle(minute, trades=3, coin=f"C{coin}", closed=True))
    return out


def expected_rows(count: int, markets: int = 10) -> dict[tuple[str, str, int], Candle]:
    return {c.key: c for c in feed_candles(count, markets) if c.closed}


class Feed(Source):
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        for c in feed_candles(self.ctx.config.count, self.ctx.config.markets):
            await self.ctx.candles.send(c)
        await anyio.sleep_forever()


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    return [ComponentSpec(name="feed", kind="source", factory=Feed, config_model=FeedConfig)]
