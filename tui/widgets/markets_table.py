"""The markets pane: last candle, lag, frames/s sparkline, candles, gaps repaired, losses."""

from __future__ import annotations

from candlewick.tui.state import DashboardState
from candlewick.tui.view import market_cells
from candlewick.tui.widgets.state_table import StateTable


class MarketsTable(StateTable):
    """One row per live market; Enter opens its chart."""

    GAP = 2
    COLUMNS = (
        ("COIN", "coin", 6),
        ("IV", "interval", 3),
        ("LAST CANDLE", "last", 11),
        ("LAG", "lag", 7),
        ("FRAMES/s", "rate", 14),
        ("TODAY", "candles", 7),
        ("GAPS", "gaps", 6),
        ("LOST", "lost", 4),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._markets: dict[str, tuple[str, str]] = {}

    def show(self, state: DashboardState) -> None:
        markets = state.stats.markets if state.stats else ()
        now = state.stats.time if state.stats else None
        self._markets = {f"{m.coin} {m.interval}": m.key for m in markets}
        self.show_rows([(f"{m.coin} {m.interval}", market_cells(m, state.rates.get(m.key, ()), now)) for m in markets])

    def selected_market(self) -> tuple[str, str] | None:
        key = self.selected_key()
        return None if key is None else self._markets.get(key)

    def market_of(self, key: str | None) -> tuple[str, str] | None:
        return None if key is None else self._markets.get(key)
