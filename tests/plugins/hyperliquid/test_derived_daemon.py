"""Derived intervals end to end: the real daemon, the fake exchange, SQLite, the control socket.

On a 60x clock (one candle minute per real second) the daemon subscribes 1m natively and
derives 3m and 5m. The derived rows must equal the exchange's own candles (the fake's higher
intervals are the exact fold of its 1m candles); with the fake's native candles told to
differ, reconciliation must count the mismatch, replace the row with the exchange's candle
(marked not derived) and, after repeated mismatches, subscribe the market natively.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from candlewick.config import Settings
from candlewick.control.client import ControlClient
from candlewick.model import open_time
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime import names
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.daemon import running_daemon
from tests import polling

pytestmark = pytest.mark.anyio

Row = tuple[int, str, str, str, str, str, int, int]


@dataclass
class Run:
    daemon: Daemon
    exchange: FakeExchange
    db: Path
    socket: Path
    started: int

    async def stats(self) -> Any:
        async with ControlClient.connect(self.socket) as client:
            return await client.call("stats")

    def rows(self, interval: str) -> dict[int, Row]:
        """Closed BTC rows of ``interval`` opening after the daemon started: time -> values and derived."""
        if not self.db.exists():
            return {}
        with sqlite3.connect(self.db) as conn:
            try:
                found = conn.execute(
                    "SELECT time, open, high, low, close, volume, trades, derived FROM candles"
                    " WHERE coin = 'BTC' AND interval = ? AND closed = 1 AND time >= ? ORDER BY time",
                    (interval, open_time(interval, self.started)),
                ).fetchall()
            except sqlite3.OperationalError:  # no table yet
                return {}
        return {r[0]: r for r in found}

    def truth(self, interval: str, t: int) -> Row:
        [c] = self.exchange.truth("BTC", interval, t, t)
        return (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades)  # type: ignore[return-value]

    def metric(self, name: str, **labels: str) -> float:
        return self.daemon.telemetry.metrics.value(name, **labels)


@asynccontextmanager
async def running(tmp_path: Path, **source: object) -> AsyncIterator[Run]:
    clock = ScaledClock(60.0)
    short = tempfile.TemporaryDirectory(prefix="cw-", dir="/tmp")
    exchange = FakeExchange(seed=5, clock=clock, push_interval=2.0)
    db = tmp_path / "candles.db"
    with short:
        socket = Path(short.name) / "c.sock"
        async with exchange:
            settings = Settings.model_validate(
                {
                    "sources": {
                        "hyperliquid": {
                            "ws_url": exchange.ws_url, "rest_url": exchange.rest_url, "coins": ["BTC"],
                            "intervals": ["1m", "3m", "5m"], "derive": ["3m", "5m"], "backfill_on_start": "30m",
                            "close_grace": 2.0, "confirm_delay": 5.0, "reconcile_every": 30.0,
                            "reconcile_delay": 5.0, "rest_timeout": 300.0, **source,
                        },
                        "hyperliquid-backfill": {"detect": False},
                    },
                    "sink": {"use": "sqlite", "sqlite": {"path": str(db)}},
                    "buffer": {"use": "memory", "memory": {"flush_interval": 1.0}},
                    "control": {"socket": str(socket)},
                    "daemon": {"data_dir": tmp_path / "data", "shutdown_timeout": 600.0},
                }
            )  # fmt: skip
            daemon = Daemon(settings, build_plugin_manager(), clock=clock, services=default_services())
            daemon.build()
            async with running_daemon(daemon):
                yield Run(daemon, exchange, db, socket, exchange.now_ms())


async def wait_until(what: Callable[[], object], timeout: float = 40.0) -> None:
    await polling.wait_until(what, timeout=timeout, step=0.1)


async def test_derived_candles_equal_the_exchanges_and_are_marked_derived(tmp_path: Path) -> None:
    """Only 1m is subscribed; closed 3m and 5m rows are derived, equal the exchange's candles, and
    reconciliation finds no difference (stats and the Prometheus counter say so)."""
    async with running(tmp_path) as run:
        assert set(run.exchange.subscriptions()) <= {("BTC", "1m")}
        await wait_until(lambda: len(run.rows("5m")) >= 3 and len(run.rows("3m")) >= 5)
        await wait_until(
            lambda: run.metric(names.DERIVED_CHECKED, source="hyperliquid", coin="BTC", interval="5m") >= 2
        )
        assert run.exchange.subscriptions() == [("BTC", "1m")]
        for interval in ("3m", "5m"):
            rows = run.rows(interval)
            live = [r for t, r in rows.items() if t > run.started]  # buckets begun after the start-up
            assert live
            assert all(r[7] == 1 for r in live), "derived rows say so"
            for row in live:
                truth = run.truth(interval, row[0])
                assert row[:5] == truth[:5]
                assert (Decimal(row[5]), row[6]) == (Decimal(truth[5]), truth[6])
        stats = await run.stats()
        assert stats["derived_mismatches"] == 0
        assert stats["derived_checked"] >= 2
        five = next(m for m in stats["markets"] if m["interval"] == "5m")
        assert five["derived"] is True
        assert five["lag"] is not None, "a derived market is as fresh as its 1m feed"
        async with ControlClient.connect(run.socket) as client:
            health = await client.call("health")
        assert all(c["ok"] for c in health["checks"] if c["name"].startswith("market:")), health


async def test_a_differing_exchange_candle_replaces_the_row_and_repeated_ones_fall_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fake's native 5m candles differ from the fold of its 1m candles: each reconciliation
    counts a mismatch and stores the exchange's candle (not derived); after two in a row the
    market is subscribed natively, with a warning."""
    caplog.set_level(logging.WARNING, logger="candlewick.plugins.hyperliquid")
    async with running(tmp_path, derive_fallback_after=2) as run:
        run.exchange.model.differs[("BTC", "5m")] = 1
        labels = {"source": "hyperliquid", "coin": "BTC", "interval": "5m"}
        await wait_until(lambda: run.metric(names.DERIVED_MISMATCHES, **labels) >= 1, timeout=60)
        await wait_until(lambda: any(r[7] == 0 for t, r in run.rows("5m").items() if t > run.started))
        replaced = [r for t, r in run.rows("5m").items() if t > run.started and r[7] == 0]
        for row in replaced:
            truth = run.truth("5m", row[0])
            assert (*row[:5], row[6]) == (*truth[:5], truth[6])
        assert run.metric(names.DERIVED_MISMATCHES, source="hyperliquid", coin="BTC", interval="3m") == 0
        await wait_until(lambda: ("BTC", "5m") in run.exchange.subscriptions(), timeout=60)
        assert run.metric(names.DERIVED, **labels) == 0
        assert any("subscribing it natively" in r.getMessage() for r in caplog.records)
        stats = await run.stats()
        five = next(m for m in stats["markets"] if m["interval"] == "5m")
        assert five["derived"] is False
        assert five["derived_mismatches"] >= 2
        assert stats["derived_mismatches"] >= 2
