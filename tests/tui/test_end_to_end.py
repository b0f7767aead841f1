"""The dashboard on the real stack: Hyperliquid plugin against the fake exchange, memory buffer,
SQLite sink, gap repair service and the control server, in one real daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from candlewick.config import Settings
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
from candlewick.testing import FakeExchange
from candlewick.testing.daemon import running_daemon
from candlewick.tui.app import CandlewickApp
from candlewick.tui.screens.backfill_form import BackfillForm
from candlewick.tui.screens.market import MarketScreen
from candlewick.tui.widgets.jobs_table import JobsTable
from tests.tui.conftest import screen_text
from tests.tui.test_live import SIZE, attached, overview, until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stack(tmp_path: Path, sock_dir: Path) -> AsyncIterator[Path]:
    """A daemon as ``candlewick run`` builds it, fed by the fake exchange; yields its socket."""
    socket = sock_dir / "control.sock"
    async with FakeExchange(seed=3, push_interval=0.2) as exchange:
        settings = Settings.model_validate(
            {
                "sources": {
                    "hyperliquid": {
                        "ws_url": exchange.ws_url,
                        "rest_url": exchange.rest_url,
                        "coins": ["BTC"],
                        "intervals": ["1m"],
                        "backfill_on_start": "none",
                    },
                },
                "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "candles.db")}},
                "buffer": {"use": "memory", "memory": {"flush_interval": 0.2}},
                "spool": {"dir": str(tmp_path / "spool")},
                "control": {"socket": str(socket)},
                "daemon": {"data_dir": str(tmp_path / "data"), "shutdown_timeout": 10},
            }
        )
        daemon = Daemon(settings, build_plugin_manager(), backend="asyncio", services=default_services())
        daemon.build()
        async with running_daemon(daemon, until_running=True):
            yield socket


async def test_live_market_backfill_and_chart_on_the_real_stack(stack: Path) -> None:
    """BTC 1m streams in from the exchange; a backfill from the form runs to done; the chart has candles."""
    app = CandlewickApp(stack, retry_interval=0.1, refresh_rate=20)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot, markets=1)
        assert {c.name for c in app.state.components} >= {"hyperliquid", "hyperliquid-backfill", "memory", "sqlite"}
        await until(pilot, lambda: (m := app.state.market("BTC", "1m")) is not None and m.frames > 0, timeout=15)
        await until(pilot, lambda: "BTC" in screen_text(app))

        await pilot.press("b")
        form = app.screen
        assert isinstance(form, BackfillForm)
        await pilot.press("shift+tab", "ctrl+u", *"1h", "tab", "ctrl+u", "2", "enter")
        jobs = overview(app).query_one(JobsTable)
        await until(pilot, lambda: jobs.row_count >= 1, timeout=15)
        await until(pilot, lambda: any(j.coin == "BTC" and j.interval == "1h" for j in app.state.jobs))
        await until(pilot, lambda: any(j.interval == "1h" and j.state == "done" for j in app.state.jobs), timeout=30)

        await pilot.press("enter")
        chart = app.screen
        assert isinstance(chart, MarketScreen)
        await until(pilot, lambda: chart.loaded and len(chart.bars) > 0, timeout=15)
        assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in chart.bars)
