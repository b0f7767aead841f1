"""The light table and the events pane: pure rendering, cursor and scrolling by keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult

from candlewick.tui.state import DashboardState, with_events
from candlewick.tui.widgets.events_log import EventsLog, tail_lines
from candlewick.tui.widgets.state_table import StateTable, fit, render_rows

pytestmark = pytest.mark.anyio

COLUMNS = (("NAME", "name", 6), ("N", "n", 3))


class Numbers(StateTable):
    COLUMNS = COLUMNS


def rows(*names: str) -> list[tuple[str, tuple[str | Text, ...]]]:
    return [(name, (name, Text(str(len(name)), justify="right"))) for name in names]


def test_fit_cuts_and_pads() -> None:
    assert fit("abcdefgh", 5).plain == "abcd…"
    assert fit("ab", 4).plain == "ab  "
    assert fit(Text("7", justify="right"), 3).plain == "  7"


def test_render_rows_shows_the_window_and_marks_the_cursor() -> None:
    text = render_rows(COLUMNS, rows("a", "bb", "ccc", "dddd"), top=1, height=3, cursor=2, cursor_style="reverse")
    lines = text.split("\n")
    assert [line.plain for line in lines] == ["NAME   N  ", "bb       2", "ccc      3"]
    assert any(span.style == "reverse" for span in lines[2].spans)
    assert not any(span.style == "reverse" for span in lines[1].spans)


def test_tail_lines_wraps_and_keeps_the_newest() -> None:
    events = with_events(
        DashboardState(socket="s"),
        [{"seq": i, "time": 0.0, "kind": "state", "source": "src", "message": f"message number {i}"} for i in range(5)],
    ).events
    lines = tail_lines(events, width=20, height=3, console=Console(width=20))
    assert [line.plain.rstrip() for line in lines] == ["number 3", "00:00:00 src message", "number 4"]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Numbers(id="t")
        yield EventsLog(id="e")

    def on_mount(self) -> None:
        self.query_one(Numbers).show_rows(rows("a", "bb", "ccc"))


async def test_cursor_moves_by_keys_and_stays_on_its_key() -> None:
    """up/down/end move the cursor; new rows keep it on the same key; enter posts Selected."""
    selected: list[str] = []
    app = TableApp()

    def hook(message: Any) -> None:
        if isinstance(message, StateTable.Selected):
            selected.append(message.key)

    async with app.run_test(size=(40, 12), message_hook=hook) as pilot:
        table = app.query_one(Numbers)
        table.focus()
        await pilot.press("down", "down", "down")
        assert table.selected_key() == "ccc"
        await pilot.press("home")
        assert table.selected_key() == "a"
        await pilot.press("end", "up")
        assert table.selected_key() == "bb"
        table.show_rows(rows("zz", "a", "bb", "ccc"))
        assert table.selected_key() == "bb"
        table.show_rows(rows("a"))
        assert table.selected_key() == "a"
        await pilot.press("enter")
        await pilot.pause()
        assert set(selected) == {"a"}  # the hook sees the message at each node it bubbles through


async def test_events_scroll_back_and_stay_put_while_new_ones_arrive() -> None:
    """Scrolled back, new events do not move the view; end follows the newest again."""
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        log = app.query_one(EventsLog)
        log.focus()
        raws = [{"seq": i, "time": 0.0, "kind": "state", "source": "s", "message": f"m{i}"} for i in range(30)]
        state = with_events(DashboardState(socket="s"), raws)
        log.show(state)
        await pilot.press("up", "up")
        assert log.back == 2
        state = with_events(state, [{"seq": 30, "time": 1.0, "kind": "state", "source": "s", "message": "m30"}])
        log.show(state)
        assert log.back == 3
        await pilot.pause()
        assert "↓ 3 newer events (end)" in log.render().plain
        assert "m27" in log.render().plain
        assert "m28" not in log.render().plain
        await pilot.press("end")
        assert log.back == 0
        assert "m30" in log.render().plain
        await pilot.press("home")
        assert log.back == 30


async def test_repaint_skips_a_screen_still_being_composed() -> None:
    """A repaint that lands between pushing a screen and its compose must not touch missing widgets."""
    from pathlib import Path

    from candlewick.tui.app import CandlewickApp
    from candlewick.tui.screens.market import MarketScreen
    from tests.tui.sample import sample_state

    app = CandlewickApp(Path("/x.sock"), state=sample_state("/x.sock"), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = MarketScreen("BTC", "1m", live=False)
        app.push_screen(screen)
        app.update_state(sample_state("/x.sock"))
        app.paint()  # before the screen composed: skipped, no NoMatches
        await pilot.pause()
        assert screen.ready
        app.update_state(sample_state("/x.sock"))
        app.paint()
        assert "lag 0.2 s" in str(screen.query_one("#detail").render())


async def test_keys_typed_into_a_form_are_text_not_commands() -> None:
    """q, h and ? in a form field are characters: the app neither quits nor opens other screens."""
    from pathlib import Path

    from textual.widgets import Input

    from candlewick.tui.app import CandlewickApp
    from candlewick.tui.screens.backfill_form import BackfillForm
    from tests.tui.sample import sample_state

    app = CandlewickApp(Path("/x.sock"), state=sample_state("/x.sock"), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await pilot.press("shift+tab", "shift+tab", "ctrl+u", "q", "h", "question_mark", "x", "r")
        assert isinstance(app.screen, BackfillForm)
        assert app.screen.query_one("#coin", Input).value == "qh?xr"
        assert app.is_running


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_big_daemon_still_fits(size: tuple[int, int]) -> None:
    """Six components and twenty markets: every pane keeps its place and the markets scroll."""
    from pathlib import Path

    from candlewick.tui import state as st
    from candlewick.tui.app import CandlewickApp
    from tests.tui import sample
    from tests.tui.conftest import screen_text

    state = sample.sample_state("/x.sock")
    frames = {(c, iv): 1000 for c in ("BTC", "ETH", "SOL", "DOGE", "kPEPE") for iv in ("1m", "5m", "15m", "1h")}
    state = st.with_stats(state, sample.stats(sample.NOW + 1, frames))
    status = sample.status()
    status["components"].append(sample._component("hyperliquid-backfill", "source", "running", 0, 100.0, None))
    state = st.with_status(state, status)
    app = CandlewickApp(Path("/x.sock"), state=state, live=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert len(lines) == size[1]
        assert lines[0].startswith(" candlewick 0.1.0")
        assert lines[-1].startswith(" r restart")
        assert "hyperliquid-backfill" in screen_text(app)  # every component shown whole
        jobs = next(i for i, line in enumerate(lines) if "─ Jobs ─" in line)
        assert size[1] - jobs >= 7  # jobs and events keep their room
        if size == (80, 24):
            assert "1/20" in screen_text(app)  # the markets box says it scrolls
            await pilot.press("end")
            assert "20/20" in screen_text(app)
            assert "kPEPE" in screen_text(app)


async def test_a_quiet_stats_stream_shows_in_the_header() -> None:
    """The app checks every second how long ago the last stats sample came."""
    import time
    from pathlib import Path

    from candlewick.tui.app import CandlewickApp
    from candlewick.tui.widgets.header_line import HeaderLine
    from tests.tui.sample import sample_state

    app = CandlewickApp(Path("/x.sock"), state=sample_state("/x.sock"), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app._last_sample = time.monotonic() - 9
        app.check_silence()
        app.paint()
        await pilot.pause()
        assert "⚠ no stats for 9 s" in app.screen.query_one(HeaderLine).facts.plain
