"""One line of gauges: buffer fill, spool, sink throughput, REST weight budget in use."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from candlewick.tui.state import DashboardState
from candlewick.tui.view import gauges


class GaugesLine(Static):
    """Rendered from the last stats sample."""

    DEFAULT_CSS = "GaugesLine { height: 1; }"

    _shown: Text | None = None

    def show(self, state: DashboardState) -> None:
        text = gauges(state)
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)
