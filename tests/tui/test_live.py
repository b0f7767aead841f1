"""The dashboard against a real daemon over its real control socket: every action, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from candlewick.runtime.policy import ChildState
from candlewick.testing.daemon import wait_running
from candlewick.tui.app import CandlewickApp
from candlewick.tui.screens.backfill_form import BackfillForm
from candlewick.tui.screens.confirm import ConfirmScreen
from candlewick.tui.screens.error_modal import ErrorModal
from candlewick.tui.screens.health import HealthScreen
from candlewick.tui.screens.keys import KeysScreen
from candlewick.tui.screens.market import MarketScreen
from candlewick.tui.screens.market_form import MarketForm
from candlewick.tui.screens.offline import OfflineScreen
from candlewick.tui.screens.overview import OverviewScreen
from candlewick.tui.widgets.components_table import ComponentsTable
from candlewick.tui.widgets.header_line import HeaderLine
from candlewick.tui.widgets.jobs_table import JobsTable
from candlewick.tui.widgets.markets_table import MarketsTable
from tests.tui.conftest import Running, make_daemon, screen_text

pytestmark = pytest.mark.anyio

SIZE = (80, 24)


def dashboard(socket: Path) -> CandlewickApp:
    return CandlewickApp(socket, retry_interval=0.1, refresh_rate=20)


async def until(pilot: Pilot[None], predicate: Callable[[], object], timeout: float = 8.0) -> None:
    """Let the app run until ``predicate()`` is true."""
    with anyio.fail_after(timeout):
        while not predicate():
            await pilot.pause(0.02)


async def attached(pilot: Pilot[None], markets: int = 2) -> CandlewickApp:
    """Wait for the first full picture: status, and stats with ``markets`` markets."""
    app = pilot.app
    assert isinstance(app, CandlewickApp)
    await until(pilot, lambda: app.state.components and app.state.stats and len(app.state.stats.markets) >= markets)
    await until(pilot, lambda: (o := app.overview()) is not None and o.selected_market() is not None)
    return app


def overview(app: CandlewickApp) -> OverviewScreen:
    screen = app.overview()
    assert screen is not None
    return screen


async def select_component(pilot: Pilot[None], name: str) -> None:
    """Keyboard only: shift+tab to the components table, then down to ``name``."""
    app = pilot.app
    assert isinstance(app, CandlewickApp)
    table = overview(app).query_one(ComponentsTable)
    await pilot.press("shift+tab")
    assert table.has_focus
    await until(pilot, lambda: table.row_count >= 4)
    while table.selected_key() != name:
        before = table.cursor_row
        await pilot.press("down")
        assert table.cursor_row != before, f"{name} is not in the components table"


async def test_attaches_and_shows_what_the_daemon_reports(running: Running) -> None:
    """Components, markets, gauges and events come from the daemon, rendered on the overview."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        screen = overview(app)
        assert isinstance(app.screen, OverviewScreen)
        names = {c.name for c in app.state.components}
        assert names == {"feed", "through", "mem", "control"}
        assert app.state.daemon.version == running.daemon.version
        assert app.state.health in {"healthy", "degraded"}
        markets = screen.query_one(MarketsTable)
        await until(pilot, lambda: markets.row_count == 2)
        assert screen.selected_market() == ("BTC", "1m")
        # frames/s needs two samples; the daemon pushes one per second
        await until(pilot, lambda: app.state.rates.get(("BTC", "1m")), timeout=5)
        assert app.state.rates[("BTC", "1m")][-1] > 0
        facts = screen.query_one(HeaderLine)
        await until(pilot, lambda: f"candlewick {running.daemon.version} · up" in facts.facts.plain)
        assert "control.sock" in screen_text(app).splitlines()[0]


async def test_restart_component_after_confirmation(running: Running) -> None:
    """r asks first; y restarts the selected component in the daemon."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await select_component(pilot, "feed")
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Restart feed?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press("y")
        await until(pilot, lambda: running.daemon.supervisor.children["feed"].status()["restarts"] >= 1)
        await until(pilot, lambda: (c := app.state.component("feed")) is not None and c.restarts >= 1)


async def test_declined_confirmation_sends_nothing(running: Running) -> None:
    """n (or escape) closes the question and the component is untouched."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await select_component(pilot, "feed")
        await pilot.press("r", "n")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("s", "escape")
        await pilot.pause(0.3)
        assert running.daemon.supervisor.children["feed"].status()["restarts"] == 0
        assert running.state_of("feed") is ChildState.RUNNING


