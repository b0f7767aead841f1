"""The overview: the one screen an operator reads at a glance, and the keys that act on it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from candlewick.tui.messages import (
    ConfirmCancel,
    ConfirmComponent,
    ConfirmRemoveMarket,
    OpenAddMarket,
    OpenBackfill,
    OpenHealth,
    OpenMarket,
)
from candlewick.tui.screens.base import DashboardScreen
from candlewick.tui.state import DashboardState
from candlewick.tui.widgets.components_table import ComponentsTable
from candlewick.tui.widgets.events_log import EventsLog
from candlewick.tui.widgets.gauges_line import GaugesLine
from candlewick.tui.widgets.header_line import HeaderLine
from candlewick.tui.widgets.jobs_table import JobsTable
from candlewick.tui.widgets.keys_line import KeysLine
from candlewick.tui.widgets.markets_table import MarketsTable
from candlewick.tui.widgets.state_table import StateTable

OVERVIEW_KEYS = [
    ("r", "restart"),
    ("s", "stop/start"),
    ("b", "backfill"),
    ("c", "cancel"),
    ("a/x", "market"),
    ("⏎", "chart"),
    ("h", "health"),
]


#: Lines that are always there: header, gauges and keys.
FIXED_LINES = 3
#: Lines the jobs and events panes keep at least (with their borders).
BOTTOM_MIN = 6


class OverviewScreen(DashboardScreen):
    """Components, markets, gauges, jobs and events; every action asks the app to send it."""

    #: Where the focus goes whenever nothing has it (at start, after a dialog closed while the
    #: terminal was away): Markets, where the footer's ⏎ chart works.
    AUTO_FOCUS = "#markets"

    BINDINGS = [
        Binding("r", "restart", "Restart component"),
        Binding("s", "stop_start", "Stop/start component"),
        Binding("b", "backfill", "Backfill"),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("a", "add_market", "Add market"),
        Binding("x", "remove_market", "Remove market"),
        Binding("h", "health", "Health checks"),
    ]

    def compose(self) -> ComposeResult:
        yield HeaderLine()
        with Vertical(id="components-box", classes="box") as box:
            box.border_title = "Components"
            yield ComponentsTable(id="components")
        with Vertical(id="markets-box", classes="box") as box:
            box.border_title = "Markets"
            yield MarketsTable(id="markets")
        yield GaugesLine(id="gauges")
        with Horizontal(id="bottom"):
            with Vertical(id="jobs-box", classes="box") as box:
                box.border_title = "Jobs"
                yield JobsTable(id="jobs")
            with Vertical(id="events-box", classes="box") as box:
                box.border_title = "Events"
                yield EventsLog(id="events")
        yield KeysLine(OVERVIEW_KEYS)

    def first_shown(self) -> None:
        self.query_one(MarketsTable).focus()

    def show(self, state: DashboardState) -> None:
        """Render every pane from ``state``."""
        components = self.query_one(ComponentsTable)
        markets = self.query_one(MarketsTable)
        counts = (components.row_count, markets.row_count)
        self.query_one(HeaderLine).show(state)
        components.show(state)
        markets.show(state)
        self.query_one(GaugesLine).show(state)
        self.query_one(JobsTable).show(state)
        self.query_one(EventsLog).show(state)
        if (components.row_count, markets.row_count) != counts:
            self._fit()
        self._position(markets)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Share the height: components whole if they can be, markets next, jobs/events the rest."""
        height = self.size.height
        components = self.query_one(ComponentsTable)
        limit = max(2, min(components.row_count + 1, height // 3 - 2))
        components.styles.max_height = limit
        room = height - FIXED_LINES - (limit + 2) - BOTTOM_MIN - 2  # + 2: each box's borders
        self.query_one(MarketsTable).styles.max_height = max(2, room)

    def _position(self, markets: MarketsTable) -> None:
        """``row/rows`` under the markets box when they do not all fit."""
        box = self.query_one("#markets-box")
        hidden = markets.row_count > max(1, markets.size.height - 1)
        subtitle = f"{markets.cursor_row + 1}/{markets.row_count}" if hidden else ""
        if box.border_subtitle != subtitle:
            box.border_subtitle = subtitle

    @on(StateTable.Moved, "#markets")
    def _moved(self) -> None:
        self._position(self.query_one(MarketsTable))

    # -- selections --------------------------------------------------------------------------

    def selected_component(self) -> str | None:
        return self.query_one(ComponentsTable).selected_key()

    def selected_market(self) -> tuple[str, str] | None:
        return self.query_one(MarketsTable).selected_market()

    def selected_job(self) -> str | None:
        return self.query_one(JobsTable).selected_key()

    # -- actions -----------------------------------------------------------------------------

    @on(StateTable.Selected, "#markets")
    def _open_chart(self, event: StateTable.Selected) -> None:
        market = self.query_one(MarketsTable).market_of(event.key)
        if market is not None:
            self.post_message(OpenMarket(*market))

    def action_restart(self) -> None:
        name = self.selected_component()
        if name is not None:
            self.post_message(ConfirmComponent("restart", name))

    def action_stop_start(self) -> None:
        name = self.selected_component()
        holder = self.holder()
        component = holder.state.component(name) if name and holder else None
        if component is not None:
            self.post_message(ConfirmComponent("stop" if component.active else "start", component.name))

    def action_backfill(self) -> None:
        self.post_message(OpenBackfill(self.selected_market()))

    def action_cancel_job(self) -> None:
        job_id = self.selected_job()
        if job_id is not None:
            self.post_message(ConfirmCancel(job_id))

    def action_health(self) -> None:
        self.post_message(OpenHealth())

    def action_add_market(self) -> None:
        self.post_message(OpenAddMarket(self.selected_market()))

    def action_remove_market(self) -> None:
        market = self.selected_market()
        if market is not None:
            self.post_message(ConfirmRemoveMarket(*market))
