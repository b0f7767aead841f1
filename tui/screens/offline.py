"""The calm screen shown while no daemon answers: which socket, how to start one, and that we wait."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.widgets import Static

from candlewick.tui.screens.base import DashboardScreen
from candlewick.tui.state import DashboardState
from candlewick.tui.widgets.header_line import HeaderLine
from candlewick.tui.widgets.keys_line import KeysLine


def offline_text(state: DashboardState, retry_interval: float) -> Group:
    """What to tell the operator; a pure function of the state."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("Socket tried", Text(state.socket, style="bold"))
    facts.add_row("Answer", state.link_error or "not attached yet")
    return Group(
        Text("No candlewick daemon is attached.", style="bold"),
        Text(""),
        facts,
        Text(""),
        Text("Start the daemon with one of:", style="dim"),
        Text("  candlewick run                     (foreground)"),
        Text("  systemctl start candlewick         (service)"),
        Text("  docker start candlewick            (container)"),
        Text("or point at its socket:  candlewick tui --socket PATH"),
        Text(""),
        Text(
            f"◌ Trying again every {retry_interval:g} s: the dashboard attaches by itself "
            "as soon as the daemon answers.",
            style="cyan",
        ),
    )


class OfflineScreen(DashboardScreen):
    """Shown whenever the link is down; the app switches back to the dashboard on re-attach."""

    _shown: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield HeaderLine()
        with Middle(), Center():
            yield Static(id="offline-text")
        yield KeysLine([("?", "keys"), ("q", "quit")])

    def show(self, state: DashboardState) -> None:
        self.query_one(HeaderLine).show(state)
        shown = (state.socket, state.link_error)
        if shown != self._shown:  # retries repeat the same answer: nothing to redraw
            self._shown = shown
            holder = self.holder()
            retry = holder.retry_interval if holder is not None else 0.0
            self.query_one("#offline-text", Static).update(offline_text(state, retry))
