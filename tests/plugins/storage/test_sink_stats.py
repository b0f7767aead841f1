"""Sink statistics: closed candles of today (UTC) are counted once each, per market."""

from __future__ import annotations

import pytest

from candlewick.model import DAY_MS, Candle
from candlewick.plugins._storage.stats import SinkStats
from candlewick.runtime import names
from candlewick.runtime.clock import ManualClock
from candlewick.runtime.telemetry import Telemetry

pytestmark = pytest.mark.anyio

DAY = 20_000  # days since the epoch
START = DAY * DAY_MS / 1000 + 3600.0  # 01:00 UTC that day


def candle(t: int, *, closed: bool = True, coin: str = "BTC") -> Candle:
    return Candle(coin, "1m", t, t + 59_999, "1", "1", "1", "1", "1", 1, closed)


async def test_counts_closed_candles_of_today_once_and_starts_over_at_midnight() -> None:
    clock = ManualClock(start=START)
    telemetry = Telemetry(clock)
    stats = SinkStats(telemetry, "sqlite")
    today = DAY * DAY_MS
    yesterday = today - 60_000

    def count(coin: str = "BTC") -> float:
        return telemetry.metrics.value(names.CANDLES_TODAY, sink="sqlite", coin=coin, interval="1m")

    stats.committed([candle(today), candle(today + 60_000), candle(yesterday), candle(today + 120_000, closed=False)])
    stats.committed([candle(today)])  # the same candle again (REST confirmation): counted once
    stats.committed([candle(today, coin="ETH")])
    assert (count(), count("ETH")) == (2, 1)
    await clock.advance(23 * 3600)  # the next UTC day
    assert count() == 0
    stats.committed([candle(today + DAY_MS)])
    assert count() == 1
