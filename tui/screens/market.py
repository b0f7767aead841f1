"""A market's detail: its numbers and a candlestick chart of ``candles.recent``, updating live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from candlewick.errors import ControlError
from candlewick.tui.messages import CandlesLoaded
from candlewick.tui.state import CandleBar, DashboardState, parse_candles
from candlewick.tui.view import detail_line
from candlewick.tui.widgets.candle_chart import CandleChart
from candlewick.tui.widgets.header_line import HeaderLine
from candlewick.tui.widgets.keys_line import KeysLine

if TYPE_CHECKING:
    from candlewick.tui.app import CandlewickApp

#: Candles the chart shows (about one per two columns at 80 wide).
CHART_CANDLES = 36
#: Seconds between ``candles.recent`` reloads while the screen is shown.
RELOAD_INTERVAL = 2.0


class MarketScreen(Screen[None]):
    """Escape goes back to the overview; ``b`` backfills this market."""

    #: Set once composed: the app repaints a screen only from then on.
    ready = False

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

    @property
    def dashboard(self) -> CandlewickApp:
        from candlewick.tui.app import CandlewickApp

        assert isinstance(self.app, CandlewickApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield HeaderLine()
        yield Static(id="detail")
        yield CandleChart(id="chart")
        yield KeysLine([("esc", "back"), ("b", "backfill"), ("l", "reload"), ("?", "keys"), ("q", "quit")])

    def on_mount(self) -> None:
        self.ready = True
        self.show(self.dashboard.state)
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
        self.load_candles()

    def action_backfill(self) -> None:
        self.dashboard.open_backfill((self.coin, self.interval))

    @work(exclusive=True, group="candles")
    async def load_candles(self) -> None:
        """Fetch the recent candles; the answer comes back as a :class:`CandlesLoaded` message."""
        params = {"coin": self.coin, "interval": self.interval, "limit": CHART_CANDLES}
        try:
            result = await self.dashboard.link.call("candles.recent", params)
        except ControlError as err:
            self.post_message(CandlesLoaded(self.coin, self.interval, {}, error=f"candles.recent: {err}"))
            return
        self.post_message(CandlesLoaded(self.coin, self.interval, result if isinstance(result, dict) else {}))

    def on_candles_loaded(self, message: CandlesLoaded) -> None:
        if (message.coin, message.interval) != (self.coin, self.interval):
            return
        self.error = message.error
        self.show(self.dashboard.state)
        if message.error:
            return
        bars = parse_candles(message.result)
        self.loaded = True
        if bars != self.bars:
            self.bars = bars
            self.query_one(CandleChart).show(self.coin, self.interval, bars)
