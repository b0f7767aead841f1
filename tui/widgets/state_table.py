"""A light keyed table: rows rendered as text lines, a row cursor, and nothing else.

Textual's DataTable renders every cell through Rich padding and re-measures on updates; a
dashboard that repaints twenty markets every second pays for that on a 2-core NAS. This
table renders the visible rows as one block of text (a pure function of its rows and
cursor), keeps the cursor on the same key across updates, and scrolls to keep it in view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

Cell = str | Text
Row = tuple[str, Sequence[Cell]]
Justify = Literal["left", "right"]


def fit(cell: Cell, width: int, justify: Justify = "left") -> Text:
    """``cell`` cut or padded to exactly ``width`` cells."""
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    text.truncate(width, overflow="ellipsis")
    if justify == "right" or text.justify == "right":
        text.pad_left(width - text.cell_len)
    else:
        text.pad_right(width - text.cell_len)
    return text


def render_rows(
    columns: Sequence[tuple[str, str, int]],
    rows: Sequence[Row],
    *,
    top: int,
    height: int,
    cursor: int | None,
    header_style: Style | str = "bold",
    cursor_style: Style | str = "reverse",
    gap: int = 1,
) -> Text:
    """The header and the visible rows ``top .. top + height - 1``; the cursor row highlighted."""
    sep = " " * gap
    lines = [Text(sep).join(fit(label, width) for label, _, width in columns)]
    lines[0].stylize(header_style)
    for index in range(top, min(len(rows), top + max(0, height - 1))):
        _, cells = rows[index]
        line = Text(sep).join(fit(cell, width) for cell, (_, _, width) in zip(cells, columns, strict=True))
        if index == cursor:
            line.stylize(cursor_style)
        lines.append(line)
    return Text("\n").join(lines)


def widen_last(columns: Sequence[tuple[str, str, int]], width: int, gap: int) -> Sequence[tuple[str, str, int]]:
    """The columns with the last one grown to fill ``width`` (a wide terminal shows whole errors)."""
    if not columns:
        return columns
    used = sum(w for _, _, w in columns) + gap * (len(columns) - 1)
    if used >= width:
        return columns
    label, key, last = columns[-1]
    return (*columns[:-1], (label, key, last + width - used))


class StateTable(Widget, can_focus=True):
    """Rows are ``(key, cells)``; :meth:`show_rows` replaces them, keeping the cursor's key."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"state-table--header", "state-table--cursor", "state-table--cursor-blur"}
    DEFAULT_CSS = """
    StateTable { height: auto; padding: 0 1; }
    StateTable > .state-table--header { text-style: bold; color: $text-muted; }
    StateTable > .state-table--cursor { background: $accent 50%; }
    StateTable > .state-table--cursor-blur { background: $accent 20%; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    #: ``(label, key, width)`` per column.
    COLUMNS: Sequence[tuple[str, str, int]] = ()
    #: Blank cells between two columns.
    GAP = 1
    #: Grow the last column to the widget's width (for free text such as errors).
    WIDEN_LAST = False

    @dataclass
    class Selected(Message):
        """Enter on a row."""

        table: StateTable
        key: str

        @property
        def control(self) -> StateTable:
            return self.table

    @dataclass
    class Moved(Message):
        """The cursor moved to another row."""

        table: StateTable

        @property
        def control(self) -> StateTable:
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: tuple[Row, ...] = ()
        self.cursor_row = 0
        self._top = 0

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def show_rows(self, rows: Sequence[Row]) -> None:
        rows = tuple(rows)
        if rows == self.rows:
            return
        selected = self.selected_key()
        keys = [key for key, _ in rows]
        if len(rows) != len(self.rows):
            self.refresh(layout=True)  # height: auto follows the row count
        self.rows = rows
        self.cursor_row = keys.index(selected) if selected in keys else min(self.cursor_row, max(0, len(rows) - 1))
        self.refresh()

    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.rows:
            return None
        return self.rows[min(self.cursor_row, len(self.rows) - 1)][0]

    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def action_move(self, step: int) -> None:
        if self.rows:
            row = max(0, min(len(self.rows) - 1, self.cursor_row + step))
            if row != self.cursor_row:
                self.cursor_row = row
                self.post_message(self.Moved(self))
                self.refresh()

    def action_page(self, pages: int) -> None:
        self.action_move(pages * self._visible_rows())

    def action_select(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self.rows)

    def render(self) -> Text:
        visible = self._visible_rows()
        if self.cursor_row < self._top:
            self._top = self.cursor_row
        elif self.cursor_row >= self._top + visible:
            self._top = self.cursor_row - visible + 1
        self._top = max(0, min(self._top, max(0, len(self.rows) - visible)))
        cursor_class = "state-table--cursor" if self.has_focus else "state-table--cursor-blur"
        return render_rows(
            widen_last(self.COLUMNS, self.size.width, self.GAP) if self.WIDEN_LAST else self.COLUMNS,
            self.rows,
            top=self._top,
            height=self.size.height,
            cursor=self.cursor_row if self.rows else None,
            header_style=self.get_component_rich_style("state-table--header"),
            cursor_style=self.get_component_rich_style(cursor_class),
            gap=self.GAP,
        )
