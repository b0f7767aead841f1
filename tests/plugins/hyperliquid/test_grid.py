"""The exchange's grid end to end: weekly candles stored, and an exchange aligned otherwise made loud.

A real daemon (control socket, gap repair, SQLite sink) against the fake exchange on a fast
clock; health and stats are read over the real control socket. The resolution of a mismatch
is followed on the source alone, with the exchange's clock set to a Saturday.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from candlewick.commands.ctl import render_health
from candlewick.config import Settings
from candlewick.control.client import ControlClient
from candlewick.gaps.component import GapRepair
from candlewick.model import DAY_MS, open_time
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime import names
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.daemon import running_daemon
from tests import polling

from .conftest import BUSY_COINS, running_source

pytestmark = pytest.mark.anyio

#: One candle minute per real second.
SPEED = 60.0
#: The fake exchange's weeks opening on Monday, three days after Hyperliquid's Thursday.
MONDAY_WEEKS = {"1w": 4 * DAY_MS}


@dataclass
class Running:
    daemon: Daemon
    exchange: FakeExchange
    db: Path
    socket: Path

    async def call(self, method: str) -> Any:
        async with ControlClient.connect(self.socket) as client:
            return await client.call(method)

    def rows(self, interval: str) -> list[tuple[int, str, str, int]]:
        """Closed BTC rows: (time, open, close, trades)."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return conn.execute(
                    "SELECT time, open, close, trades FROM candles WHERE coin='BTC' AND interval=? AND closed=1"
                    " ORDER BY time",
                    (interval,),
                ).fetchall()
            except sqlite3.OperationalError:  # no table yet
                return []

    def truth(self, interval: str) -> list[tuple[int, str, str, int]]:
        now = self.exchange.now_ms()
        return [(c.open_time, c.open, c.close, c.trades) for c in self.exchange.truth("BTC", interval, 0, now)]

    def metric(self, name: str, **labels: str) -> float:
        return self.daemon.telemetry.metrics.value(name, **labels)

    @property
    def repair(self) -> GapRepair:
        component = self.daemon.components["hyperliquid-backfill"]
        assert isinstance(component, GapRepair)
        return component


@asynccontextmanager
async def running(
    tmp_path: Path, intervals: list[str], grid_shift: dict[str, int] | None = None
) -> AsyncIterator[Running]:
    """The fake exchange and a daemon following BTC ``intervals`` with all history (``max``)."""
    clock = ScaledClock(SPEED)
    # A short directory for the control socket (Unix socket paths are limited to 107 bytes).
    short = tempfile.TemporaryDirectory(prefix="cw-", dir="/tmp")
    exchange = FakeExchange(seed=4, clock=clock, push_interval=6.0, grid_shift=grid_shift)
    with short:
        async with exchange, _daemon(tmp_path, Path(short.name) / "c.sock", exchange, clock, intervals) as run:
            yield run


