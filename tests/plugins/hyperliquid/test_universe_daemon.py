"""The real daemon against a fake exchange listing a whole universe: sets, listings, limits, shards."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from candlewick.config import Settings
from candlewick.model import open_time
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.hyperliquid.source import HyperliquidSource
from candlewick.runtime.daemon import Daemon
from candlewick.testing import CoinSpec, FakeExchange, ScaledClock, full_universe
from candlewick.testing.daemon import running_daemon
from tests import polling

pytestmark = pytest.mark.anyio

PERPS = [c.name for c in full_universe() if c.kind == "perp" and ":" not in c.name]


def _settings(exchange: FakeExchange, tmp_path: Path, **source: Any) -> Settings:
    return Settings.model_validate(
        {
            "sources": {
                "hyperliquid": {
                    "ws_url": exchange.ws_url,
                    "rest_url": exchange.rest_url,
                    "intervals": ["1h"],
                    "backfill_on_start": "none",
                    "universe_refresh": 30,
                    **source,
                }
            },
            "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "candles.db")}},
            "daemon": {"data_dir": tmp_path / "data", "shutdown_timeout": 5},
        }
    )


@asynccontextmanager
async def _daemon(settings: Settings, clock: ScaledClock, backend: str) -> AsyncIterator[HyperliquidSource]:
    daemon = Daemon(settings, build_plugin_manager(), clock=clock, backend=backend)
    daemon.build()
    async with running_daemon(daemon):
        source = daemon.component("hyperliquid")
        assert isinstance(source, HyperliquidSource)
        yield source


async def _until(what: Callable[[], object], timeout: float = 20.0) -> None:
    await polling.wait_until(what, timeout=timeout, step=0.05)


def _subscribed(exchange: FakeExchange) -> set[tuple[str, str]]:
    return set(exchange.subscriptions())


async def test_sets_resolve_and_follow_listings_and_delistings(tmp_path: Path, anyio_backend: str) -> None:
    """260 coins from three sets; a new listing is subscribed, a delisted coin unsubscribed."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=3, clock=clock, coins=full_universe(), push_interval=30) as exchange:
        settings = _settings(exchange, tmp_path, coins=["*", "spot:*", "xyz:*"])
        async with _daemon(settings, clock, anyio_backend) as source:
            await _until(lambda: len(_subscribed(exchange)) == 260)
            coins = {c for c, _ in source.markets()}
            assert coins == {c.name for c in full_universe()}
            described = source.universe.describe()
            assert described is not None
            assert described["sets"] == {"*": 240, "spot:*": 12, "xyz:*": 8}
            assert len(source.links) == 3  # spread: about 100 subscriptions a connection

            exchange.list_coin(CoinSpec("FRESH", 12.0, 2, listed_at=exchange.now_ms()))
            exchange.delist_coin("P240")
            await _until(lambda: ("FRESH", "1h") in _subscribed(exchange))
            assert ("FRESH", "1h") in source.markets()
            await _until(lambda: ("P240", "1h") not in _subscribed(exchange))
            assert ("P240", "1h") not in source.markets()
            assert exchange.stats.unsubscribes == 1
        assert exchange.limits.violations == {}


def _all_back(exchange: FakeExchange, connections: int) -> bool:
    """All ten connections back and every market subscribed, after ``connections`` in all.

    Back means the state, not a count alone: a link whose resubscription a drop cut short
    connects twice in one storm and is already back when the next storm comes.
    """
    return (
        exchange.stats.ws_connections >= connections
        and exchange.connections == 10
        and len(_subscribed(exchange)) == 960
    )


async def test_limits_hold_through_a_reconnect_storm(tmp_path: Path, anyio_backend: str) -> None:
    """960 subscriptions over 10 connections; five mass drops in a row never break a per-IP limit."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=4, clock=clock, coins=full_universe(), push_interval=30) as exchange:
        settings = _settings(exchange, tmp_path, coins=["*"], intervals=["15m", "1h", "4h", "1d"])
        async with _daemon(settings, clock, anyio_backend) as source:
            await _until(lambda: len(_subscribed(exchange)) == 960)
            assert exchange.connections == 10
            for _ in range(5):  # every connection dropped as soon as all ten are back and subscribed
                target = exchange.stats.ws_connections + 10
                exchange.drop_connections()
                await _until(functools.partial(_all_back, exchange, target), timeout=40)
            assert exchange.stats.ws_connections >= 60
            stats = source.describe()["limits"]
            assert stats["subscriptions"] == [960, 1000]
            assert stats["connections"] == [10, 10]
        assert exchange.limits.violations == {}
        peaks = exchange.limits.peaks
        assert peaks["connections"] <= 10
        assert peaks["subscriptions"] <= 1000
        assert peaks["connects_per_minute"] <= 30
        assert peaks["messages_per_minute"] <= 2000


async def test_two_shards_cover_the_universe_without_overlap(tmp_path: Path, anyio_backend: str) -> None:
    """Two daemons with shard 1/2 and 2/2 follow every perp once between them."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=5, clock=clock, coins=full_universe(), push_interval=30) as exchange:
        one = _settings(exchange, tmp_path / "one", coins=["*"], shard="1/2")
        two = _settings(exchange, tmp_path / "two", coins=["*"], shard="2/2")
        async with _daemon(one, clock, anyio_backend) as a, _daemon(two, clock, anyio_backend) as b:
            await _until(lambda: len(exchange.subscriptions()) == 240)
            first, second = {c for c, _ in a.markets()}, {c for c, _ in b.markets()}
            assert not first & second
            assert first | second == set(PERPS)
            assert 80 < len(first) < 160
            assert sorted(exchange.subscriptions()) == sorted((c, "1h") for c in PERPS)
        assert exchange.limits.violations == {}


