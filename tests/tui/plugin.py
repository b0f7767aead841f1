"""An in-process plugin for dashboard tests: a market feed with backfill jobs, a pass-through
buffer and an in-memory sink. Real components run by the real daemon (not mocks): they count
into the daemon's telemetry under the shared metric names, so ``stats`` reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.model import INTERVAL_MS, Candle, open_time
from candlewick.plugin import ComponentSpec, Source, hookimpl
from candlewick.runtime import names
from candlewick.testing import MemorySink, PassThroughBuffer

PLUGIN_NAME = "tui-test"
#: Seconds between two frames of each market.
TICK = 0.05
#: How many old candles per market the sink starts with (for the chart).
HISTORY = 40
START_MARKETS = (("BTC", "1m"), ("ETH", "1m"))


class Feed(Source):
    """Sends one candle update per market per tick; follows markets added at run time; runs jobs."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._markets: list[tuple[str, str]] = list(START_MARKETS)
        self.jobs: dict[str, dict[str, Any]] = {}
        self._next_job = 1
        m = ctx.telemetry.metrics
        market = ("source", "coin", "interval")
        self._frames = m.counter(names.FRAMES, "frames", market)
        self._candles = m.counter(names.CANDLES_IN, "candles", market)
        self._last_frame = m.gauge(names.LAST_FRAME, "last frame", market)
        self._last_candle = m.gauge(names.LAST_CANDLE, "last candle", ("coin", "interval"))
        m.gauge(names.REST_WEIGHT_BUDGET, "budget").set(1200)
        self._weight = m.counter(names.REST_WEIGHT_USED, "weight")

    def markets(self) -> list[tuple[str, str]]:
        return list(self._markets)

    async def add_market(self, coin: str, interval: str) -> None:
        if (coin, interval) not in self._markets:
            self._markets.append((coin, interval))
            self.ctx.telemetry.publish(names.EV_CONNECTED, self.name, f"following {coin} {interval}")

    async def remove_market(self, coin: str, interval: str) -> None:
        self._markets.remove((coin, interval))
        self.ctx.telemetry.publish(names.EV_DISCONNECTED, self.name, f"stopped following {coin} {interval}")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        clock = self.ctx.clock
        task_status.started()
        price = 100.0
        while True:
            now = clock.time()
            for coin, interval in list(self._markets):
                t = open_time(interval, int(now * 1000))
                price += 0.5 if int(now * 10) % 3 else -0.7
                high, low, close = f"{price + 1:.1f}", f"{price - 1:.1f}", f"{price + 0.3:.1f}"
                end = t + INTERVAL_MS[interval] - 1
                candle = Candle(coin, interval, t, end, f"{price:.1f}", high, low, close, "1.5", 3, False, "live")
                await self.ctx.candles.send(candle)
                labels = {"source": self.name, "coin": coin, "interval": interval}
                self._frames.inc(**labels)
                self._candles.inc(**labels)
                self._last_frame.set(now, **labels)
                self._last_candle.set(t / 1000, coin=coin, interval=interval)
            for job in self.jobs.values():
                if job["state"] == "running" and job["fetched"] < job["expected"]:
                    job["fetched"] += 1
                    self._weight.inc(20)
            await clock.sleep(TICK)

    # -- SupportsBackfill ----------------------------------------------------------------------

    async def backfill_start(self, coin: str, intervals: Sequence[str], days: int | None) -> list[dict[str, Any]]:
        if coin == "NOPE":
            raise ValueError("unknown coin 'NOPE' (the exchange lists no such perp)")
        new = []
        for interval in intervals:
            job_id = str(self._next_job)
            self._next_job += 1
            expected = (days or 365) * 86_400_000 // INTERVAL_MS[interval]
            job = {
                "id": job_id, "kind": "user", "coin": coin, "interval": interval, "start": 0, "end": 0,
                "state": "running", "fetched": 0, "expected": expected, "eta": 600.0, "error": None,
            }  # fmt: skip
            self.jobs[job_id] = job
            new.append(dict(job))
            self.ctx.telemetry.publish(names.EV_JOB, self.name, f"job #{job_id} {coin} {interval} queued")
        return new

    def backfill_list(self) -> list[dict[str, Any]]:
        return [dict(j) for j in reversed(self.jobs.values())]

    async def backfill_cancel(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise LookupError(f"no backfill job {job_id!r}")
        job["state"] = "cancelled"
        self.ctx.telemetry.publish(names.EV_JOB, self.name, f"job #{job_id} cancelled")
        return dict(job)


class HistorySink(MemorySink):
    """:class:`~candlewick.testing.MemorySink` that starts with ``HISTORY`` closed candles per market."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        now_ms = int(ctx.clock.time() * 1000)
        for coin, interval in START_MARKETS:
            step = INTERVAL_MS[interval]
            first = open_time(interval, now_ms) - HISTORY * step
            for i in range(HISTORY):
                o = 100.0 + (i * 7 % 11) - 5
                c = o + (i * 5 % 7) - 3
                t = first + i * step
                self.rows[(coin, interval, t)] = Candle(
                    coin, interval, t, t + step - 1, f"{o}", f"{max(o, c) + 1}", f"{min(o, c) - 1}", f"{c}",
                    "2", 5, True, "rest",
                )  # fmt: skip


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    return [ComponentSpec("feed", "source", Feed)]


@hookimpl
def candlewick_register_buffers() -> list[ComponentSpec]:
    return [ComponentSpec("through", "buffer", PassThroughBuffer)]


@hookimpl
def candlewick_register_sinks() -> list[ComponentSpec]:
    return [ComponentSpec("mem", "sink", HistorySink)]