@asynccontextmanager
async def _daemon(
    tmp_path: Path, socket: Path, exchange: FakeExchange, clock: ScaledClock, intervals: list[str]
) -> AsyncIterator[Running]:
    db = tmp_path / "candles.db"
    settings = Settings.model_validate(
        {
            "sources": {
                "hyperliquid": {
                    "ws_url": exchange.ws_url, "rest_url": exchange.rest_url, "coins": ["BTC"],
                    "intervals": intervals, "backfill_on_start": "max", "close_grace": 2.0,
                    "ping_interval": 20.0, "pong_timeout": 10.0, "rest_timeout": 300.0,
                },
                "hyperliquid-backfill": {"startup_delay": 5.0, "check_every": 60.0, "confirm_delay": 1.0},
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
        yield Running(daemon, exchange, db, socket)


async def wait_until(what: Callable[[], object], timeout: float = 20.0) -> None:
    await polling.wait_until(what, timeout=timeout, step=0.05)


def weekday(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%a")


async def test_weekly_candles_are_stored_on_thursdays(tmp_path: Path) -> None:
    """``intervals = ["1w"]``: every weekly candle the exchange has is stored, opening on Thursday."""
    async with running(tmp_path, ["1w"]) as run:
        truth = run.truth("1w")
        assert len(truth) > 100
        await wait_until(lambda: len(run.rows("1w")) >= len(truth))
        assert run.rows("1w")[: len(truth)] == truth
        assert {weekday(t) for t, *_ in run.rows("1w")} == {"Thu"}
        assert run.metric(names.GRID_MISMATCH, source="hyperliquid", coin="BTC", interval="1w") == 0
        assert run.metric(names.MALFORMED, source="hyperliquid") == 0
        health = await run.call("health")
        assert not [c for c in health["checks"] if c["name"].startswith("grid:")]
        stats = await run.call("stats")
        assert [m["grid_mismatch"] for m in stats["markets"]] == [None]


async def test_an_exchange_aligned_otherwise_is_stored_and_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Monday weeks: every candle is stored as sent, health names the mismatch, the log says it once,
    gap repair counts no holes or losses for the market, and a user's backfill still stores the span."""
    caplog.set_level(logging.INFO, logger="candlewick.runtime.gridreport")
    async with running(tmp_path, ["1w", "1d"], grid_shift=MONDAY_WEEKS) as run:
        truth = run.truth("1w")
        assert {weekday(t) for t, *_ in truth} == {"Mon"}
        await wait_until(lambda: len(run.rows("1w")) >= len(truth) and len(run.rows("1d")) >= 900)
        assert run.rows("1w")[: len(truth)] == truth
        frames = run.metric(names.CANDLES_IN, source="hyperliquid", coin="BTC", interval="1w")
        await wait_until(
            lambda: run.metric(names.CANDLES_IN, source="hyperliquid", coin="BTC", interval="1w") > frames + 3
        )

        first = truth[0][0]  # 2023-05-01, a Monday: the first week of the first REST page
        expected = open_time("1w", first)
        health = await run.call("health")
        assert health["status"] == "degraded"
        grid = [c for c in health["checks"] if c["name"].startswith("grid:")]
        assert grid == [
            {
                "name": "grid:hyperliquid:BTC:1w",
                "ok": False,
                "detail": "grid mismatch: the exchange opened a 1w candle at 2023-05-01 00:00 UTC (Mon), "
                "candlewick's grid expects 2023-04-27 00:00 UTC (Thu); candles are stored as sent, "
                "gap repair is paused for this market",
            }
        ]
        shown = render_health(health)  # what `candlewick ctl health` prints
        assert shown.startswith("degraded\n")
        line = next(line for line in shown.splitlines() if "grid:" in line)
        assert line.split()[:2] == ["BAD", "grid:hyperliquid:BTC:1w"]
        assert "the exchange opened a 1w candle at 2023-05-01 00:00 UTC (Mon)" in line
        stats = await run.call("stats")
        rows = {m["interval"]: m["grid_mismatch"] for m in stats["markets"]}
        assert rows == {"1w": {"expected": expected, "seen": first}, "1d": None}
        status = await run.call("status")
        assert status["daemon"]["health"] == "degraded"
        source = next(c for c in status["components"] if c["name"] == "hyperliquid")
        assert source["grid_mismatch"] == ["BTC/1w"]
        events = [e for e in (await run.call("events.recent"))["events"] if e["kind"] == names.EV_GRID_MISMATCH]
        assert [(e["data"]["interval"], e["data"]["seen"]) for e in events] == [("1w", first)]

        # Gap repair's start-up and periodic checks ran (1 s real each) and left the market alone.
        await anyio.sleep(2.5)
        labels = {"coin": "BTC", "interval": "1w"}
        assert run.metric(names.GAPS_FOUND, **labels) == 0
        assert run.metric(names.PERMANENT_LOSSES, **labels) == 0
        assert not [j for j in run.repair.backfill_list() if j["interval"] == "1w"]
        # A user's backfill of the market stores what the exchange has, holes or not.
        await run.repair.backfill_start("BTC", ["1w"], None)

        def weekly() -> list[dict[str, Any]]:
            return [j for j in run.repair.backfill_list() if j["interval"] == "1w"]

        await wait_until(lambda: [j["state"] for j in weekly()] == ["done"])
        assert weekly()[0]["fetched"] >= len(truth) - 1
        assert run.metric(names.GAPS_FOUND, **labels) == 0
        assert run.repair.engine is not None
        assert run.repair.engine.ledger.market("BTC", "1w").empty == []
        assert run.rows("1w")[: len(truth)] == truth
        assert (await run.call("health"))["status"] == "degraded"
    said = [r for r in caplog.records if "grid mismatch" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.WARNING
    assert "BTC/1w" in said[0].getMessage()


async def test_a_mismatch_is_resolved_when_the_exchange_is_back_on_the_grid() -> None:
    """The exchange returns to Thursday weeks: the next weekly candle (newer than its last Monday week)
    resolves the mismatch, once, and the metric drops back to 0."""
    saturday = dt.datetime(2025, 11, 8, 12, tzinfo=dt.UTC).timestamp()  # this Thursday's week is the newer one
    clock = ScaledClock(1.0, start=saturday)
    ex = FakeExchange(seed=4, clock=clock, push_interval=0.05, coins=BUSY_COINS, grid_shift=MONDAY_WEEKS)
    async with ex, running_source(ex, clock=clock, intervals=["1w"], backfill_on_start="30d") as h:
        await h.wait_for(lambda: h.source.grid.mismatched("BTC", "1w"))
        ex.model.grid_shift.clear()
        await h.wait_for(lambda: not h.source.grid.mismatched("BTC", "1w"))
        await anyio.sleep(0.3)  # more frames on the grid change nothing
        kinds = [e.kind for e in h.events if e.kind.startswith("grid.")]
        assert kinds == [names.EV_GRID_MISMATCH, names.EV_GRID_RESOLVED]
        assert h.metric(names.GRID_MISMATCH, source="hyperliquid", coin="BTC", interval="1w") == 0
        assert {weekday(c.open_time) for c in h.candles} == {"Mon", "Thu"}
