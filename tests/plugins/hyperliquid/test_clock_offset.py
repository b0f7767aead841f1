"""A wrong local clock: candles still close on the exchange's clock, never early, nothing lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from candlewick.model import Candle
from candlewick.runtime import names
from candlewick.testing import FakeExchange, ScaledClock, SkewedClock

from .conftest import Harness, running_source

pytestmark = pytest.mark.anyio

#: On a 60x clock, reading the wall and monotonic clocks 17 ms apart (a busy machine) looks like a
#: one-second step or offset: margins of the assertions (clock ms).
READ_MARGIN_MS = 1000

#: Live timings for a 60x clock (clock seconds).
TIMINGS = {"ping_interval": 20, "pong_timeout": 10, "close_grace": 2, "confirm_delay": 5}


class CloseWatch:
    """Notes the exchange's time when each closed candle version was first seen."""

    def __init__(self, h: Harness, exchange: FakeExchange) -> None:
        self.h = h
        self.exchange = exchange
        self.seen = 0
        self.closed: list[tuple[Candle, int]] = []

    def poll(self) -> None:
        now = self.exchange.now_ms()
        for candle in self.h.candles[self.seen :]:
            if candle.closed:
                self.closed.append((candle, now))
        self.seen = len(self.h.candles)

    async def until(self, count: int, timeout: float = 15.0) -> None:
        """Poll every 5 ms until ``count`` live candles were closed (by successor or clock)."""
        with anyio.fail_after(timeout):
            while sum(c.origin == "live" for c, _ in self.closed) < count:
                await anyio.sleep(0.005)
                self.poll()

    def check(self) -> None:
        """Every closed version was seen after the exchange closed it, with the exchange's final values."""
        assert self.closed
        for candle, seen_at in self.closed:
            assert seen_at > candle.close_time, f"{candle.open_time} closed {candle.close_time - seen_at} ms early"
            [truth] = self.exchange.truth(candle.coin, candle.interval, candle.open_time, candle.open_time)
            got = (candle.open, candle.high, candle.low, candle.close, candle.volume, candle.trades)
            assert got == (truth.open, truth.high, truth.low, truth.close, truth.volume, truth.trades)

    def times(self) -> list[int]:
        return sorted({c.open_time for c, _ in self.closed})


@asynccontextmanager
async def skewed(seed: int, offset: float, **overrides: Any) -> AsyncIterator[tuple[Harness, CloseWatch, SkewedClock]]:
    """A running source whose host clock is ``offset`` s off, against the fake exchange on a 60x clock."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=seed, clock=clock, push_interval=1.0) as ex:
        local = SkewedClock(clock, offset)
        async with running_source(ex, clock=local, **TIMINGS, **overrides) as h:
            yield h, CloseWatch(h, ex), local


@pytest.mark.parametrize("offset", [120.0, -120.0])
async def test_a_wrong_local_clock_never_closes_a_candle_early(offset: float) -> None:
    """With the host clock 2 min ahead (or behind), live and REST candles close on the exchange's clock."""
    async with skewed(3, offset, backfill_on_start="10m") as (_, watch, _):
        await watch.until(2)
    watch.check()


async def test_the_offset_is_measured_from_date_headers_and_candle_frames() -> None:
    """The source measures the host clock 120 s ahead, to within its stated uncertainty (under 1 s)."""
    async with skewed(3, 120.0) as (h, watch, _):
        await watch.until(1)
        estimate = h.source.exchange.estimate()
        clock_info = h.source.describe()["clock"]
    assert estimate is not None
    assert "http-date" in estimate.evidence
    assert estimate.uncertainty_ms is not None
    assert estimate.uncertainty_ms <= 1000
    assert abs(estimate.offset_ms - 120_000) <= estimate.uncertainty_ms + READ_MARGIN_MS
    assert clock_info["evidence"] == list(estimate.evidence)
    assert abs(clock_info["offset_ms"] - 120_000) <= 1000 + READ_MARGIN_MS


@pytest.mark.parametrize(("start", "step"), [(120.0, -120.0), (0.0, 120.0), (0.0, -120.0)])
async def test_a_clock_step_while_running_closes_nothing_early_and_loses_nothing(start: float, step: float) -> None:
    """NTP setting the host clock (backwards or forwards) mid-run: every minute closes once it ended, as served."""
    async with skewed(4, start, backfill_on_start="5m") as (h, watch, local):
        await watch.until(1)
        local.step(step)
        await watch.until(3)
        steps = [e.data["step"] for e in h.events_of("clock.step") if abs(e.data["step"]) > 10]
        estimate = h.source.exchange.estimate()
    watch.check()
    times = watch.times()
    assert times == list(range(times[0], times[-1] + 60_000, 60_000))
    assert steps == [pytest.approx(step, abs=1.0)]
    assert estimate is not None
    assert abs(estimate.offset_ms - (start + step) * 1000) <= 1000 + READ_MARGIN_MS


async def test_a_step_forward_does_not_make_a_quiet_market_look_stale() -> None:
    """The last frame's wall time moves with a clock step: its age stays what it was."""
    async with skewed(4, 0.0) as (h, watch, local):
        await watch.until(1)
        h.exchange.faults.stall = True  # no frame from here on
        await anyio.sleep(0.1)
        last = h.metric(names.LAST_FRAME, source="hyperliquid", coin="BTC", interval="1m")
        local.step(300.0)
        await h.wait_for(lambda: h.events_of("clock.step"))
        age = local.time() - h.metric(names.LAST_FRAME, source="hyperliquid", coin="BTC", interval="1m")
        assert h.metric(names.LAST_FRAME, source="hyperliquid", coin="BTC", interval="1m") >= last + 299
    assert age < 60  # clock seconds: without the shift it would be over 300
