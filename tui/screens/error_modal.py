"""A failed command, told as its title and what to do, not as a traceback."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ErrorModal(ModalScreen[None]):
    """Any key in Escape/Enter/q closes it."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error") as box:
            box.border_title = self.error_title
            yield Static(self.message, classes="detail", markup=False)
            yield Static("[b]⏎[/b] close", classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)
