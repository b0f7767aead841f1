"""Write statistics every sink reports under the shared metric names."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from candlewick.model import DAY_MS, Candle
from candlewick.runtime import names
from candlewick.runtime.telemetry import Telemetry

__all__ = ["SinkStats"]


class SinkStats:
    """Rows written, write latency and failed writes of one sink (label ``sink``)."""

    def __init__(self, telemetry: Telemetry, sink: str) -> None:
        self._clock = telemetry.clock
        self._sink = sink
        #: Open times of today's (UTC) closed candles committed, per market.
        self._today: dict[tuple[str, str], set[int]] = {}
        self._day = -1
        m = telemetry.metrics
        self._today_gauge = m.gauge(
            names.CANDLES_TODAY, "Closed candles of today (UTC) committed since start", ("sink", "coin", "interval")
        )
        self.rows = m.counter(names.ROWS_WRITTEN, "Rows upserted by the sink", ("sink",)).labels(sink=sink)
        self.latency = m.gauge(names.WRITE_LATENCY, "Duration of the last batch write", ("sink",)).labels(sink=sink)
        self.errors = m.counter(names.WRITE_ERRORS, "Failed batch writes", ("sink",)).labels(sink=sink)

    def written(self, rows: int, seconds: float) -> None:
        self.rows.inc(rows)
        self.latency.set(seconds)

    def committed(self, batch: Sequence[Candle]) -> None:
        """Count the closed candles of today (UTC) in a batch the store committed, once each."""
        day_start = self._current_day() * DAY_MS
        for candle in batch:
            if not candle.closed or candle.open_time < day_start:
                continue
            seen = self._today.get(candle.market)
            if seen is None:
                seen = self._today[candle.market] = set()
                coin, interval = candle.market
                self._today_gauge.set_function(
                    functools.partial(self._count_today, candle.market), sink=self._sink, coin=coin, interval=interval
                )
            seen.add(candle.open_time)

    def _count_today(self, market: tuple[str, str]) -> float:
        self._current_day()  # a new day empties the sets
        return len(self._today.get(market, ()))

    def _current_day(self) -> int:
        day = int(self._clock.time() * 1000) // DAY_MS
        if day != self._day:
            self._day = day
            for seen in self._today.values():
                seen.clear()
        return day

    def failed(self) -> None:
        self.errors.inc()
