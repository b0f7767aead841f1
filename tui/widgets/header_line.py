"""The top line: daemon version, uptime, health and socket, with the ``?`` hint at the right."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from candlewick.tui.state import DashboardState
from candlewick.tui.view import header


class HeaderLine(Widget):
    """One line of daemon facts, rendered from the state alone."""

    DEFAULT_CSS = "HeaderLine { height: 1; }"

    def __init__(self, hint: str = "? keys ", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hint = hint
        self.facts = Text()

    def show(self, state: DashboardState) -> None:
        facts = header(state)
        if facts != self.facts:  # an unchanged line costs nothing on a slow link
            self.facts = facts
            self.refresh()

    def render(self) -> Text:
        line = self.facts.copy()
        room = self.size.width - line.cell_len - len(self.hint)
        if room > 0:
            line.append(" " * room)
            line.append(self.hint, style="dim")
        return line
