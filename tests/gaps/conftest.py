"""A daemon against the fake exchange, on a fast clock, storing into a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import sniffio

from candlewick.config import Settings
from candlewick.gaps.component import GapRepair
from candlewick.model import Candle
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.clock import Clock
from candlewick.runtime.daemon import Daemon
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.daemon import running_daemon
from tests.plugins.storage.helpers import sqlite_sink, start

#: Clock speed of integration tests: one candle minute per real second.
SPEED = 60.0

#: Live source timings scaled for SPEED (clock seconds).
LIVE: dict[str, Any] = {
    "coins": ["BTC"],
    "intervals": ["1m"],
    "backfill_on_start": "none",
    "ping_interval": 20.0,
    "pong_timeout": 10.0,
    "open_timeout": 60.0,
    "reconnect_initial": 1.0,
    "reconnect_max": 5.0,
    "healthy_after": 30.0,
    "rest_timeout": 300.0,
    "rest_retries": 8,
    "close_grace": 2.0,
}

#: Gap repair timings for SPEED (clock seconds).
REPAIR: dict[str, Any] = {
    "startup_delay": 5.0,
    "reconnect_settle": 5.0,
    "check_every": 60.0,
    "grace": 10.0,
    "verify_timeout": 120.0,
    "recheck_after": 180.0,
}


@dataclass
class Rig:
    """The fake exchange, a shared fast clock, and paths for one daemon's files."""

    exchange: FakeExchange
    clock: ScaledClock
    tmp: Path

    @property
    def db(self) -> Path:
        return self.tmp / "candles.db"

    def settings(
        self,
        live: dict[str, Any] | None = None,
        repair: dict[str, Any] | None = None,
        sink: dict[str, Any] | None = None,
    ) -> Settings:
        source = {**LIVE, "ws_url": self.exchange.ws_url, "rest_url": self.exchange.rest_url, **(live or {})}
        sources: dict[str, Any] = {"hyperliquid": source}
        if repair is not None:
            sources["hyperliquid-backfill"] = {**REPAIR, **repair}
        return Settings.model_validate(
            {
                "sources": sources,
                "sink": sink or {"use": "sqlite", "sqlite": {"path": str(self.db), "synchronous": "NORMAL"}},
                "buffer": {"use": "memory", "memory": {"flush_interval": 1.0}},
                "spool": {"dir": self.tmp / "spool"},
                "daemon": {"data_dir": self.tmp / "data", "shutdown_timeout": 600.0},
            }
        )

    @asynccontextmanager
    async def daemon(self, settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Daemon]:
        """Run a daemon (gap repair beside its source) until the block ends, then shut it down.

        ``clock`` is the daemon's (default: the exchange's; a ``SkewedClock`` plays a wrong host clock).
        """
        daemon = Daemon(
            settings,
            build_plugin_manager(),
            clock=clock or self.clock,
            backend=sniffio.current_async_library(),
        )
        daemon.build()
        async with running_daemon(daemon):
            yield daemon

    def stored(self, coin: str, interval: str) -> list[tuple[Any, ...]]:
        """Closed rows in the database: (time, open, high, low, close, volume, trades)."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return conn.execute(
                    "SELECT time, open, high, low, close, volume, trades FROM candles"
                    " WHERE coin=? AND interval=? AND closed=1 ORDER BY time",
                    (coin, interval),
                ).fetchall()
            except sqlite3.OperationalError:  # the sink has not created the table yet
                return []

    def truth(self, coin: str, interval: str, start: int, end: int) -> list[tuple[Any, ...]]:
        return [_row(c) for c in self.exchange.truth(coin, interval, start, end)]

    async def wait_until(self, what: Callable[[], object], *, timeout: float = 30.0, step: float = 0.05) -> None:
        """Poll ``what()`` every ``step`` real seconds; fail after ``timeout`` real seconds."""
        with anyio.fail_after(timeout):
            while not what():
                await anyio.sleep(step)

    async def sleep(self, clock_seconds: float) -> None:
        await self.clock.sleep(clock_seconds)


async def seed(rig: Rig, coin: str, interval: str, start_ms: int, end_ms: int) -> int:
    """Store the exchange's closed candles of [start_ms, end_ms] through the real SQLite sink."""
    candles = [c.as_closed() for c in rig.exchange.truth(coin, interval, start_ms, end_ms)]
    sink = sqlite_sink(rig.db, clock=rig.clock)
    async with anyio.create_task_group() as tg:
        await start(tg, sink)
        await sink.write(candles)
        tg.cancel_scope.cancel()
    return len(candles)


def _row(c: Candle) -> tuple[Any, ...]:
    return (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades)


def repair_of(daemon: Daemon) -> GapRepair:
    component = daemon.components["hyperliquid-backfill"]
    assert isinstance(component, GapRepair)
    return component


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = ScaledClock(SPEED)
    async with FakeExchange(seed=5, clock=clock, push_interval=6.0) as exchange:
        yield Rig(exchange, clock, tmp_path)