async def test_stop_then_start_component(running: Running) -> None:
    """s stops a running component and starts a stopped one, each after a yes."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await select_component(pilot, "feed")
        await pilot.press("s")
        assert "Stop feed?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press("y")
        await until(pilot, lambda: running.state_of("feed") is ChildState.STOPPED)
        await until(pilot, lambda: (c := app.state.component("feed")) is not None and c.state == "stopped")
        await pilot.press("s")
        assert "Start feed?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press("y")
        await until(pilot, lambda: running.state_of("feed") is ChildState.RUNNING)


async def test_refused_command_shows_the_daemons_reason(running: Running) -> None:
    """The control server refuses to restart itself; the dashboard shows why in a modal."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await select_component(pilot, "control")
        await pilot.press("r", "y")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert isinstance(app.screen, ErrorModal)
        assert "cannot restart itself" in app.screen.message
        await pilot.press("enter")
        assert isinstance(app.screen, OverviewScreen)


async def test_backfill_form_starts_a_job(running: Running) -> None:
    """b opens the form prefilled with the selected market; a valid form starts jobs in the daemon."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("b")
        form = app.screen
        assert isinstance(form, BackfillForm)
        assert form.query_one("#coin", Input).value == "BTC"
        assert form.query_one("#intervals", Input).value == "1m"
        await pilot.press("shift+tab", "end", "space", "1", "h", "tab", "ctrl+u", "7", "enter")
        await until(pilot, lambda: len(running.feed.jobs) == 2)
        jobs = sorted((j["coin"], j["interval"], j["expected"]) for j in running.feed.jobs.values())
        assert jobs == [("BTC", "1h", 7 * 24), ("BTC", "1m", 7 * 1440)]
        table = overview(app).query_one(JobsTable)
        await until(pilot, lambda: table.row_count == 2)


async def test_backfill_form_refuses_bad_input_before_sending(running: Running) -> None:
    """A bad interval or day count is named in the form; nothing reaches the daemon."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("b")
        form = app.screen
        assert isinstance(form, BackfillForm)
        form.query_one("#intervals", Input).value = "1m 2m"
        await pilot.press("ctrl+s")
        error = str(form.query_one("#form-error", Static).render())
        assert "unknown interval 2m" in error
        assert form.query_one("#intervals", Input).has_class("invalid")
        form.query_one("#intervals", Input).value = "1m"
        form.query_one("#days", Input).value = "0"
        await pilot.press("ctrl+s")
        assert "days must be between" in str(form.query_one("#form-error", Static).render())
        assert app.screen is form
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.pause(0.2)
        assert running.feed.jobs == {}


async def test_backfill_rejected_by_the_daemon_is_explained(running: Running) -> None:
    """A coin the source refuses comes back as an error modal with the daemon's message."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("b")
        form = app.screen
        assert isinstance(form, BackfillForm)
        form.query_one("#coin", Input).value = "NOPE"
        form.query_one("#days", Input).value = "max"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert isinstance(app.screen, ErrorModal)
        assert "unknown coin 'NOPE'" in app.screen.message


async def test_cancel_job_after_confirmation(running: Running) -> None:
    """c cancels the job under the cursor in the jobs pane."""
    await running.feed.backfill_start("ETH", ["1h"], 30)
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        table = overview(app).query_one(JobsTable)
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("tab")
        assert table.has_focus
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel job #1 (user ETH 1h)?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press("y")
        await until(pilot, lambda: running.feed.jobs["1"]["state"] == "cancelled")
        await until(pilot, lambda: (j := app.state.job("1")) is not None and j.state == "cancelled")


async def test_add_market(running: Running) -> None:
    """a opens the add-market form; the daemon's source follows the new market."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, MarketForm)
        await pilot.press("ctrl+u", *"SOL", "enter", "ctrl+u", *"5m", "enter")
        await until(pilot, lambda: ("SOL", "5m") in running.feed.markets())
        markets = overview(app).query_one(MarketsTable)
        await until(pilot, lambda: markets.row_count == 3)


