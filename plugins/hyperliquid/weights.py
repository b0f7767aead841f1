"""REST weight arithmetic for many markets: the history floor, and what confirming closes costs. Pure.

The exchange meters ``candleSnapshot`` at 20 plus one per started block of 60 candles returned
(:func:`~candlewick.plugins.hyperliquid.budget.candle_snapshot_weight`), within 1200 a minute
per IP. A market's history is at most 5000 candles (one response), so the least weight that
fetches it all is one request: ``20 + ceil(N / 60)`` for its ``N`` candles. The *floor* of a
start-up history is that sum over every market; no schedule can spend less, and at 1200 a minute
it takes ``floor / 1200`` minutes. Example: 230 perps x 14 intervals with full windows cost
about ``3220 x (20 + 84) = 334 880`` for the short intervals, i.e. hours: which is why the
history goes shortest horizon first (:mod:`candlewick.gaps.jobs` orders by horizon).

Confirming closed candles over REST costs one request (about 21) per market and confirmation
round: with rounds every ``confirm_delay`` seconds a 1m market costs ``21`` a minute, so 1200 a
minute confirms at most 57 such markets and nothing else. :func:`confirm_weight_per_minute`
computes it; above :data:`CONFIRM_SHARE` of the budget the source trusts the websocket's own
evidence (a candle closed by the next candle's frame on a connection that stayed up) and
confirms over REST only the closes without it (closed by the clock after a stall or a quiet
spell, around a disconnect, or touched by a late frame).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from candlewick.model import INTERVAL_MS, next_open, open_time
from candlewick.plugins.hyperliquid.budget import candle_snapshot_weight

__all__ = [
    "CONFIRM_SHARE",
    "WINDOW",
    "available",
    "confirm_all_fits",
    "confirm_weight_per_minute",
    "history_floor",
]

#: Candles the exchange keeps per market.
WINDOW = 5000
#: Share of the REST budget confirmations of every close may take before only unevidenced ones are confirmed.
CONFIRM_SHARE = 0.25


def available(interval: str, listed_at: int, now_ms: int, window: int = WINDOW) -> int:
    """Candles the exchange serves for a market listed at ``listed_at`` (the open one included)."""
    first = open_time(interval, max(0, listed_at))
    last = open_time(interval, now_ms)
    if last < first:
        return 0
    if interval != "1M":
        return min(window, (last - first) // INTERVAL_MS[interval] + 1)
    n, t = 0, first
    while t <= last and n < window:
        n, t = n + 1, next_open(interval, t)
    return n


def history_floor(counts: Iterable[int], page: int = WINDOW) -> int:
    """The least weight that fetches markets of ``counts`` candles each (one request per page)."""
    total = 0
    for n in counts:
        if n <= 0:
            continue
        pages = math.ceil(n / page)
        total += (pages - 1) * candle_snapshot_weight(page) + candle_snapshot_weight(n - (pages - 1) * page)
    return total


def confirm_weight_per_minute(intervals: Iterable[str], confirm_delay: float) -> float:
    """REST weight a minute that confirming every close of markets of ``intervals`` costs."""
    rounds = 60.0 / confirm_delay
    total = 0.0
    for interval in intervals:
        closes = 60_000 / INTERVAL_MS[interval]
        total += min(rounds, closes) * candle_snapshot_weight(1)
    return total


def confirm_all_fits(intervals: Iterable[str], confirm_delay: float, budget_per_minute: float) -> bool:
    """True when confirming every close stays within :data:`CONFIRM_SHARE` of the budget."""
    return confirm_weight_per_minute(intervals, confirm_delay) <= CONFIRM_SHARE * budget_per_minute
