"""The events pane: state changes, reconnects, gaps and job progress, newest at the bottom."""

from __future__ import annotations

from textual.widgets import RichLog

from candlewick.tui.state import EVENT_HISTORY, DashboardState, Event
from candlewick.tui.view import event_text


class EventsLog(RichLog):
    """Appends the events of the state it has not shown yet; scrolls with the keys."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=EVENT_HISTORY, min_width=10, wrap=True, markup=False, auto_scroll=True)
        self._last: Event | None = None

    def show(self, state: DashboardState) -> None:
        events = state.events
        if not events or events[-1] is self._last:
            return
        start = 0
        if self._last is not None:
            for index in range(len(events) - 1, -1, -1):
                if events[index] is self._last:
                    start = index + 1
                    break
        for event in events[start:]:
            self.write(event_text(event))
        self._last = events[-1]
