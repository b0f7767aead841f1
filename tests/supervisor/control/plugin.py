"""An in-process test plugin: a source with markets, a write-through buffer, a memory sink
(the last two from :mod:`candlewick.testing`).

Real components run by the real daemon; they count under the names of
:mod:`candlewick.runtime.names` the way production plugins do.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.control.methods import ControlHost, Handler
from candlewick.model import Candle, check_interval
from candlewick.plugin import ComponentContext, ComponentSpec, Source, hookimpl
from candlewick.runtime import names
from candlewick.testing import MemorySink, PassThroughBuffer

PLUGIN_NAME = "ctltest"


def candle(coin: str, interval: str, t: int, *, closed: bool = True) -> Candle:
    return Candle(coin, interval, t, t + 59_999, "100.5", "101", "99", "100.75", "12.5", 7, closed)


class MarketSource(Source):
    """Follows (coin, interval) markets; emits ``burst`` candles per market when started."""

    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        self._markets: list[tuple[str, str]] = [("BTC", "1m"), ("ETH", "1m")]
        self.burst = 3

    def markets(self) -> list[tuple[str, str]]:
        return list(self._markets)

    async def add_market(self, coin: str, interval: str) -> None:
        check_interval(interval)
        if coin == "NOPE":
            raise ValueError(f"unknown coin {coin!r}")
        if (coin, interval) not in self._markets:
            self._markets.append((coin, interval))
            await self._emit(coin, interval)

    async def remove_market(self, coin: str, interval: str) -> None:
        self._markets.remove((coin, interval))

    async def _emit(self, coin: str, interval: str) -> None:
        m = self.ctx.telemetry.metrics
        frames = m.counter(names.FRAMES, "frames", ("source",))
        candles = m.counter(names.CANDLES_IN, "candles", ("source", "coin", "interval"))
        last_frame = m.gauge(names.LAST_FRAME, "last frame", ("source", "coin", "interval"))
        last_candle = m.gauge(names.LAST_CANDLE, "last candle", ("coin", "interval"))
        for i in range(self.burst):
            t = 1_700_000_040_000 + i * 60_000
            frames.inc(source=self.name)
            candles.inc(source=self.name, coin=coin, interval=interval)
            last_frame.set(self.ctx.clock.time(), source=self.name, coin=coin, interval=interval)
            last_candle.set(t / 1000, coin=coin, interval=interval)
            await self.ctx.candles.send(candle(coin, interval, t))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        for coin, interval in self.markets():
            await self._emit(coin, interval)
        await anyio.sleep_forever()


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    return [ComponentSpec("feed", "source", MarketSource)]


@hookimpl
def candlewick_register_buffers() -> list[ComponentSpec]:
    return [ComponentSpec("through", "buffer", lambda ctx: PassThroughBuffer(ctx, capacity=1000))]


@hookimpl
def candlewick_register_sinks() -> list[ComponentSpec]:
    return [ComponentSpec("mem", "sink", MemorySink)]


@hookimpl
def candlewick_control_methods(host: ControlHost) -> dict[str, Handler[Any]]:
    async def ping(params: dict[str, Any]) -> dict[str, Any]:
        return {"pong": params.get("n", 0), "pid": host.pid}

    async def explode(params: dict[str, Any]) -> None:
        raise RuntimeError("kaboom")

    return {"ping": ping, "explode": explode}
