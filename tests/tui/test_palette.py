"""The command palette offers every action by name, for what the daemon has now."""

from __future__ import annotations

from pathlib import Path

from candlewick.tui.app import CandlewickApp
from candlewick.tui.palette import dashboard_commands
from candlewick.tui.state import DashboardState, detached
from tests.tui.sample import sample_state


def names(app: CandlewickApp) -> list[str]:
    return [name for name, _, _ in dashboard_commands(app)]


def test_commands_follow_the_state() -> None:
    app = CandlewickApp(Path("/x.sock"), state=sample_state("/x.sock"), live=False)
    offered = names(app)
    for expected in (
        "Health checks",
        "Backfill…",
        "Add market…",
        "Restart hyperliquid",
        "Stop hyperliquid",
        "Stop timescaledb",  # backing off counts as active: stop is what makes sense
        "Chart BTC 1m",
        "Backfill ETH 1m…",
        "Remove market BTC 1h",
        "Cancel job #7",
    ):
        assert expected in offered
    assert "Cancel job #6" not in offered  # done jobs cannot be cancelled
    assert "Start hyperliquid" not in offered


def test_only_local_commands_while_detached() -> None:
    app = CandlewickApp(Path("/x.sock"), state=detached(DashboardState(socket="/x.sock"), "gone"), live=False)
    assert names(app) == ["Keys"]
