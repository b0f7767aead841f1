"""How the dashboard looks at 80x24, from fixed states (no clocks, no daemon, no cursor blink).

Update with ``pytest tests/tui --snapshot-update`` only after reading the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from candlewick.tui.app import CandlewickApp
from candlewick.tui.screens.market import MarketScreen
from candlewick.tui.state import DashboardState, detached, parse_candles
from tests.tui.sample import candles, sample_state

SOCKET = "/run/candlewick/control.sock"


def still(state: DashboardState) -> CandlewickApp:
    """The app as ``candlewick tui`` builds it, showing ``state`` and attaching to nothing."""
    return CandlewickApp(Path(SOCKET), state=state, live=False)


def test_overview(snap_compare: Any) -> None:
    """Components with state symbols, markets with sparklines, gauges, jobs and events fit 80x24."""
    assert snap_compare(still(sample_state(SOCKET)))


def test_backfill_form(snap_compare: Any) -> None:
    """b opens the backfill form prefilled with the selected market."""
    assert snap_compare(still(sample_state(SOCKET)), press=["b"])


def test_backfill_form_error(snap_compare: Any) -> None:
    """A bad interval is named under the form and its field is marked."""
    assert snap_compare(still(sample_state(SOCKET)), press=["b", "shift+tab", "end", "space", "2", "m", "ctrl+s"])


def test_market_detail(snap_compare: Any) -> None:
    """The detail screen: the market's numbers and a candlestick chart of candles.recent."""

    async def open_chart(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(MarketScreen("BTC", "1m", bars=parse_candles(candles()), live=False))
        await pilot.pause()

    assert snap_compare(still(sample_state(SOCKET)), run_before=open_chart)


def test_disconnected(snap_compare: Any) -> None:
    """No daemon: the socket tried, the answer, how to start one, and that it attaches by itself."""
    state = detached(DashboardState(socket=SOCKET), f"no candlewick daemon answers on {SOCKET} (no socket there)")
    assert snap_compare(still(state))


def test_keys(snap_compare: Any) -> None:
    """? lists every key."""
    assert snap_compare(still(sample_state(SOCKET)), press=["question_mark"])


def test_health(snap_compare: Any) -> None:
    """h lists the health checks, failing ones first."""
    assert snap_compare(still(sample_state(SOCKET)), press=["h"])


def test_confirm_restart(snap_compare: Any) -> None:
    """r asks before restarting the selected component."""
    assert snap_compare(still(sample_state(SOCKET)), press=["shift+tab", "r"])
