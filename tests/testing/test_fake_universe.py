"""The fake's full universe, its listing schedule, its metadata per dex, and the per-IP limits it enforces."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest

from candlewick.plugins.hyperliquid.wsconn import ConnectionLost, connect
from candlewick.testing import FakeExchange, IpLimits, MarketModel, full_universe, schedule
from candlewick.testing._info import meta, perp_dexs

pytestmark = pytest.mark.anyio


def test_the_full_universe_has_majors_fast_and_a_slow_tail() -> None:
    coins = full_universe()
    perps = [c for c in coins if c.kind == "perp" and not c.dex]
    assert len(perps) == 240
    assert len([c for c in coins if c.kind == "spot"]) == 12
    assert {c.dex for c in coins if c.dex} == {"xyz"}
    assert perps[0].name == "BTC"
    assert perps[0].activity > 50
    assert perps[-1].activity < 1
    assert [c.activity for c in perps] == sorted((c.activity for c in perps), reverse=True)


def test_meta_follows_the_listing_schedule() -> None:
    now = 1_800_000_000_000
    coins = schedule(full_universe(), now_ms=now, every_ms=60_000, count=2)
    model = MarketModel(coins=coins)

    def names(at: int) -> dict[str, bool]:
        return {e["name"]: bool(e.get("isDelisted")) for e in meta(model, None, at)["universe"]}

    assert "NEW01" not in names(now)
    assert names(now + 60_000)["NEW01"] is False
    assert names(now + 60_000)["P240"] is False
    assert names(now + 90_000)["P240"] is True  # delisted half a period later, flagged
    delisted = model.coin("P240")
    assert delisted is not None
    assert model.trades(delisted, "1m", now + 120_000) == 0  # no trades after delisting
    dex = meta(model, "xyz", now)["universe"]
    assert [e["name"] for e in dex][:2] == ["xyz:D01", "xyz:D02"]
    assert perp_dexs(model)[0] is None
    assert perp_dexs(model)[1]["name"] == "xyz"


def test_ip_limits_count_and_refuse() -> None:
    subs = [0]
    conns = [0]
    limits = IpLimits(subscriptions=lambda: subs[0], connections=lambda: conns[0])
    for k in range(10):
        assert limits.connect(float(k))
        conns[0] += 1
    assert not limits.connect(10.0)  # an 11th open connection
    conns[0] = 0
    assert all(limits.connect(11.0 + k * 0.1) for k in range(19))
    assert not limits.connect(20.0)  # the 31st connect within a minute
    assert limits.violations == {"connections": 1, "connects_per_minute": 1}
    subs[0] = 1000
    assert not limits.subscribe()
    assert all(limits.message(100.0) for _ in range(2000))
    assert not limits.message(159.0)
    assert limits.message(160.5)


async def test_the_fake_refuses_an_eleventh_connection_and_a_1001st_subscription() -> None:
    async with FakeExchange(seed=1, coins=full_universe()) as ex, AsyncExitStack() as stack:
        sockets = []
        for _ in range(10):
            ws = await connect(ex.ws_url, open_timeout=2)
            stack.push_async_callback(ws.aclose)
            sockets.append(ws)
        with pytest.raises(ConnectionLost, match="429"):
            await connect(ex.ws_url, open_timeout=2)
        perps = [c.name for c in ex.model.coins if c.kind == "perp"]
        frames = [(coin, iv) for coin in perps for iv in ("1m", "5m", "15m", "1h", "4h")][:1001]
        ws = sockets[0]
        for coin, iv in frames:
            sub = {"type": "candle", "coin": coin, "interval": iv}
            await ws.send_text(json.dumps({"method": "subscribe", "subscription": sub}))
        errors: list[str] = []
        with anyio.fail_after(10):
            while len(ex.subscriptions()) < 1000 or not errors:
                text = await ws.recv()
                if '"error"' in text:
                    errors.append(json.loads(text)["data"])
        assert errors == ["Cannot subscribe to more than 1000 channels."]
        assert ex.limits.violations == {"connections": 1, "subscriptions": 1}
        async with httpx.AsyncClient() as client:
            answer = (await client.post(f"{ex.rest_url}/info", json={"type": "perpDexs"})).json()
        assert answer[1]["name"] == "xyz"
