"""Derived intervals: higher-interval candles folded from one coin's 1m candles. No I/O, no clock.

A derived candle is exact: the open of its first minute, the close of its last, high and low as
the max and min, volume and trades as sums (``Decimal`` and ``int``, never float), on the
exchange's grid (:func:`candlewick.model.open_time`: ``1w`` opens on Thursday, ``1M`` on the
1st). Every 1m version offered re-emits the open derived candle of each interval it falls in.

When a bucket is complete (its derived candle closed, which means final):

- every minute folded into it is closed, and
- either a minute at or after the bucket's end has been seen, or the bucket's last minute is
  closed, or :meth:`CoinDeriver.tick` sees the clock past the bucket's ``T`` plus the grace
  while the coin's feed is connected. A minute without trades sends nothing; only this later
  evidence says it was empty, so a disconnect (``held``) holds every close until the catch-up.

Only buckets opening at or after ``cover_from`` (the first minute the 1m history covers) are
derived; a bucket that began earlier but ends after ``live_from`` is listed in
:attr:`CoinDeriver.unfilled` when it ends, for the exchange's own candle to be fetched.
Buckets that ended before ``live_from`` are left to the native start-up history.

A minute that changes after it was folded is exchanged exactly (its previous version is kept
for the last :data:`RECENT_MINUTES` minutes); a high or low that falls cannot be undone exactly,
so the bucket is marked inexact and reconciliation decides. A minute that arrives for a bucket
already closed is counted in :attr:`CoinDeriver.late`; reconciliation replaces the candle if
the exchange's differs. A minute for a bucket older than every remembered one is late as well,
and that bucket is listed in :attr:`CoinDeriver.unfilled`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Container, Iterable
from decimal import Decimal

from candlewick.model import MINUTE_MS, Candle, next_open, open_time

__all__ = ["RECENT_MINUTES", "CoinDeriver", "Deriver"]

#: Minute versions kept per coin to exchange a changed minute exactly.
RECENT_MINUTES = 64
#: Closed buckets remembered per interval to recognise late minutes; a minute for a bucket older
#: than all of them is late too (its bucket is fetched from the exchange instead).
RECENT_BUCKETS = 64


#: A minute's high, low and volume as decimals.
_Parsed = tuple[Decimal, Decimal, Decimal]


def _parse(m: Candle) -> _Parsed:
    return (Decimal(m.high), Decimal(m.low), Decimal(m.volume))


class _Bucket:
    """The running fold of the minutes of one derived candle."""

    __slots__ = (
        "close", "end", "exact", "first_t", "high", "high_s", "interval", "last_t", "low", "low_s",
        "minutes", "open", "open_time", "trades", "unclosed", "volume",
    )  # fmt: skip

    def __init__(self, interval: str, start: int) -> None:
        self.interval = interval
        self.open_time = start
        self.end = next_open(interval, start)
        self.first_t = self.last_t = -1
        self.open = self.close = self.high_s = self.low_s = ""
        self.high = self.low = Decimal(0)
        self.volume = Decimal(0)
        self.trades = 0
        self.unclosed = 0
        self.minutes = 0  # bit k: minute open_time + k minutes is folded
        self.exact = True

    def fold(self, m: Candle, new: _Parsed, old: Candle | None, was: _Parsed | None) -> None:
        """Fold one minute version in (``old``: the version folded before, if known; ``new`` and
        ``was``: their high, low and volume as decimals)."""
        bit = 1 << ((m.open_time - self.open_time) // MINUTE_MS)
        folded = bool(self.minutes & bit)
        high, low, volume = new
        if folded and (old is None or was is None):
            self.exact = False  # the version it replaces is forgotten: sums cannot be exchanged
        elif folded and old is not None and was is not None:
            self.volume -= was[2]
            self.trades -= old.trades
            self.unclosed -= not old.closed
            if (was[0] == self.high and high < self.high) or (was[1] == self.low and low > self.low):
                self.exact = False  # a falling extreme: the others' max/min are not kept
        if not folded or old is not None:
            self.volume += volume
            self.trades += m.trades
            self.unclosed += not m.closed
        self.minutes |= bit
        if self.first_t < 0 or high > self.high:
            self.high, self.high_s = high, m.high
        if self.first_t < 0 or low < self.low:
            self.low, self.low_s = low, m.low
        t = m.open_time
        if self.first_t < 0 or t <= self.first_t:
            self.first_t, self.open = t, m.open
        if t >= self.last_t:
            self.last_t, self.close = t, m.close

    def complete(self, newest_t: int, now_ms: int | None, grace_ms: int) -> bool:
        """Every folded minute closed, and evidence that no minute is still to come."""
        if self.unclosed:
            return False
        if newest_t >= self.end or self.last_t == self.end - MINUTE_MS:
            return True
        return now_ms is not None and now_ms > self.end - 1 + grace_ms

    def candle(self, coin: str, closed: bool) -> Candle:
        return Candle(
            coin, self.interval, self.open_time, self.end - 1, self.open, self.high_s, self.low_s, self.close,
            format(self.volume, "f"), self.trades, closed=closed, origin="live", derived=True,
        )  # fmt: skip


class CoinDeriver:
    """The derived intervals of one coin."""

    def __init__(self, coin: str, intervals: Iterable[str], *, cover_from: int, live_from: int, grace_ms: int) -> None:
        self.coin = coin
        self.intervals: list[str] = [i for i in intervals if i != "1m"]
        self.cover_from = open_time("1m", cover_from)
        self.live_from = live_from
        self.grace_ms = grace_ms
        self.newest_t = -1
        #: While set (the feed is down or catching up), nothing closes: a later minute is no
        #: evidence that the minutes before it are all here.
        self.held = False
        #: Minutes that arrived for a bucket already closed.
        self.late = 0
        #: Buckets whose derived candle closed while some of their inputs were not exactly known.
        self.inexact = 0
        #: (interval, open time) of buckets that ended without 1m coverage: fetch the exchange's.
        self.unfilled: list[tuple[str, int]] = []
        self._recent: OrderedDict[int, Candle] = OrderedDict()
        self._open: dict[str, dict[int, _Bucket]] = {i: {} for i in self.intervals}
        self._closed: dict[str, deque[int]] = {i: deque(maxlen=RECENT_BUCKETS) for i in self.intervals}
        #: Per interval, (start, end) of the bucket the 1m history does not cover.
        self._uncovered: dict[str, tuple[int, int]] = {}
        #: Per interval, the newest bucket created.
        self._latest: dict[str, _Bucket] = {}
        #: Per interval, the newest bucket start forgotten from ``_closed`` (older minutes are late).
        self._floor: dict[str, int] = {}
        for interval in self.intervals:
            self._track_uncovered(interval)

    def _track_uncovered(self, interval: str) -> None:
        start = open_time(interval, self.cover_from)
        if start < self.cover_from and next_open(interval, start) > self.live_from:
            self._uncovered[interval] = (start, next_open(interval, start))

    def add_interval(self, interval: str) -> None:
        """Derive one more interval from now on (its current bucket is filled natively)."""
        if interval == "1m" or interval in self._open:
            return
        self.intervals.append(interval)
        self._open[interval] = {}
        self._closed[interval] = deque(maxlen=RECENT_BUCKETS)
        start = open_time(interval, max(self.newest_t, self.cover_from))
        if start < self.cover_from or self.newest_t >= start:
            self._uncovered[interval] = (start, next_open(interval, start))  # minutes went by unfolded

    def remove_interval(self, interval: str) -> None:
        """Stop deriving an interval (its open bucket is dropped)."""
        if interval in self._open:
            self.intervals.remove(interval)
            del self._open[interval], self._closed[interval]
            self._latest.pop(interval, None)
            self._uncovered.pop(interval, None)

    def offer(self, minute: Candle) -> list[Candle]:
        """Take one 1m version; return the derived versions to emit (open updates and closes)."""
        t = minute.open_time
        old = self._recent.get(t)
        if old is not None and (old == minute or not minute.supersedes(old)):
            return []
        self._recent[t] = minute
        self._recent.move_to_end(t)
        if len(self._recent) > RECENT_MINUTES:
            self._recent.popitem(last=False)
        advanced = t > self.newest_t
        self.newest_t = max(self.newest_t, t)
        new, was = _parse(minute), None if old is None else _parse(old)
        touched: list[_Bucket] = []
        for interval in self.intervals:
            latest = self._latest.get(interval)
            if latest is not None and latest.open_time <= t < latest.end and latest.open_time in self._open[interval]:
                latest.fold(minute, new, old, was)  # the common case: the newest bucket, still open
                touched.append(latest)
                continue
            start = open_time(interval, t)
            if (
                start < self.cover_from
                or next_open(interval, start) <= self.live_from
                or self._uncovered.get(interval, (None,))[0] == start
            ):
                continue
            if start in self._closed[interval] or start <= self._floor.get(interval, -1):
                self.late += 1
                if start not in self._closed[interval] and (interval, start) not in self.unfilled:
                    self.unfilled.append((interval, start))
                continue
            bucket = self._open[interval].get(start)
            if bucket is None:
                bucket = self._open[interval][start] = _Bucket(interval, start)
                if latest is None or start > latest.open_time:
                    self._latest[interval] = bucket
            bucket.fold(minute, new, old, was)
            touched.append(bucket)
        closed = self._close_ready(None) if (advanced or minute.closed) and not self.held else []
        out = [b.candle(self.coin, False) for b in touched if b not in closed]
        out.extend(b.candle(self.coin, True) for b in closed)
        return out

    def tick(self, now_ms: int) -> list[Candle]:
        """Close what the clock says is complete (call only while the coin's feed is connected)."""
        return [b.candle(self.coin, True) for b in self._close_ready(now_ms)]

    def _close_ready(self, now_ms: int | None) -> list[_Bucket]:
        closed: list[_Bucket] = []
        if self.held:
            return closed
        for interval, buckets in self._open.items():
            for start in [s for s, b in buckets.items() if b.complete(self.newest_t, now_ms, self.grace_ms)]:
                bucket = buckets.pop(start)
                self._remember_closed(interval, start)
                self.inexact += not bucket.exact
                closed.append(bucket)
        for interval, (start, end) in list(self._uncovered.items()):
            if self.newest_t >= end or (now_ms is not None and now_ms > end - 1 + self.grace_ms):
                del self._uncovered[interval]
                self._remember_closed(interval, start)
                self.unfilled.append((interval, start))
        return closed

    def _remember_closed(self, interval: str, start: int) -> None:
        closed = self._closed[interval]
        if len(closed) == closed.maxlen:
            self._floor[interval] = max(self._floor.get(interval, -1), closed[0])
        closed.append(start)

    def next_deadline_ms(self) -> int | None:
        """The earliest time at which :meth:`tick` may close something."""
        ends = [b.end for buckets in self._open.values() for b in buckets.values()]
        ends += [end for _, end in self._uncovered.values()]
        return min(ends) + self.grace_ms if ends else None


class Deriver:
    """Every coin's :class:`CoinDeriver`, fed the source's 1m candles."""

    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        self.coins: dict[str, CoinDeriver] = {}
        #: Derived intervals per coin, known before the coin's feed starts.
        self.wanted: dict[str, list[str]] = {}

    def follow(self, coin: str, interval: str) -> None:
        """Derive ``interval`` of ``coin`` (from the coin's start, or from now if it has started)."""
        intervals = self.wanted.setdefault(coin, [])
        if interval not in intervals:
            intervals.append(interval)
        deriver = self.coins.get(coin)
        if deriver is not None:
            deriver.add_interval(interval)

    def unfollow(self, coin: str, interval: str) -> None:
        """Stop deriving ``interval`` of ``coin``; a coin left with none is dropped."""
        if interval in self.wanted.get(coin, []):
            self.wanted[coin].remove(interval)
        deriver = self.coins.get(coin)
        if deriver is not None:
            deriver.remove_interval(interval)
        if coin in self.wanted and not self.wanted[coin]:
            del self.wanted[coin]
            self.coins.pop(coin, None)

    def derives(self, coin: str, interval: str) -> bool:
        return interval in self.wanted.get(coin, ())

    def start(self, coin: str, *, cover_from: int, live_from: int) -> None:
        """The coin's 1m feed starts: its history covers minutes from ``cover_from``, live from ``live_from``."""
        if coin in self.wanted and coin not in self.coins:
            self.coins[coin] = CoinDeriver(
                coin, self.wanted[coin], cover_from=cover_from, live_from=live_from, grace_ms=self.grace_ms
            )

    def offer(self, candle: Candle) -> list[Candle]:
        """Route one candle: a 1m version of a started coin yields derived versions; others nothing."""
        if candle.interval != "1m" or candle.derived:
            return []
        deriver = self.coins.get(candle.coin)
        return [] if deriver is None else deriver.offer(candle)

    def tick(self, now_ms: int, *, hold: Container[str] = ()) -> list[Candle]:
        """Closes of every coin not in ``hold`` (its 1m feed disconnected or catching up); the
        coins in ``hold`` are held until the next call without them."""
        out: list[Candle] = []
        for coin, deriver in self.coins.items():
            deriver.held = coin in hold
            out.extend(deriver.tick(now_ms))
        return out

    def hold(self, coin: str, held: bool = True) -> None:
        """Hold (or release) the closes of one coin at once, e.g. while its 1m catch-up runs."""
        deriver = self.coins.get(coin)
        if deriver is not None:
            deriver.held = held

    def take_unfilled(self) -> list[tuple[str, str, int]]:
        """(coin, interval, open time) of buckets that ended without coverage, since the last call."""
        out = [(coin, i, t) for coin, d in self.coins.items() for i, t in d.unfilled]
        for deriver in self.coins.values():
            deriver.unfilled.clear()
        return out

    def next_deadline_ms(self) -> int | None:
        deadlines = [d for c in self.coins.values() if (d := c.next_deadline_ms()) is not None]
        return min(deadlines) if deadlines else None
