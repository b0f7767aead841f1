"""``?``: every key of the dashboard on one screen."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str]] = [
    ("tab / shift+tab", "move between components, markets and jobs"),
    ("↑ ↓ pgup pgdn", "move the cursor in a table, scroll events"),
    ("r", "restart the selected component (asks first)"),
    ("s", "stop or start the selected component (asks first)"),
    ("b", "start a backfill (coin, intervals, days or max)"),
    ("c", "cancel the selected job (asks first)"),
    ("a", "add a market"),
    ("x", "remove the selected market (asks first)"),
    ("⏎", "open the selected market's chart"),
    ("h", "health checks: why the daemon is degraded or failing"),
    ("esc", "back / close a dialog"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this list"),
    ("q", "quit (the daemon keeps running)"),
]


def keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, what in KEYS:
        table.add_row(key, what)
    return table


class KeysScreen(ModalScreen[None]):
    """Closed by Escape, ``?`` or ``q``."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog keys") as box:
            box.border_title = "Keys"
            yield Static(keys_table())

    def action_close(self) -> None:
        self.dismiss(None)
