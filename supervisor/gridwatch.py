"""Checking the exchange's candle times against candlewick's grid. Pure: no I/O, no clock.

The exchange's own ``t``/``T`` are the truth: a candle off the grid of
:func:`candlewick.model.open_time` is stored all the same. What changes is that the market is
in *grid mismatch*: the grid arithmetic that gap repair relies on no longer describes it, so
gap repair leaves it alone and health says so, until the mismatch is resolved.

- :func:`disagreement` judges one candle: ``None`` when its ``t`` is the grid's open time and
  ``T + 1`` the grid's next open time, else the open time the grid expects and the one the
  exchange's candle implies (its ``t``, or for a wrong length the next candle's ``T + 1``).
- :class:`GridWatch` follows every market: :meth:`GridWatch.observe` returns a
  :class:`GridChange` only when a market's state changes, so a caller logs each change once,
  never once per frame.

The newest candle of a market decides its state. A mismatch begins with an off-grid candle
newer than every candle seen on the grid, and is *resolved* when the exchange sends, for that
market, a candle on the grid that opens after the newest off-grid candle it sent (the
exchange is back on the grid). Older candles arriving later (a REST page of history) change
nothing either way. A restart starts every market afresh: the first page of start-up history
checks it again within seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from candlewick.model import INTERVAL_MS, Candle, next_open, open_time

__all__ = ["Disagreement", "GridChange", "GridMismatch", "GridWatch", "disagreement"]

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Where candlewick's grid and one exchange candle part: two open times (ms)."""

    #: The open time candlewick's grid gives.
    expected: int
    #: The open time the exchange's candle shows (its ``t``, or ``T + 1`` for the next candle).
    seen: int


def disagreement(candle: Candle) -> Disagreement | None:
    """``None`` when the candle sits on candlewick's grid, else the open times that differ."""
    interval, t, close = candle.interval, candle.open_time, candle.close_time
    step = INTERVAL_MS[interval]
    if interval != "1M" and t % step == 0 and close - t == step - 1:
        return None  # the fixed-interval fast path
    expected = open_time(interval, t)
    if expected != t:
        return Disagreement(expected, t)
    after = next_open(interval, t)
    if close + 1 != after:
        return Disagreement(after, close + 1)
    return None


@dataclass(frozen=True, slots=True)
class GridMismatch:
    """A market whose candles the exchange opens where candlewick's grid does not."""

    coin: str
    interval: str
    #: The first disagreement seen (what health and the log name).
    expected: int
    seen: int
    #: Open time of the newest off-grid candle seen so far.
    newest: int

    @property
    def market(self) -> Market:
        return (self.coin, self.interval)


@dataclass(frozen=True, slots=True)
class GridChange:
    """A market's grid state changed: ``agreed`` (first candles on the grid), ``mismatch`` or ``resolved``."""

    kind: Literal["agreed", "mismatch", "resolved"]
    coin: str
    interval: str
    #: The mismatch that began (``mismatch``) or ended (``resolved``).
    mismatch: GridMismatch | None = None


class GridWatch:
    """Grid state of every market seen: unchecked, agreed, or in mismatch."""

    def __init__(self) -> None:
        self._mismatch: dict[Market, GridMismatch] = {}
        #: Markets whose newest candle sits on the grid: the open time of that candle.
        self._agreed: dict[Market, int] = {}
        #: ``(t, T)`` of each market's last candle judged: the same candle again (a newer
        #: version of the open candle, many a second) cannot change the market's state.
        self._last: dict[Market, tuple[int, int]] = {}

    def mismatches(self) -> list[GridMismatch]:
        """Markets in mismatch now."""
        return list(self._mismatch.values())

    def mismatch(self, coin: str, interval: str) -> GridMismatch | None:
        return self._mismatch.get((coin, interval))

    def forget(self, coin: str, interval: str) -> GridChange | None:
        """Drop a market (it is no longer followed); a mismatch it had ends as ``resolved``."""
        market = (coin, interval)
        self._agreed.pop(market, None)
        self._last.pop(market, None)
        gone = self._mismatch.pop(market, None)
        return GridChange("resolved", coin, interval, gone) if gone is not None else None

    def observe(self, candle: Candle) -> GridChange | None:
        """Judge one candle; return the market's state change, if any.

        The newest candle decides: one older than the newest seen changes nothing (history
        the exchange kept from before it changed alignment, fetched again by gap repair).
        """
        market, t = (candle.coin, candle.interval), candle.open_time
        times = (t, candle.close_time)
        if self._last.get(market) == times:
            return None  # judged just before: whatever it changed has changed
        self._last[market] = times
        off = disagreement(candle)
        agreed = self._agreed.get(market)
        if off is None and agreed is not None:
            if t > agreed:
                self._agreed[market] = t
            return None  # the common case: one more candle on the grid
        current = self._mismatch.get(market)
        if off is None:
            if current is not None and t <= current.newest:
                return None  # an older candle on the grid: the exchange is not back on it
            self._agreed[market] = t
            if current is None:
                return GridChange("agreed", candle.coin, candle.interval)
            del self._mismatch[market]
            return GridChange("resolved", candle.coin, candle.interval, current)
        if current is not None:
            if t > current.newest:
                self._mismatch[market] = replace(current, newest=t)
            return None
        if agreed is not None and t < agreed:
            return None  # older than the newest candle on the grid
        self._agreed.pop(market, None)
        began = self._mismatch[market] = GridMismatch(candle.coin, candle.interval, off.expected, off.seen, t)
        return GridChange("mismatch", candle.coin, candle.interval, began)

    def observe_many(self, candles: Iterable[Candle]) -> list[GridChange]:
        """Judge candles in order; the state changes they cause, oldest first."""
        out = []
        for candle in candles:
            change = self.observe(candle)
            if change is not None:
                out.append(change)
        return out
