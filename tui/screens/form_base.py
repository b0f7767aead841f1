"""What every dialog form shares: Enter moves on or submits, errors point at their field."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from candlewick.tui.forms import FormError

R = TypeVar("R")


class FormScreen(ModalScreen[R | None]):
    """A modal form; subclasses compose the inputs and :meth:`read` the request they hold.

    Enter on ``LAST_FIELD`` (or ctrl+s anywhere) submits; Enter elsewhere moves to the next
    field; Escape cancels. A :class:`FormError` is shown and its field focused.
    """

    LAST_FIELD: ClassVar[str]
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]

    def read(self) -> R:
        """The request the form holds; raises :class:`FormError` naming the bad field."""
        raise NotImplementedError

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == self.LAST_FIELD:
            self.action_submit()
        else:
            self.focus_next()

    @on(Input.Changed)
    def _clear_error(self) -> None:
        self.query_one("#form-error", Static).update("")
        for field in self.query(Input):
            field.remove_class("invalid")

    def action_submit(self) -> None:
        try:
            request = self.read()
        except FormError as err:
            self.query_one("#form-error", Static).update(f"✖ {err.message}")
            field = self.query_one(f"#{err.field}", Input)
            field.add_class("invalid")
            field.focus()
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