async def test_check_config_shows_what_the_sets_resolve_to(tmp_path: Path) -> None:
    """`candlewick check-config --json` asks the exchange and prints each set's size and the shard's share."""
    async with FakeExchange(seed=6, coins=full_universe()) as exchange:
        config = tmp_path / "candlewick.toml"
        config.write_text(
            "[sources.hyperliquid]\n"
            f'ws_url = "{exchange.ws_url}"\nrest_url = "{exchange.rest_url}"\n'
            'coins = ["*", "spot:*", "xyz:*"]\nintervals = ["1m", "1h"]\nshard = "1/3"\n'
        )
        done = await anyio.run_process(
            [sys.executable, "-m", "candlewick", "check-config", "--json", "--config", str(config)], check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    resolved = json.loads(done.stdout)["resolved"]["hyperliquid"]
    assert resolved["sets"] == {"*": 240, "spot:*": 12, "xyz:*": 8}
    assert resolved["coins"] == 260
    assert resolved["shard"] == "1/3"
    assert 60 < resolved["shard_coins"] < 110
    assert resolved["markets"] == 2 * resolved["shard_coins"]


def _derived_rows(db: Path, since: int) -> list[tuple[str, str, int, str, str, str, str, str, int]]:
    """Closed derived rows opening at or after ``since``: coin, interval, time and the values."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(
                "SELECT coin, interval, time, open, high, low, close, volume, trades FROM candles"
                " WHERE derived = 1 AND closed = 1 AND time >= ? ORDER BY coin, interval, time",
                (since,),
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet
            return []


async def test_every_perp_with_derived_intervals_within_the_limits(tmp_path: Path, anyio_backend: str) -> None:
    """``coins = ["*"]``: 1m subscribed, 3m and 5m derived; one subscription per perp, spread over
    connections; derived rows end equal to the exchange's own candles (reconciliation replaces any that differ)."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=7, clock=clock, coins=full_universe(), push_interval=5) as exchange:
        settings = _settings(
            exchange, tmp_path, coins=["*"], intervals=["1m", "3m", "5m"], derive=["3m", "5m"],
            reconcile_every=60, reconcile_delay=5,
            close_grace=10,  # the fake pushes a candle's last trades with its next round, up to 5 s late
        )  # fmt: skip
        started = exchange.now_ms()
        async with _daemon(settings, clock, anyio_backend) as source:
            await _until(lambda: source.running)
            assert source.following.derived_intervals == ("3m", "5m")
            await _until(lambda: len(_subscribed(exchange)) == 240)
            assert {i for _, i in _subscribed(exchange)} == {"1m"}
            assert exchange.connections == 3  # about 100 subscriptions a connection
            since = open_time("5m", started) + 5 * 60_000  # the first 5m bucket that opened after the start
            db = tmp_path / "candles.db"
            await _until(lambda: {i for _, i, *_ in _derived_rows(db, since)} == {"3m", "5m"}, 40)
            await _until(lambda: source.derived.checked >= 240, 40)  # a reconciliation round
            rows = _derived_rows(db, since)
            assert len({c for c, *_ in rows}) > 200  # nearly every perp has closed derived candles
            differing = _differing(exchange, rows)
            # A minute's last trades can reach a loaded daemon after its bucket closed: that derived
            # close differs until reconciliation finds it and stores the exchange's own candle.
            await _until(lambda: not _differing(exchange, _derived_rows(db, since)), 60)
            assert source.derived.mismatches >= len(differing)
        assert source.derived.fallbacks == []
        assert exchange.limits.violations == {}


def _differing(exchange: FakeExchange, rows: list[tuple[str, str, int, str, str, str, str, str, int]]) -> list[object]:
    """The derived rows whose values are not the exchange's own candle's (compared as decimals)."""
    out: list[object] = []
    for coin, interval, t, *values in rows:
        [native] = exchange.truth(coin, interval, t, t)
        want = [native.open, native.high, native.low, native.close, native.volume, native.trades]
        if [Decimal(str(v)) for v in values] != [Decimal(str(v)) for v in want]:
            out.append((coin, interval, t))
    return out
