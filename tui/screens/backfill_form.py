"""The backfill form: coin, intervals, days or ``max``; validated here before anything is sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from candlewick.model import INTERVALS
from candlewick.tui.forms import BackfillRequest, parse_backfill
from candlewick.tui.screens.form_base import FormScreen


class BackfillForm(FormScreen[BackfillRequest]):
    """Enter on the last field (or ctrl+s anywhere) submits; Escape cancels."""

    LAST_FIELD = "days"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Start"),
    ]

    def __init__(self, coin: str = "", intervals: str = "", days: str = "30") -> None:
        super().__init__()
        self._initial = (coin, intervals, days)

    def compose(self) -> ComposeResult:
        coin, intervals, days = self._initial
        with Vertical(classes="dialog form") as box:
            box.border_title = "Backfill"
            with Horizontal(classes="field"):
                yield Label("Coin")
                yield Input(coin, placeholder="BTC", id="coin")
            with Horizontal(classes="field"):
                yield Label("Intervals")
                yield Input(intervals, placeholder="1m 1h (space or comma separated)", id="intervals")
            yield Static(" ".join(INTERVALS), classes="hint")
            with Horizontal(classes="field"):
                yield Label("Days")
                yield Input(days, placeholder="a number of days, or max", id="days")
            yield Static("", id="form-error", classes="form-error", markup=False)
            yield Static("[b]⏎[/b] next/start · [b]ctrl+s[/b] start · [b]esc[/b] cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        coin, intervals, _ = self._initial
        self.query_one("#intervals" if coin and not intervals else "#days" if coin else "#coin", Input).focus()

    def read(self) -> BackfillRequest:
        """The request the form holds; raises :class:`FormError` naming the bad field."""
        return parse_backfill(
            self.query_one("#coin", Input).value,
            self.query_one("#intervals", Input).value,
            self.query_one("#days", Input).value,
        )
