"""One line of gauges: buffer fill, spool, sink throughput, REST weight budget in use."""

from __future__ import annotations

from textual.widgets import Static

from candlewick.tui.state import DashboardState
from candlewick.tui.view import gauges


class GaugesLine(Static):
    """Rendered from the last stats sample."""

    DEFAULT_CSS = "GaugesLine { height: 1; }"

    def show(self, state: DashboardState) -> None:
        self.update(gauges(state))
