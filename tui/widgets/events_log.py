"""The events pane: state changes, reconnects, gaps and job progress, newest at the bottom.

A light widget rather than a RichLog: it renders the tail of the state's events into its
fixed box, so a busy event stream never triggers a layout pass. When focused, the arrow
keys (one event), page keys, home and end scroll back through the history the state keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from candlewick.tui.state import DashboardState, Event
from candlewick.tui.view import event_text


def tail_lines(events: Sequence[Event], width: int, height: int, console: Console) -> list[Text]:
    """The last ``height`` lines of ``events`` wrapped to ``width``."""
    lines: list[Text] = []
    for event in reversed(events):
        lines[:0] = event_text(event).wrap(console, max(1, width))
        if len(lines) >= height:
            break
    return lines[-height:] if height > 0 else []


class EventsLog(Widget, can_focus=True):
    """Follows the newest events; scrolled back, it stays put and says how far back it is."""

    BINDINGS = [
        Binding("up", "scroll(1)", "Older", show=False),
        Binding("down", "scroll(-1)", "Newer", show=False),
        Binding("pageup", "page(1)", "Page up", show=False),
        Binding("pagedown", "page(-1)", "Page down", show=False),
        Binding("home", "scroll(1000000)", "Oldest", show=False),  # clamped to the oldest kept
        Binding("end", "follow", "Newest", show=False),
    ]

    DEFAULT_CSS = "EventsLog { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: tuple[Event, ...] = ()
        self.back = 0

    def show(self, state: DashboardState) -> None:
        new = state.events
        if new is self.events:
            return
        if self.back and self.events:
            # keep the same events in view while scrolled back: count the ones that arrived
            last = self.events[-1]
            arrived = next((i for i, e in enumerate(reversed(new)) if e is last), len(new))
            self.back = min(len(new) - 1, self.back + arrived)
        self.events = new
        self.refresh()

    def action_scroll(self, events: int) -> None:
        """Move the view ``events`` older (negative: newer); 0 follows the newest."""
        self.back = max(0, min(len(self.events) - 1, self.back + events))
        self.refresh()

    def action_page(self, pages: int) -> None:
        self.action_scroll(pages * max(1, self.size.height - 1))

    def action_follow(self) -> None:
        self.back = 0
        self.refresh()

    def render(self) -> Text:
        if not self.events:
            return Text("no events yet", style="dim")
        rows = self.size.height - 1 if self.back else self.size.height
        shown = self.events[: len(self.events) - self.back]
        lines = tail_lines(shown, self.size.width, rows, self.app.console)
        if self.back:
            lines.append(Text(f"↓ {self.back} newer events (end)", style="reverse"))
        return Text("\n").join(lines)
