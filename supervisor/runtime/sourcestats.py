"""The counters the dashboard reads for every source, kept in one place for source authors.

``candlewick ctl stats``, the TUI and ``/metrics`` show per market the candle updates, the wall
time of the last one and the newest open time; per source the malformed inputs and reconnects.
A source counts each candle it emits with :meth:`SourceStats.emitted`::

    self.stats = SourceStats(ctx.telemetry, ctx.name)
    ...
    await self.ctx.candles.send(candle)
    self.stats.emitted(candle, now=self.ctx.clock.time())
"""

from __future__ import annotations

from candlewick.model import Candle
from candlewick.runtime import names
from candlewick.runtime.telemetry import Telemetry

__all__ = ["SourceStats"]


class SourceStats:
    """Per-market candle counters and per-source fault counters, under the shared names."""

    def __init__(self, telemetry: Telemetry, source: str) -> None:
        m = telemetry.metrics
        self.source = source
        self._candles_in = m.counter(names.CANDLES_IN, "Candle updates received", ("source", "coin", "interval"))
        self._last_frame = m.gauge(names.LAST_FRAME, "Wall time of the last frame", ("source", "coin", "interval"))
        self._last_candle = m.gauge(names.LAST_CANDLE, "Open time of the newest candle", ("coin", "interval"))
        self._malformed = m.counter(names.MALFORMED, "Frames that failed validation", ("source",)).labels(source=source)
        self._reconnects = m.counter(names.RECONNECTS, "Reconnects", ("source",)).labels(source=source)
        self._newest: dict[tuple[str, str], int] = {}

    def emitted(self, candle: Candle, *, now: float) -> None:
        """Count one candle update of its market, received at wall time ``now`` (seconds)."""
        coin, interval = candle.market
        self._candles_in.inc(source=self.source, coin=coin, interval=interval)
        self._last_frame.set(now, source=self.source, coin=coin, interval=interval)
        newest = self._newest.get(candle.market)
        if newest is None or candle.open_time > newest:
            self._newest[candle.market] = candle.open_time
            self._last_candle.set(candle.open_time / 1000, coin=coin, interval=interval)

    def malformed(self) -> int:
        """Count one input that failed validation (and was dropped); returns how many so far."""
        self._malformed.inc()
        return int(self._malformed.get())

    def reconnected(self) -> None:
        """Count one reconnect to the input."""
        self._reconnects.inc()
