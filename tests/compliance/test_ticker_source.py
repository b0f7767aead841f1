"""The third-party ``ticker`` source, pip-installed, passes the source suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from candlewick.model import Candle
from candlewick.testing.compliance import SourceFeed, SourceSuite


class TickerFeed(SourceFeed):
    """The ticker makes its own candles: its input is its options and its formula."""

    def options(self) -> dict[str, Any]:
        return {"coins": ["AAA", "BBB"], "period": 0.01}

    def expected(self, candle: Candle) -> Candle | None:
        """The ticker's documented output: minute m trades 1.0 at "{100 + m % 7}.5", closed."""
        t = candle.open_time
        price = f"{100 + (t // 60_000) % 7}.5"
        return Candle(candle.coin, "1m", t, t + 59_999, price, price, price, price, "1.0", 1, closed=True)

    def extra_market(self) -> tuple[str, str]:
        return ("CCC", "1m")


class TestTickerSource(SourceSuite):
    plugin = "ticker"
    not_applicable = {
        "duplicates": "makes its own candles, one version each: no input to repeat",
        "out_of_order": "makes its own candles in order: no input to reorder",
        "malformed": "makes its own candles: no input to be malformed",
        "reconnect": "makes its own candles: no connection to drop",
    }

    @pytest.fixture(autouse=True)
    def _installed(self, ticker_installed: Path) -> None:
        """The entry point is found once the distribution is installed."""

    @pytest.fixture
    def feed(self) -> TickerFeed:
        return TickerFeed()
