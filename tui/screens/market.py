"""A market's detail: its numbers and a candlestick chart of ``candles.recent``, updating live."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from candlewick.tui.messages import CandlesLoaded, CandlesWanted, OpenBackfill
from candlewick.tui.screens.base import DashboardScreen
from candlewick.tui.state import CandleBar, DashboardState, parse_candles
from candlewick.tui.view import detail_line
from candlewick.tui.widgets.candle_chart import CandleChart
from candlewick.tui.widgets.header_line import HeaderLine
from candlewick.tui.widgets.keys_line import KeysLine

#: Candles the chart shows (about one per two columns at 80 wide).
CHART_CANDLES = 36
#: Seconds between ``candles.recent`` reloads while the screen is shown.
RELOAD_INTERVAL = 2.0


class MarketScreen(DashboardScreen):
    """Escape goes back to the overview; ``b`` backfills this market."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("b", "backfill", "Backfill"),
        Binding("l", "reload", "Reload"),
    ]

    def __init__(self, coin: str, interval: str, *, bars: tuple[CandleBar, ...] = (), live: bool = True) -> None:
        super().__init__()
        self.coin = coin
        self.interval = interval
        self.bars = bars
        self.live = live
        self.loaded = False
        self.error = ""

    def compose(self) -> ComposeResult:
        yield HeaderLine()
        yield Static(id="detail")
        yield CandleChart(id="chart")
        yield KeysLine([("esc", "back"), ("b", "backfill"), ("l", "reload"), ("?", "keys"), ("q", "quit")])

    def first_shown(self) -> None:
        self.query_one(CandleChart).show(self.coin, self.interval, self.bars)
        if self.live:
            self.action_reload()
            self.set_interval(RELOAD_INTERVAL, self.action_reload)

    def show(self, state: DashboardState) -> None:
        self.query_one(HeaderLine).show(state)
        market = state.market(self.coin, self.interval)
        now = state.stats.time if state.stats else None
        line = detail_line(market, now)
        if self.error:
            line.append(f"\n ✖ {self.error}", style="red")
        self.query_one("#detail", Static).update(line)

    def action_reload(self) -> None:
        """Ask for the recent candles; the answer comes back as a :class:`CandlesLoaded` message."""
        self.post_message(CandlesWanted(self.coin, self.interval, CHART_CANDLES))

    def action_backfill(self) -> None:
        self.post_message(OpenBackfill((self.coin, self.interval)))

    def on_candles_loaded(self, message: CandlesLoaded) -> None:
        if (message.coin, message.interval) != (self.coin, self.interval):
            return
        self.error = message.error
        holder = self.holder()
        if holder is not None:
            self.show(holder.state)
        if message.error:
            return
        bars = parse_candles(message.result)
        self.loaded = True
        if bars != self.bars:
            self.bars = bars
            self.query_one(CandleChart).show(self.coin, self.interval, bars)
