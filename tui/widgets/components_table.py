"""The components pane: name, kind, state (colour, symbol and word), restarts, uptime, last error."""

from __future__ import annotations

from candlewick.tui.state import DashboardState
from candlewick.tui.view import component_cells
from candlewick.tui.widgets.state_table import StateTable


class ComponentsTable(StateTable):
    """One row per supervised component; the cursor picks the target of restart/stop/start."""

    WIDEN_LAST = True
    COLUMNS = (
        ("NAME", "name", 20),
        ("KIND", "kind", 7),
        ("STATE", "state", 13),
        ("RESTARTS", "restarts", 8),
        ("UPTIME", "uptime", 9),
        ("LAST ERROR", "error", 14),
    )

    def show(self, state: DashboardState) -> None:
        self.show_rows([(c.name, component_cells(c)) for c in state.components])
