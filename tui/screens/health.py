"""``h``: the daemon's health checks, failing ones first, so "degraded" says why."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from candlewick.tui.screens.base import DashboardModal
from candlewick.tui.state import DashboardState
from candlewick.tui.view import health_badge


def health_table(state: DashboardState) -> Table:
    """The checks as rows of symbol+word, name and detail; a pure function of the state."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    checks = sorted(state.health_checks, key=lambda c: c[1])  # failing first, order otherwise kept
    for name, ok, detail in checks:
        mark = Text("✔ ok  ", style="green") if ok else Text("✖ FAIL", style="bold red")
        table.add_row(mark, name, detail)
    if not checks:
        table.add_row("", Text("no health answer yet", style="dim"), "")
    return table


class HealthScreen(DashboardModal):
    """Updates with every repaint while open; arrows scroll; Escape, ``h`` or ``q`` closes it."""

    BINDINGS = [Binding("escape,h,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog keys") as box:
            box.border_title = "Health"
            yield Static(id="health-status")
            with VerticalScroll(id="health-scroll"):
                yield Static(id="health-checks")

    def first_shown(self) -> None:
        self.query_one("#health-scroll").focus()  # the arrow keys scroll a long list

    def show(self, state: DashboardState) -> None:
        self.query_one("#health-status", Static).update(health_badge(state.health))
        self.query_one("#health-checks", Static).update(health_table(state))

    def action_close(self) -> None:
        self.dismiss(None)
