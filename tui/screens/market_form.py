"""The add-market form: coin and interval, validated before ``markets.add`` is sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from candlewick.model import INTERVALS
from candlewick.tui.forms import MarketRequest, parse_market
from candlewick.tui.screens.form_base import FormScreen


class MarketForm(FormScreen[MarketRequest]):
    """Enter on the interval (or ctrl+s) adds the market; Escape cancels."""

    LAST_FIELD = "interval"
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
