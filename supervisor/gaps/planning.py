"""What to fetch: spans of user jobs, repair jobs from holes, and requests from spans. Pure.

Times are the exchange's, in ms, passed in. ``cost`` is anything with the exchange's request
pricing (a :class:`~candlewick.gaps.history.History` is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from candlewick.gaps import grid
from candlewick.gaps.ranges import Request, Span, plan_requests, span_count
from candlewick.model import DAY_MS, open_time

__all__ = ["Pricing", "Repair", "repairs", "requests", "start_wish", "user_span"]


class Pricing(Protocol):
    """The exchange's request pricing: most candles per page, base weight, items per extra weight."""

    page_size: int
    base_weight: int
    items_per_weight: int


@dataclass(frozen=True, slots=True)
class Repair:
    """One repair job to queue: the span of one request and what it covers."""

    first: int
    last: int
    #: Missing candles inside the span.
    expected: int
    #: When ``first`` leaves the exchange's window (ms).
    horizon: int
    #: The hole leaves the window within the warning time: repair it first, and say so.
    urgent: bool


def requests(interval: str, holes: Sequence[Span], cost: Pricing) -> list[Request]:
    """The holes merged into as few requests as pay off (:func:`~candlewick.gaps.ranges.plan_requests`)."""
    return plan_requests(
        interval, holes, base_weight=cost.base_weight, items_per_weight=cost.items_per_weight, page_size=cost.page_size
    )


def repairs(
    interval: str, holes: Sequence[Span], cost: Pricing, *, now_ms: int, window: int, warn_ms: int
) -> list[Repair]:
    """One repair job per request over ``holes``; urgent when its oldest candle leaves the window soon."""
    out = []
    for req in requests(interval, holes, cost):
        horizon = grid.horizon(interval, req.first, window)
        urgent = horizon - now_ms <= warn_ms
        out.append(Repair(req.first, req.last, span_count(interval, req.holes), horizon, urgent))
    return out


def user_span(interval: str, now_ms: int, *, window: int, days: int | None, grace_ms: int) -> Span:
    """A user job's span: the last ``days`` days (``None``: all the exchange keeps) up to the newest closed candle."""
    first = grid.window_start(interval, now_ms, window)
    if days is not None:
        first = max(first, open_time(interval, max(0, now_ms - days * DAY_MS)))
    return first, grid.newest_closed(interval, now_ms, grace_ms)


def start_wish(policy: int | str | None, interval: str, now_ms: int, *, window: int) -> int | None:
    """Where ``backfill_on_start`` (``"max"``, a span in ms, or ``None``) wants a market complete from."""
    if policy is None:
        return None
    window_first = grid.window_start(interval, now_ms, window)
    if policy == "max":
        return window_first
    return max(window_first, open_time(interval, max(0, now_ms - int(policy))))
