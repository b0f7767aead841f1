"""Start-up history by gap repair's jobs: shortest horizon first, one request per market, resumed after a restart."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import anyio
import pytest

from candlewick.config import Settings
from candlewick.model import Candle
from candlewick.plugin import CandleOutlet, ComponentContext, SupportsBackfill
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.hyperliquid.backfill.history import HyperliquidHistory
from candlewick.plugins.hyperliquid.shard import Shard
from candlewick.runtime.clock import SystemClock
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.telemetry import Telemetry
from candlewick.testing import FakeExchange, ScaledClock, full_universe
from candlewick.testing.daemon import running_daemon

pytestmark = pytest.mark.anyio

COINS = ["BTC", "ETH", "SOL"]
INTERVALS = ["1d", "1h", "1m"]


def _settings(exchange: FakeExchange, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "sources": {
                "hyperliquid": {
                    "ws_url": exchange.ws_url, "rest_url": exchange.rest_url, "coins": COINS,
                    "intervals": INTERVALS, "backfill_on_start": "3d", "startup_history": "jobs",
                    "confirm_closed": False,
                },
                "hyperliquid-backfill": {"startup_delay": 1},
            },
            "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "candles.db")}},
            "daemon": {"data_dir": tmp_path / "data", "shutdown_timeout": 5},
        }
    )  # fmt: skip


async def _run(
    exchange: FakeExchange, tmp_path: Path, clock: ScaledClock, backend: str, *, jobs: int, idle: bool = False
) -> Daemon:
    """Run a daemon until ``jobs`` jobs are done (``idle``: and none is left), then stop it."""
    daemon = Daemon(_settings(exchange, tmp_path), build_plugin_manager(), clock=clock, backend=backend)
    daemon.build()
    async with running_daemon(daemon):
        backfill = daemon.component("hyperliquid-backfill")
        assert isinstance(backfill, SupportsBackfill)
        with anyio.fail_after(30):
            while True:
                listed = backfill.backfill_list()
                left = any(j["state"] in ("queued", "running") for j in listed)
                if sum(j["state"] == "done" for j in listed) >= jobs and not (idle and left):
                    break
                await anyio.sleep(0.05)
        queued = [j for j in backfill.backfill_list() if j["state"] == "queued"]
        assert all(j["eta"] is not None and j["eta"] > 0 for j in queued)  # every waiting job has an ETA
    return daemon


async def test_startup_history_goes_shortest_horizon_first_and_resumes(tmp_path: Path, anyio_backend: str) -> None:
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=2, clock=clock, push_interval=5, weight_per_minute=1200) as exchange:
        asked: list[tuple[str, str, int]] = []
        serve = exchange._info._snapshot

        def snapshot(coin: str, interval: str, start: int, end: int | None) -> list[Candle]:
            asked.append((coin, interval, start))
            return serve(coin, interval, start, end)

        exchange._info._snapshot = snapshot
        await _run(exchange, tmp_path, clock, anyio_backend, jobs=4)
        first = list(asked)
        assert [iv for _, iv, _ in first[:3]] == ["1m", "1m", "1m"]  # what the exchange forgets first goes first
        await _run(exchange, tmp_path, clock, anyio_backend, jobs=len(COINS) * len(INTERVALS), idle=True)
        fetched = {(c, iv) for c, iv, _ in asked}
        assert fetched == {(c, iv) for c in COINS for iv in INTERVALS}
        # a restart fetched again only what was missing: at most the one request in flight at the stop
        repeated = [m for m in fetched if len({t for c, iv, t in asked if (c, iv) == m}) < sum(
            1 for c, iv, _ in asked if (c, iv) == m)]  # fmt: skip
        assert len(repeated) <= 1, repeated

        now = exchange.now_ms()
        with sqlite3.connect(tmp_path / "candles.db") as db:
            for coin in COINS:
                rows = db.execute(
                    'SELECT "time" FROM candles WHERE coin = ? AND "interval" = ? AND closed = 1', (coin, "1h")
                ).fetchall()
                truth = exchange.truth(coin, "1h", now - 3 * 86_400_000, now - 3_600_000)
                assert {t for (t,) in rows} >= {c.open_time for c in truth}


async def test_standalone_history_resolves_the_market_sets(tmp_path: Path) -> None:
    """Without a running source (``candlewick backfill`` standalone) the sets of ``coins`` are
    resolved from the exchange's metadata, within the shard, as the source would."""
    async with FakeExchange(seed=8, coins=full_universe()) as exchange:
        settings = Settings.model_validate({
            "sources": {"hyperliquid": {"ws_url": exchange.ws_url, "rest_url": exchange.rest_url,
                                        "coins": ["*", "PURR/USDC"], "intervals": ["1h", "1m"], "shard": "1/2"}},
        })  # fmt: skip
        clock = SystemClock()
        send, receive = anyio.create_memory_object_stream[Candle](1)
        ctx = ComponentContext(
            name="hyperliquid-backfill", config=None, settings=settings, telemetry=Telemetry(clock), clock=clock,
            log=logging.LoggerAdapter(logging.getLogger("test"), {}), candles=CandleOutlet(send),
        )  # fmt: skip
        history = HyperliquidHistory(ctx)
        assert {c for c, _ in history.markets()} <= {"PURR/USDC"}  # before: the names only
        try:
            await history.ready()
            markets = list(history.markets())
        finally:
            await history.aclose()
            send.close()
            receive.close()
    perps = [c.name for c in full_universe() if c.kind == "perp" and ":" not in c.name]
    mine = Shard.parse("1/2").share([*perps, "PURR/USDC"])
    assert sorted(markets) == sorted((c, i) for c in mine for i in ("1m", "1h"))
    assert [i for _, i in markets[: len(mine)]] == ["1m"] * len(mine)  # shortest horizon first
