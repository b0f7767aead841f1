"""A DataTable that shows keyed rows and keeps the cursor on the same row across updates."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, Sequence[Cell]]


class StateTable(DataTable[Cell]):
    """Rows are ``(key, cells)``; :meth:`show_rows` updates in place when the keys are unchanged."""

    #: ``(label, key, width)`` per column.
    COLUMNS: Sequence[tuple[str, str, int]] = ()
    #: Blank cells either side of a cell (0 for narrow panes, whose widths then include a gap).
    CELL_PADDING = 1

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False, cell_padding=self.CELL_PADDING)
        self._keys: list[str] = []

    def on_mount(self) -> None:
        for label, key, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def show_rows(self, rows: Sequence[Row]) -> None:
        keys = [key for key, _ in rows]
        if keys == self._keys:
            columns = [key for _, key, _ in self.COLUMNS]
            for key, cells in rows:
                for column, cell in zip(columns, cells, strict=True):
                    if self.get_cell(key, column) != cell:
                        self.update_cell(key, column, cell)
            return
        selected = self.selected_key()
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._keys = keys
        if selected in keys:
            self.move_cursor(row=keys.index(selected), animate=False)

    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self._keys:
            return None
        try:
            return self._keys[self.cursor_row]
        except IndexError:
            return None
