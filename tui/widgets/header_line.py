"""The top line: daemon version, uptime, health and socket, with the ``?`` hint at the right."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from candlewick.tui.state import DashboardState
from candlewick.tui.view import header


class HeaderLine(Horizontal):
    """One line of daemon facts, rendered from the state alone."""

    DEFAULT_CSS = """
    HeaderLine { height: 1; }
    HeaderLine > #facts { width: 1fr; }
    HeaderLine > #hint { width: auto; color: $text-muted; }
    """

    def __init__(self, hint: str = "? keys ", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._hint = hint

    def compose(self) -> ComposeResult:
        yield Static(id="facts")
        yield Static(self._hint, id="hint")

    def show(self, state: DashboardState) -> None:
        self.query_one("#facts", Static).update(header(state))
