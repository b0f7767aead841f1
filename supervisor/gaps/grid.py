"""Arithmetic on the grid of candle open times of one interval (``1M`` is calendar months).

A *span* ``(first, last)`` is the set of open times of one interval from ``first`` to ``last``
inclusive, both on the grid. Everything here is pure and works for every interval through
:func:`candlewick.model.next_open`, so months are never approximated.
"""

from __future__ import annotations

from candlewick.model import INTERVAL_MS, next_open, open_time

__all__ = ["count", "horizon", "newest_closed", "prev_open", "step", "window_start"]


def prev_open(interval: str, t: int) -> int:
    """Open time of the candle before the one opening at ``t``."""
    if interval == "1M":
        return open_time(interval, t - 1)
    return t - INTERVAL_MS[interval]


def step(interval: str, t: int, n: int) -> int:
    """Open time ``n`` candles after (``n < 0``: before) the one opening at ``t``."""
    if interval != "1M":
        return t + n * INTERVAL_MS[interval]
    for _ in range(abs(n)):
        t = next_open(interval, t) if n > 0 else prev_open(interval, t)
    return t


def count(interval: str, first: int, last: int) -> int:
    """Number of candles in the span ``[first, last]`` (0 when ``last < first``)."""
    if last < first:
        return 0
    if interval != "1M":
        return (last - first) // INTERVAL_MS[interval] + 1
    n, t = 0, first
    while t <= last:
        n += 1
        t = next_open(interval, t)
    return n


def newest_closed(interval: str, now_ms: int, grace_ms: int = 0) -> int:
    """Open time of the newest candle whose close time passed ``grace_ms`` before ``now_ms``."""
    t = prev_open(interval, open_time(interval, now_ms))
    while next_open(interval, t) + grace_ms > now_ms:
        t = prev_open(interval, t)
    return t


def window_start(interval: str, now_ms: int, size: int) -> int:
    """Open time of the oldest candle the exchange still serves when it keeps the newest ``size``."""
    newest = open_time(interval, now_ms)
    if interval != "1M":
        return max(0, newest - (size - 1) * INTERVAL_MS[interval])
    months = min(size - 1, 12 * 60)  # 5000 months reach past the epoch: clamp at 1970
    return max(0, step(interval, newest, -months))


def horizon(interval: str, t: int, size: int) -> int:
    """Wall time (ms) at which the candle opening at ``t`` leaves a window of the newest ``size``.

    The candle is served while it is among the newest ``size``, i.e. until the candle ``size``
    steps after it opens.
    """
    if interval == "1M" and size > 12 * 60:
        return 2**62  # effectively never
    return step(interval, t, size)
