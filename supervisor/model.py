"""The one candle record every component passes around, and interval arithmetic.

A :class:`Candle` is immutable; prices and volume stay the exact decimal strings the
exchange sent. Times are integer milliseconds since the Unix epoch (UTC).

The grid is Hyperliquid's: every fixed interval, ``3d`` and ``1w`` included, is aligned to
the epoch (1970-01-01 was a Thursday, so weekly candles open on Thursday 00:00 UTC) and
``1M`` is the calendar month (UTC). The exchange's own ``t``/``T`` stay the truth: where
they disagree with this arithmetic, :mod:`candlewick.gridwatch` reports it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Literal

Origin = Literal["live", "rest"]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

#: Every interval Hyperliquid serves, shortest first (``1M`` is a calendar month).
INTERVALS: tuple[str, ...] = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M",
)  # fmt: skip

#: Nominal length of each interval in ms (``1M`` counts 30 days; use :func:`next_open` for exact bounds).
INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
    "1M": 30 * DAY_MS,
}


def check_interval(interval: str) -> str:
    """Return ``interval`` if Hyperliquid serves it, else raise ``ValueError`` listing the valid ones."""
    if interval not in INTERVAL_MS:
        raise ValueError(f"{interval!r} is not one of {', '.join(INTERVALS)}")
    return interval


def _month_start(ts_ms: int) -> dt.datetime:
    d = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC)
    return d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _to_ms(d: dt.datetime) -> int:
    return calendar.timegm(d.utctimetuple()) * 1000


def open_time(interval: str, ts_ms: int) -> int:
    """Open time of the candle of ``interval`` that contains ``ts_ms`` (epoch-aligned; ``1M``: the 1st)."""
    if interval == "1M":
        return _to_ms(_month_start(ts_ms))
    step = INTERVAL_MS[interval]
    return ts_ms - ts_ms % step


def next_open(interval: str, t_ms: int) -> int:
    """Open time of the candle after the one that opens at ``t_ms``."""
    if interval == "1M":
        start = _month_start(t_ms)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return _to_ms(start.replace(year=year, month=month))
    return open_time(interval, t_ms) + INTERVAL_MS[interval]


def close_time(interval: str, t_ms: int) -> int:
    """Inclusive close time ``T`` of the candle that opens at ``t_ms`` (``next_open - 1``)."""
    return next_open(interval, t_ms) - 1


def is_decimal_string(value: object) -> bool:
    """True when ``value`` is a string holding a finite, non-negative decimal number."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return False
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return False
    return d.is_finite() and not d.is_signed() and value.strip() == value


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle of one market, as the exchange sent it.

    ``open_time``/``close_time`` are the exchange's ``t``/``T`` (ms, ``T`` inclusive);
    ``open``..``volume`` are exact decimal strings; ``trades`` is ``n``. ``closed`` is our
    verdict that the candle is final; ``origin`` says whether it came live or over REST;
    ``derived`` marks a candle candlewick folded from 1m candles instead of receiving it.
    """

    coin: str
    interval: str
    open_time: int
    close_time: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int
    closed: bool = False
    origin: Origin = "live"
    derived: bool = False

    @property
    def key(self) -> tuple[str, str, int]:
        """The primary key: (coin, interval, open time)."""
        return (self.coin, self.interval, self.open_time)

    @property
    def market(self) -> tuple[str, str]:
        """The (coin, interval) pair this candle belongs to."""
        return (self.coin, self.interval)

    def rank(self) -> tuple[bool, int, Decimal]:
        """Ordering of versions of one candle: closed beats open, then more trades, then more volume."""
        return (self.closed, self.trades, Decimal(self.volume))

    def supersedes(self, other: Candle) -> bool:
        """True when this version may replace ``other`` (same key): a candle never goes backwards.

        A closed version is never replaced by an open one; otherwise the version with more trades
        (then more volume) wins, and a tie goes to the newer arrival. Between closed versions the
        exchange's own candle is the truth: a derived one never replaces it, and it replaces a
        derived one whose values differ.
        """
        if self.closed and other.closed and self.derived != other.derived:
            return not self.derived and not self.same_values(other)
        if other.closed and not self.closed:
            return False
        if self.closed and not other.closed:
            return True
        if self.trades != other.trades:  # the common case decides without building Decimals
            return self.trades > other.trades
        return self.volume == other.volume or Decimal(self.volume) >= Decimal(other.volume)

    def same_values(self, other: Candle) -> bool:
        """True when OHLCV and trades are equal as numbers (``"3.70"`` equals ``"3.7"``)."""
        if self.trades != other.trades:
            return False
        mine = (self.open, self.high, self.low, self.close, self.volume)
        theirs = (other.open, other.high, other.low, other.close, other.volume)
        return all(a == b or Decimal(a) == Decimal(b) for a, b in zip(mine, theirs, strict=True))

    def as_closed(self) -> Candle:
        """This candle marked final."""
        return self if self.closed else replace(self, closed=True)
