"""The fake's higher intervals are the exact aggregate of its 1m candles, unless told to differ."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlewick.model import INTERVALS, MINUTE_MS, Candle, next_open, open_time
from candlewick.plugins.hyperliquid.protocol import parse_candle_list
from candlewick.plugins.hyperliquid.wsconn import connect
from candlewick.testing import FakeExchange, MarketModel

pytest_plugins = ["candlewick.testing.fixtures"]

#: 2025-01-01 .. 2026-06-01
TIMES = st.integers(1_735_689_600_000, 1_780_272_000_000)


def aggregate(minutes: list[Candle]) -> tuple[str, Decimal, Decimal, str, Decimal, int]:
    return (
        minutes[0].open,
        max(Decimal(m.high) for m in minutes),
        min(Decimal(m.low) for m in minutes),
        minutes[-1].close,
        sum((Decimal(m.volume) for m in minutes), Decimal(0)),
        sum(m.trades for m in minutes),
    )


def values(c: Candle) -> tuple[str, Decimal, Decimal, str, Decimal, int]:
    return (c.open, Decimal(c.high), Decimal(c.low), c.close, Decimal(c.volume), c.trades)


def minutes_of(model: MarketModel, coin: str, start: int, end: int) -> list[Candle]:
    return [c for t in range(start, end, MINUTE_MS) if (c := model.candle(coin, "1m", t)) is not None]


@settings(max_examples=12, deadline=None)
@given(TIMES, st.sampled_from([i for i in INTERVALS if i != "1m"]), st.booleans(), st.integers(0, 3))
def test_every_final_candle_folds_its_minutes(ts: int, interval: str, sparse: bool, seed: int) -> None:
    """Open, high, low, close, volume and trades of any interval equal the fold of its 1m candles."""
    model = MarketModel(seed=seed, sparse={"SOL"} if sparse else set())
    t = open_time(interval, ts)
    candle = model.candle("SOL", interval, t)
    minutes = minutes_of(model, "SOL", t, next_open(interval, t))
    if candle is None:  # a sparse coin's few minutes may all be quiet
        assert sparse
        assert not minutes
        return
    assert values(candle) == aggregate(minutes)
    assert Decimal(candle.low) <= min(Decimal(candle.open), Decimal(candle.close))
    assert Decimal(candle.high) >= max(Decimal(candle.open), Decimal(candle.close))


@settings(max_examples=20, deadline=None)
@given(TIMES, st.sampled_from(INTERVALS), st.integers(0, 59_999))
def test_the_open_candle_folds_the_minutes_so_far(ts: int, interval: str, into_minute: int) -> None:
    """What the websocket pushes for an open candle is the fold of the closed minutes and the open one."""
    model = MarketModel(seed=1, sparse={"kPEPE"})
    now = open_time("1m", ts) + into_minute
    state = model.state("kPEPE", interval, now)
    minutes = minutes_of(model, "kPEPE", open_time(interval, now), open_time("1m", now))
    current = model.state("kPEPE", "1m", now)
    minutes += [current] if current is not None else []
    if not minutes:
        assert state is None
        return
    assert state is not None
    assert values(state) == aggregate(minutes)


def test_differs_makes_chosen_native_candles_differ_from_the_aggregate() -> None:
    model = MarketModel(seed=0, differs={("BTC", "5m"): 2})
    t = open_time("5m", 1_760_000_000_000)
    minutes = minutes_of(model, "BTC", t, t + 5 * MINUTE_MS)
    even = t if (t // (5 * MINUTE_MS)) % 2 == 0 else t + 5 * MINUTE_MS
    odd = even + 5 * MINUTE_MS
    for start, differs in ((even, True), (odd, False)):
        minutes = minutes_of(model, "BTC", start, start + 5 * MINUTE_MS)
        candle = model.candle("BTC", "5m", start)
        assert candle is not None
        assert (values(candle) != aggregate(minutes)) is differs
    other = model.candle("BTC", "15m", open_time("15m", even))
    assert other is not None
    assert values(other) == aggregate(minutes_of(model, "BTC", other.open_time, other.close_time + 1))


@pytest.mark.anyio
async def test_rest_and_websocket_serve_the_aggregate_and_the_fault(fake_exchange: FakeExchange) -> None:
    """candleSnapshot of 1h and 1w equals the fold of its 1m history; a differing market differs on
    the websocket too."""
    now = fake_exchange.now_ms()
    async with httpx.AsyncClient() as client:

        async def snapshot(interval: str, start: int) -> list[Candle]:
            req = {"coin": "ETH", "interval": interval, "startTime": start, "endTime": now}
            resp = await client.post(
                fake_exchange.rest_url + "/info", content=json.dumps({"type": "candleSnapshot", "req": req})
            )
            return parse_candle_list(resp.content, now_ms=now)

        minutes = await snapshot("1m", now - 3 * 3_600_000)
        hours = [h for h in await snapshot("1h", now - 2 * 3_600_000) if h.closed]
        assert hours
        for hour in hours:
            inside = [m for m in minutes if hour.open_time <= m.open_time <= hour.close_time]
            assert values(hour) == aggregate(inside)
    fake_exchange.model.differs[("ETH", "1m")] = 1
    conn = await connect(fake_exchange.ws_url)
    try:
        await conn.send_text(
            json.dumps({"method": "subscribe", "subscription": {"type": "candle", "coin": "ETH", "interval": "1m"}})
        )
        with anyio.fail_after(5):
            while True:
                text = await conn.recv()
                if text.startswith('{"channel":"candle"'):
                    data = json.loads(text)["data"]
                    break
    finally:
        await conn.aclose()
    plain = MarketModel(seed=fake_exchange.model.seed)
    versions = {c.trades: c for e in range(0, 60_000, 20) if (c := plain.state("ETH", "1m", data["t"] + e))}
    aggregate_version = versions[data["n"] - 1]  # the aggregate as it stood when the frame was pushed
    assert Decimal(data["v"]) > Decimal(aggregate_version.volume)
    assert (data["o"], data["h"], data["l"], data["c"]) == (
        aggregate_version.open, aggregate_version.high, aggregate_version.low, aggregate_version.close,
    )  # fmt: skip


def test_simulate_differs_option_reads_market_and_period() -> None:
    from candlewick.commands.simulate import _market_period

    assert _market_period("BTC/5m") == (("BTC", "5m"), 1)
    assert _market_period("PURR/USDC/1h:3") == (("PURR/USDC", "1h"), 3)
    for bad in ("BTC/7m", "/5m", "BTC/5m:0", "BTC/5m:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            _market_period(bad)
