"""Deciding when a candle is closed, since Hyperliquid sends no closed flag. No I/O, no clock.

One :class:`MarketTracker` per (coin, interval) holds the newest open candle. A candle closes
when a candle with a newer ``t`` arrives for the market, or when :meth:`MarketTracker.tick`
sees the time pass its ``T`` plus the grace period. Every version goes through
:meth:`Candle.supersedes`, so duplicates, stale updates and out-of-order frames never move a
candle backwards. Each call returns the candles to emit downstream, oldest first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterable

from candlewick.model import Candle

__all__ = ["ClosingTracker", "MarketTracker"]

#: Closed versions remembered per market to judge late updates of recent candles.
RECENT_CLOSED = 16


def _same(a: Candle, b: Candle) -> bool:
    """Same candle state, wherever it came from (a REST copy of a live version changes nothing)."""
    return (a.open_time, a.trades, a.volume, a.close, a.high, a.low, a.open, a.closed) == (
        b.open_time,
        b.trades,
        b.volume,
        b.close,
        b.high,
        b.low,
        b.open,
        b.closed,
    )


class MarketTracker:
    """Open/closed bookkeeping of one market."""

    __slots__ = ("_recent", "current", "grace_ms")

    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        #: The newest candle not yet closed (``None`` before the first one or after a clock close).
        self.current: Candle | None = None
        self._recent: OrderedDict[int, Candle] = OrderedDict()

    @property
    def last_open_time(self) -> int | None:
        """Open time of the newest candle seen (open or closed)."""
        times = [t for t in (self.current.open_time if self.current else None, *self._recent.keys()) if t is not None]
        return max(times) if times else None

    def _remember(self, candle: Candle) -> None:
        self._recent[candle.open_time] = candle
        self._recent.move_to_end(candle.open_time)
        while len(self._recent) > RECENT_CLOSED:
            self._recent.popitem(last=False)

    def _close_current(self, out: list[Candle]) -> None:
        cur = self.current
        if cur is not None:
            closed = cur.as_closed()
            self._remember(closed)
            out.append(closed)
            self.current = None

    def offer(self, candle: Candle, now_ms: int) -> list[Candle]:
        """Take one version of a candle (live or REST); return what to emit."""
        t = candle.open_time
        cur = self.current
        if cur is not None and t == cur.open_time and candle.trades > cur.trades and not candle.closed:
            self.current = candle  # the common case: the open candle gained trades (it supersedes)
            return [candle]
        out: list[Candle] = []
        if cur is not None and t > cur.open_time:
            self._close_current(out)
            cur = None
        if cur is not None and t == cur.open_time:
            if _same(candle, cur):
                return out  # an exact duplicate changes nothing
            if candle.closed:
                if candle.supersedes(cur):
                    self.current = None
                    self._remember(candle)
                    out.append(candle)
            elif candle.supersedes(cur):
                self.current = candle
                out.append(candle)
            return out
        if cur is not None and t < cur.open_time:
            # An older candle than the open one: it is closed whatever the frame says.
            return out + self._late(candle.as_closed())
        known = self._recent.get(t)
        newest_closed = max(self._recent) if self._recent else None
        if known is not None or (newest_closed is not None and t < newest_closed):
            return out + self._late(candle.as_closed())
        if candle.closed or now_ms > candle.close_time + self.grace_ms:
            return out + self._late(candle.as_closed())
        self.current = candle
        out.append(candle)
        return out

    def _late(self, closed: Candle) -> list[Candle]:
        known = self._recent.get(closed.open_time)
        if known is not None and (_same(known, closed) or not closed.supersedes(known)):
            return []
        self._remember(closed)
        return [closed]

    def tick(self, now_ms: int) -> list[Candle]:
        """Close the open candle once ``now_ms`` is past its ``T`` plus the grace period."""
        cur = self.current
        if cur is not None and now_ms > cur.close_time + self.grace_ms:
            out: list[Candle] = []
            self._close_current(out)
            return out
        return []


class ClosingTracker:
    """Trackers of every market, keyed by (coin, interval)."""

    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        self._markets: dict[tuple[str, str], MarketTracker] = {}

    def market(self, coin: str, interval: str) -> MarketTracker:
        key = (coin, interval)
        tracker = self._markets.get(key)
        if tracker is None:
            tracker = self._markets[key] = MarketTracker(self.grace_ms)
        return tracker

    def offer(self, candle: Candle, now_ms: int) -> list[Candle]:
        """Route one candle version to its market's tracker."""
        tracker = self._markets.get((candle.coin, candle.interval))
        if tracker is None:
            tracker = self.market(candle.coin, candle.interval)
        return tracker.offer(candle, now_ms)

    def offer_many(self, candles: Iterable[Candle], now_ms: int) -> list[Candle]:
        out: list[Candle] = []
        for c in candles:
            out.extend(self.offer(c, now_ms))
        return out

    def tick(self, now_ms: int, *, hold: Container[tuple[str, str]] = ()) -> list[Candle]:
        """Clock-close every market whose open candle is past ``T`` + grace.

        Markets in ``hold`` are skipped: while their feed is disconnected the last version seen
        may not be final, so they wait for the catch-up instead of closing on a partial candle.
        """
        out: list[Candle] = []
        for market, tracker in self._markets.items():
            if market not in hold:
                out.extend(tracker.tick(now_ms))
        return out

    def forget(self, coin: str, interval: str) -> None:
        """Drop a market (it was removed)."""
        self._markets.pop((coin, interval), None)

    def next_deadline_ms(self) -> int | None:
        """The earliest time at which :meth:`tick` will close something."""
        deadlines = [m.current.close_time + self.grace_ms + 1 for m in self._markets.values() if m.current]
        return min(deadlines) if deadlines else None
