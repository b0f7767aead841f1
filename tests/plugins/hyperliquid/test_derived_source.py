"""The source alone: a configuration over the per-IP limit derives intervals, says so, and keeps the limit."""

from __future__ import annotations

import logging

import pytest

from candlewick.model import INTERVALS
from candlewick.testing import DEFAULT_COINS, FakeExchange

from .conftest import running_source

pytestmark = pytest.mark.anyio


async def test_over_the_limit_the_shortest_intervals_are_derived_and_the_limit_kept(
    exchange: FakeExchange, caplog: pytest.LogCaptureFixture
) -> None:
    """9 coins x 14 intervals with 10 subscriptions per connection (100 per IP over 10 connections):
    3m, 5m and 15m are derived, the start-up log says so, and the exchange never sees more than 100."""
    caplog.set_level(logging.WARNING, logger="candlewick.plugins.hyperliquid")
    coins = [c.name for c in DEFAULT_COINS]
    async with running_source(
        exchange,
        coins=coins,
        intervals=list(INTERVALS),
        max_subscriptions_per_connection=10,
        backfill_on_start="30m",
        startup_history="live",  # the 1m history covers the running 15m bucket: derived at once
    ) as h:
        said = [r.getMessage() for r in caplog.records if "over the limit" in r.getMessage()]
        assert said == [
            "hyperliquid: 9 coins x 14 subscribed intervals would need 126 subscriptions, over the limit of 100 "
            "per IP: deriving 3m, 5m, 15m from 1m candles instead (99 subscriptions)"
        ]
        await h.wait_for(lambda: len(exchange.subscriptions()) == 99)
        assert exchange.connections == 10
        assert not {i for _, i in exchange.subscriptions()} & {"3m", "5m", "15m"}
        await h.wait_for(lambda: any(c.derived and c.interval == "15m" for c in h.candles))
        assert all(c.interval in ("3m", "5m", "15m") for c in h.candles if c.derived)
        assert set(h.source.markets()) == {(c, i) for c in coins for i in INTERVALS}
        assert h.source.describe()["derived"]["markets"][:3] == ["@1/15m", "@1/3m", "@1/5m"]


async def test_a_quiet_market_is_alive_while_its_connection_is(exchange: FakeExchange) -> None:
    """``feed_alive`` (health's answer to a market without frames): its subscription's connection is up;
    a derived market answers for its coin's 1m; nothing is alive once the exchange is gone."""
    async with running_source(exchange, coins=["BTC"], intervals=["1m", "5m"], derive=["5m"]) as h:
        await h.wait_for(lambda: ("BTC", "1m") in exchange.subscriptions())
        await h.wait_for(lambda: h.source.feed_alive("BTC", "1m"))
        assert h.source.feed_alive("BTC", "5m")  # derived: alive through the 1m subscription
        assert not h.source.feed_alive("ETH", "1m")  # not followed
        exchange.go_offline()
        await h.wait_for(lambda: not h.source.feed_alive("BTC", "1m"))
        assert not h.source.feed_alive("BTC", "5m")
