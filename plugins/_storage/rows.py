"""Candles to rows and back, and the one upsert rule both SQL dialects implement.

The rule mirrors :meth:`candlewick.model.Candle.supersedes`: a stored row is replaced by an
incoming version only when

- the incoming version is closed and the stored one is open, or
- both have the same closedness and the incoming one has more trades, or as many trades and
  at least as much volume (a tie goes to the newer arrival);

except between closed rows of different kinds: a derived row (folded from 1m candles) never
replaces the exchange's own closed row, and the exchange's closed row replaces a derived one
whose values differ (reconciliation), whatever the trade counts say.

So an open update never overwrites a closed row, and a stale open update (fewer trades)
never overwrites a fresher one, whatever order batches arrive in (spool replays, backfill
meeting live data). Within one batch the winner per key is picked in Python first
(:func:`winners`), because one ``INSERT ... ON CONFLICT`` statement may not touch a row twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from candlewick.model import Candle, close_time, is_decimal_string

__all__ = ["COLUMNS", "BadRow", "Row", "candle_from_row", "row_of", "rows_of", "winners"]

#: Columns of the ``candles`` table in insertion order (``updated_at`` is set by the sink).
COLUMNS: tuple[str, ...] = (
    "time", "coin", "interval", "open", "high", "low", "close", "volume", "trades", "closed", "derived",
)  # fmt: skip


class Row(NamedTuple):
    """One candle as the sinks bind it: open time in ms, decimals as the exact strings sent."""

    time: int
    coin: str
    interval: str
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int
    closed: bool
    derived: bool = False


def winners(batch: Iterable[Candle]) -> list[Candle]:
    """One candle per key, the version that supersedes the others, in first-seen key order."""
    best: dict[tuple[str, str, int], Candle] = {}
    for candle in batch:
        key = candle.key
        current = best.get(key)
        if current is None or candle.supersedes(current):
            best[key] = candle
    return list(best.values())


def row_of(candle: Candle) -> Row:
    """The row of one candle."""
    return Row(
        candle.open_time, candle.coin, candle.interval, candle.open, candle.high, candle.low,
        candle.close, candle.volume, candle.trades, candle.closed, candle.derived,
    )  # fmt: skip


class BadRow(ValueError):
    """A candle no store may hold: a price or volume that is not a non-negative decimal number.

    Raised for the whole batch (nothing of it is written); the buffer then finds and sets aside
    the candles refused on their own.
    """


def _check(candle: Candle) -> None:
    for name in ("open", "high", "low", "close", "volume"):
        value = getattr(candle, name)
        if not is_decimal_string(value):
            raise BadRow(
                f"{candle.coin}/{candle.interval}@{candle.open_time}: {name}={value!r} is not a non-negative decimal"
            )


def rows_of(batch: Sequence[Candle]) -> list[Row]:
    """Rows of a batch, one per key (the winner), ready to bind; :class:`BadRow` if a candle cannot be stored."""
    for candle in batch:
        _check(candle)
    return [row_of(c) for c in winners(batch)]


def candle_from_row(
    time_ms: int,
    coin: str,
    interval: str,
    o: str,
    h: str,
    lo: str,
    c: str,
    v: str,
    trades: int,
    closed: bool,
    derived: bool = False,
) -> Candle:
    """Rebuild a candle from stored columns (the close time follows from open time and interval)."""
    return Candle(
        coin=coin,
        interval=interval,
        open_time=int(time_ms),
        close_time=close_time(interval, int(time_ms)),
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        trades=int(trades),
        closed=bool(closed),
        origin="rest" if closed else "live",
        derived=bool(derived),
    )
