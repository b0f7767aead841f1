"""The add-market form: coin and interval, validated before ``markets.add`` is sent."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from candlewick.model import INTERVALS
from candlewick.tui.forms import FormError, MarketRequest, parse_market


class MarketForm(ModalScreen[MarketRequest | None]):
    """Enter on the interval (or ctrl+s) adds the market; Escape cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Add"),
    ]

    def __init__(self, coin: str = "", interval: str = "1m") -> None:
        super().__init__()
        self._initial = (coin, interval)

    def compose(self) -> ComposeResult:
        coin, interval = self._initial
        with Vertical(classes="dialog form") as box:
            box.border_title = "Add market"
            with Horizontal(classes="field"):
                yield Label("Coin")
                yield Input(coin, placeholder="BTC", id="coin")
            with Horizontal(classes="field"):
                yield Label("Interval")
                yield Input(interval, placeholder="1m", id="interval")
            yield Static(" ".join(INTERVALS), classes="hint")
            yield Static("", id="form-error", classes="form-error", markup=False)
            yield Static("[b]⏎[/b] next/add · [b]esc[/b] cancel", classes="dialog-keys")

    def read(self) -> MarketRequest:
        return parse_market(self.query_one("#coin", Input).value, self.query_one("#interval", Input).value)

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == "interval":
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
