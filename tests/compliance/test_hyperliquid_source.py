"""Our Hyperliquid source passes the source suite, fed by the fake exchange over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from candlewick.model import Candle
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.compliance import SourceFeed, SourceSuite

#: 1m candles close every half second of real time on a 120x clock.
SPEED = 120


class ExchangeFeed(SourceFeed):
    """The fake exchange's fault switches, as the suite's feed."""

    def __init__(self, exchange: FakeExchange, clock: ScaledClock) -> None:
        super().__init__(clock)
        self.exchange = exchange

    def options(self) -> dict[str, Any]:
        return {
            "ws_url": self.exchange.ws_url, "rest_url": self.exchange.rest_url,
            "coins": ["BTC"], "intervals": ["1m"], "backfill_on_start": "none",
            "ping_interval": 20, "pong_timeout": 10, "close_grace": 2,
            "reconnect_initial": 0.5, "reconnect_max": 2, "healthy_after": 5,
        }  # fmt: skip

    def expected(self, candle: Candle) -> Candle | None:
        truth = self.exchange.truth(candle.coin, candle.interval, candle.open_time, candle.open_time)
        return truth[0] if truth else None

    def extra_market(self) -> tuple[str, str]:
        return ("ETH", "1m")

    def set_duplicates(self, on: bool) -> None:
        self.exchange.faults.duplicates = on

    def set_out_of_order(self, on: bool) -> None:
        self.exchange.faults.out_of_order = on

    async def send_malformed(self) -> int:
        before = self.exchange.stats.garbage_frames
        await self.exchange.inject_garbage()
        return self.exchange.stats.garbage_frames - before

    def drop_connection(self) -> None:
        assert self.exchange.drop_connections() > 0


class TestHyperliquidSource(SourceSuite):
    plugin = "hyperliquid"

    @pytest.fixture
    async def feed(self) -> AsyncIterator[ExchangeFeed]:
        clock = ScaledClock(speed=SPEED)
        async with FakeExchange(seed=5, clock=clock, push_interval=1.0) as exchange:
            yield ExchangeFeed(exchange, clock)
