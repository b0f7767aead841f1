"""The jobs pane: backfill and repair jobs with a progress bar and ETA."""

from __future__ import annotations

from candlewick.tui.state import DashboardState
from candlewick.tui.view import job_cells
from candlewick.tui.widgets.state_table import StateTable


class JobsTable(StateTable):
    """Running and queued jobs first; the cursor picks the job ``c`` cancels."""

    COLUMNS = (
        ("JOB", "id", 3),
        ("KIND", "kind", 6),
        ("MARKET", "market", 7),
        ("PROGRESS", "progress", 10),
        ("ETA", "eta", 5),
    )

    def show(self, state: DashboardState) -> None:
        self.show_rows([(job.id, job_cells(job)) for job in state.jobs])
