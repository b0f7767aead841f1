"""Screens ask for actions with request messages that bubble up to the app; they never call it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message

from candlewick.tui.app import CandlewickApp
from candlewick.tui.messages import ConfirmComponent, OpenBackfill, OpenHealth
from candlewick.tui.screens.confirm import ConfirmScreen
from candlewick.tui.screens.health import HealthScreen
from candlewick.tui.screens.overview import OverviewScreen
from tests.tui.sample import sample_state


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _app() -> CandlewickApp:
    return CandlewickApp(Path("/x.sock"), state=sample_state("/x.sock"), live=False)


@pytest.mark.anyio
async def test_keys_post_requests_the_app_acts_on() -> None:
    """h posts OpenHealth and the app opens the health screen; b carries the selected market."""
    seen: list[Message] = []
    app = _app()
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.pause()
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        await pilot.press("h")
        await pilot.pause()
        assert any(isinstance(m, OpenHealth) for m in seen)
        assert isinstance(app.screen, HealthScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        backfill = [m for m in seen if isinstance(m, OpenBackfill)]
        assert backfill
        assert backfill[-1].market == overview.selected_market()
        assert backfill[-1].market is not None


@pytest.mark.anyio
async def test_restart_key_asks_before_acting() -> None:
    """r posts ConfirmComponent for the selected component and the app asks the operator first."""
    seen: list[Message] = []
    app = _app()
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.pause()
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        name = overview.selected_component()
        assert name is not None
        await pilot.press("r")
        await pilot.pause()
        asked = {id(m): m for m in seen if isinstance(m, ConfirmComponent)}  # seen at the screen and at the app
        assert list(asked.values()) == [ConfirmComponent("restart", name)]
        assert isinstance(app.screen, ConfirmScreen)
