"""A candlestick chart of a market's recent candles (plotext inside Textual)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from candlewick.model import INTERVAL_MS
from candlewick.tui.state import CandleBar

#: What plotext parses (every candle carries its full date, so days never collide).
INPUT_FORM = "Y-m-d H:M"


def tick_form(interval: str) -> str:
    """Axis labels: clock time for intraday intervals, month/day from a day up."""
    return "H:M" if INTERVAL_MS.get(interval, 0) < INTERVAL_MS["1d"] else "m/d"


def stamp(open_ms: int) -> str:
    return dt.datetime.fromtimestamp(open_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


class CandleChart(PlotextPlot):
    """Shows the bars it is given; a pure function of (coin, interval, bars)."""

    def show(self, coin: str, interval: str, bars: Sequence[CandleBar]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.date_form(INPUT_FORM, tick_form(interval))
        if bars:
            last = bars[-1]
            state = "" if last.closed else " (open)"
            plt.title(f"{coin} {interval} · close {last.close:g}{state} · UTC")
            plt.candlestick(
                [stamp(b.time) for b in bars],
                {
                    "Open": [b.open for b in bars],
                    "Close": [b.close for b in bars],
                    "High": [b.high for b in bars],
                    "Low": [b.low for b in bars],
                },
            )
        else:
            plt.title(f"{coin} {interval} · no candles stored yet")
        self.refresh()