async def test_remove_market_after_confirmation(running: Running) -> None:
    """x removes the selected market, after a yes."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("down")
        assert overview(app).selected_market() == ("ETH", "1m")
        await pilot.press("x")
        assert "Remove market ETH 1m?" in str(app.screen.query_one(".question", Static).render())
        await pilot.press("y")
        await until(pilot, lambda: running.feed.markets() == [("BTC", "1m")])
        markets = overview(app).query_one(MarketsTable)
        await until(pilot, lambda: markets.row_count == 1)


async def test_market_chart_loads_and_updates(running: Running) -> None:
    """Enter opens the market's chart from candles.recent; it reloads while shown; escape goes back."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MarketScreen)
        assert (screen.coin, screen.interval) == ("BTC", "1m")
        await until(pilot, lambda: screen.loaded)
        assert len(screen.bars) == 36
        assert screen.bars == tuple(sorted(screen.bars, key=lambda b: b.time))
        first = screen.bars
        # the live candle keeps changing in the daemon; the chart follows
        await until(pilot, lambda: screen.bars != first, timeout=6)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_command_palette_runs_actions(running: Running) -> None:
    """ctrl+p lists actions by name; choosing one asks for confirmation like its key does."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"restart feed")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: running.daemon.supervisor.children["feed"].status()["restarts"] >= 1)


async def test_keys_screen(running: Running) -> None:
    """? lists every key; escape closes it."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, KeysScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_health_checks_screen(running: Running) -> None:
    """h lists the daemon's health checks by name, with a symbol and a word for each."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        await pilot.press("h")
        assert isinstance(app.screen, HealthScreen)
        await until(pilot, lambda: "component:feed" in screen_text(app))
        assert "✔ ok" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_waits_for_the_daemon_and_attaches_by_itself(tmp_path: Path, sock_dir: Path) -> None:
    """No daemon: the disconnected screen names the socket; when one starts, the dashboard attaches."""
    socket = sock_dir / "control.sock"
    app = dashboard(socket)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OfflineScreen))
        await until(pilot, lambda: str(socket) in screen_text(app))
        assert "no socket there" in screen_text(app)
        assert "candlewick run" in screen_text(app)
        assert "attaches by itself" in screen_text(app)
        daemon = make_daemon(tmp_path / "data", socket)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: daemon.run(task_status=task_status, signals=False))
            await wait_running(daemon)
            await until(pilot, lambda: isinstance(app.screen, OverviewScreen))
            await attached(pilot)
            assert overview(app).query_one(MarketsTable).has_focus  # where the footer's ⏎ chart works
            # and when it goes away, the dashboard says so and waits again
            daemon.request_shutdown("test")
            await until(pilot, lambda: isinstance(app.screen, OfflineScreen))
            assert app.state.link == "detached"


async def test_redraws_at_most_refresh_rate(running: Running) -> None:
    """With stats every second and events flowing, repaints stay under the configured rate."""
    app = CandlewickApp(running.socket, refresh_rate=2.0)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        start, paints = anyio.current_time(), app.paints
        await pilot.pause(2.5)
        elapsed = anyio.current_time() - start
        assert app.paints - paints <= 2.0 * elapsed + 1


async def test_enter_opens_the_chart_after_a_dialog_closed_while_the_terminal_was_away(running: Running) -> None:
    """The footer offers ⏎ chart: with nothing focused (the terminal lost focus while a dialog
    opened), the overview falls back to Markets, not to the first table, so ⏎ works without tab."""
    app = dashboard(running.socket)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        app.post_message(events.AppBlur())  # the terminal window loses focus ...
        await pilot.pause()
        app.action_keys()  # ... while a dialog opens (an error, the palette, the keys)
        await pilot.pause()
        app.post_message(events.AppFocus())
        await pilot.pause()
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        assert overview(app).query_one(MarketsTable).has_focus
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MarketScreen))
