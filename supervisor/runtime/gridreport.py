"""A source's grid state in telemetry: one metric per market, one event and one log line per change.

A source passes every candle the exchange sends (websocket and REST) to
:meth:`GridReporter.observe`; the pure :class:`~candlewick.gridwatch.GridWatch` decides
whether a market's state changed, and only then does this shell write:

- ``candlewick_grid_mismatch{source,coin,interval}``: 1 during a mismatch, 0 once the market's
  candles were found on the grid (the first REST page at start-up, or the first frame);
- ``candlewick_grid_mismatch_expected_open_timestamp_seconds`` and
  ``..._seen_open_timestamp_seconds`` (same labels) during a mismatch: the open time
  candlewick's grid expects and the one the exchange sent;
- a ``grid.mismatch`` or ``grid.resolved`` event, and one WARNING (mismatch) or INFO
  (resolved) log line.

Health, ``stats`` and gap repair read the metrics (:func:`mismatch_of`), never a second copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from candlewick.gridwatch import GridChange, GridWatch
from candlewick.model import Candle
from candlewick.runtime import names
from candlewick.runtime.telemetry import Metrics, Telemetry

__all__ = ["GridReporter", "format_time", "mismatch_of"]

log = logging.getLogger(__name__)

_LABELS = ("source", "coin", "interval")


def format_time(ms: int) -> str:
    """``2025-10-30 00:00 UTC (Thu)``: an open time as people read it."""
    d = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return d.strftime("%Y-%m-%d %H:%M UTC (%a)") if d.second == d.microsecond == 0 else d.isoformat()


def mismatch_of(metrics: Metrics, source: str, coin: str, interval: str) -> tuple[int, int] | None:
    """``(expected, seen)`` open times (ms) while the market is in grid mismatch, else ``None``."""
    if not metrics.value(names.GRID_MISMATCH, source=source, coin=coin, interval=interval):
        return None
    expected = metrics.value(names.GRID_EXPECTED_OPEN, source=source, coin=coin, interval=interval)
    seen = metrics.value(names.GRID_SEEN_OPEN, source=source, coin=coin, interval=interval)
    return round(expected * 1000), round(seen * 1000)


class GridReporter:
    """Watches one source's candles against candlewick's grid and reports each change once."""

    def __init__(self, source: str, telemetry: Telemetry) -> None:
        self.source = source
        self.telemetry = telemetry
        self.watch = GridWatch()
        m = telemetry.metrics
        self._flag = m.gauge(names.GRID_MISMATCH, "1 while the exchange's open times leave candlewick's grid", _LABELS)
        self._expected = m.gauge(names.GRID_EXPECTED_OPEN, "Open time candlewick's grid expects (mismatch)", _LABELS)
        self._seen = m.gauge(names.GRID_SEEN_OPEN, "Open time the exchange sent instead (mismatch)", _LABELS)

    def mismatched(self, coin: str, interval: str) -> bool:
        return self.watch.mismatch(coin, interval) is not None

    def observe(self, candle: Candle) -> None:
        """Check one candle the exchange sent."""
        change = self.watch.observe(candle)
        if change is not None:
            self._report(change)

    def observe_many(self, candles: Iterable[Candle]) -> None:
        """Check candles the exchange sent, in the order it sent them."""
        for change in self.watch.observe_many(candles):
            self._report(change)

    def forget(self, coin: str, interval: str) -> None:
        """The market is no longer followed: its grid state goes."""
        self.watch.forget(coin, interval)
        labels = {"source": self.source, "coin": coin, "interval": interval}
        for gauge in (self._flag, self._expected, self._seen):
            gauge.remove(**labels)

    def _report(self, change: GridChange) -> None:
        coin, interval, mismatch = change.coin, change.interval, change.mismatch
        labels = {"source": self.source, "coin": coin, "interval": interval}
        if change.kind == "agreed":
            self._flag.set(0, **labels)
            log.debug("%s: %s/%s candles sit on candlewick's grid", self.source, coin, interval)
            return
        assert mismatch is not None
        expected, seen = format_time(mismatch.expected), format_time(mismatch.seen)
        if change.kind == "mismatch":
            self._flag.set(1, **labels)
            self._expected.set(mismatch.expected / 1000, **labels)
            self._seen.set(mismatch.seen / 1000, **labels)
            message = (
                f"grid mismatch in {coin}/{interval}: the exchange opens a candle at {seen}, "
                f"candlewick's grid expects {expected}"
            )
            log.warning(
                "%s: %s; its candles are stored as the exchange sends them, but gap repair leaves "
                "%s/%s alone until they are back on the grid (the exchange may have changed its "
                "alignment: upgrade candlewick or report it)",
                self.source, message, coin, interval,
            )  # fmt: skip
            self.telemetry.publish(
                names.EV_GRID_MISMATCH, self.source, f"{self.source}: {message}",
                coin=coin, interval=interval, expected=mismatch.expected, seen=mismatch.seen,
            )  # fmt: skip
            return
        self._flag.set(0, **labels)
        self._expected.remove(**labels)
        self._seen.remove(**labels)
        message = f"{coin}/{interval} candles are back on candlewick's grid (the mismatch at {seen} is resolved)"
        log.info("%s: %s; gap repair resumes", self.source, message)
        self.telemetry.publish(
            names.EV_GRID_RESOLVED, self.source, f"{self.source}: {message}",
            coin=coin, interval=interval, expected=mismatch.expected, seen=mismatch.seen,
        )  # fmt: skip
