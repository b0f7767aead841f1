"""Pure span logic: holes from stored open times, span sets, and request planning.

A span is ``(first, last)``: the open times of one interval from ``first`` to ``last``,
inclusive, both on the interval's grid (see :mod:`candlewick.gaps.grid`). Lists of spans are
kept sorted and disjoint by :func:`normalize`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from candlewick.gaps import grid
from candlewick.model import next_open

__all__ = [
    "Request",
    "Span",
    "clip",
    "find_holes",
    "normalize",
    "plan_requests",
    "span_count",
    "split_before",
    "subtract",
]

Span = tuple[int, int]

#: Hyperliquid figures used as defaults: a request costs 20 plus 1 per 60 items; 5000 per page.
DEFAULT_BASE_WEIGHT = 20
DEFAULT_ITEMS_PER_WEIGHT = 60
DEFAULT_PAGE_SIZE = 5000


def normalize(interval: str, spans: Iterable[Span]) -> list[Span]:
    """Sort spans and merge overlapping or adjacent ones."""
    out: list[Span] = []
    for first, last in sorted(s for s in spans if s[0] <= s[1]):
        if out and first <= next_open(interval, out[-1][1]):
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
            continue
        out.append((first, last))
    return out


def subtract(interval: str, spans: Sequence[Span], remove: Sequence[Span]) -> list[Span]:
    """``spans`` without the open times in ``remove`` (both normalized)."""
    out: list[Span] = []
    j = 0
    for first, last in spans:
        cur = first
        while j < len(remove) and remove[j][1] < cur:
            j += 1
        k = j
        while cur <= last and k < len(remove) and remove[k][0] <= last:
            r0, r1 = remove[k]
            if r0 > cur:
                out.append((cur, grid.prev_open(interval, r0)))
            cur = max(cur, next_open(interval, r1))
            k += 1
        if cur <= last:
            out.append((cur, last))
    return out


def clip(spans: Sequence[Span], first: int, last: int) -> list[Span]:
    """The parts of ``spans`` inside ``[first, last]``."""
    return [(max(a, first), min(b, last)) for a, b in spans if b >= first and a <= last]


def split_before(interval: str, spans: Sequence[Span], t: int) -> tuple[list[Span], list[Span]]:
    """Split spans into the open times before ``t`` and those at or after it (``t`` on the grid)."""
    before: list[Span] = []
    after: list[Span] = []
    for a, b in spans:
        if b < t:
            before.append((a, b))
        elif a >= t:
            after.append((a, b))
        else:
            before.append((a, grid.prev_open(interval, t)))
            after.append((t, b))
    return before, after


def span_count(interval: str, spans: Iterable[Span]) -> int:
    """Candles in a set of spans."""
    return sum(grid.count(interval, a, b) for a, b in spans)


def find_holes(interval: str, present: Sequence[int], first: int, last: int) -> list[Span]:
    """Spans of ``[first, last]`` whose open times are not in ``present`` (sorted open times)."""
    holes: list[Span] = []
    cursor = first
    for t in present:
        if t < cursor:
            continue
        if t > last:
            break
        if t > cursor:
            holes.append((cursor, grid.prev_open(interval, t)))
        cursor = next_open(interval, t)
    if cursor <= last:
        holes.append((cursor, last))
    return holes


@dataclass(frozen=True, slots=True)
class Request:
    """One planned range request: the span to ask for and the holes inside it."""

    first: int
    last: int
    holes: tuple[Span, ...]

    @property
    def span(self) -> Span:
        return (self.first, self.last)


def request_weight(
    items: int, *, base: int = DEFAULT_BASE_WEIGHT, per: int = DEFAULT_ITEMS_PER_WEIGHT, page: int = DEFAULT_PAGE_SIZE
) -> int:
    """Weight of fetching ``items`` candles in one range: a base per page plus one per ``per`` items."""
    pages = max(1, math.ceil(items / page))
    return pages * base + math.ceil(max(0, items) / per)


def plan_requests(
    interval: str,
    holes: Sequence[Span],
    *,
    base_weight: int = DEFAULT_BASE_WEIGHT,
    items_per_weight: int = DEFAULT_ITEMS_PER_WEIGHT,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> list[Request]:
    """Merge holes into as few requests as pay off.

    Two neighbouring holes share one request when fetching the present candles between them
    costs less weight than a second request's base weight, and the merged request still fits
    one page. ``holes`` must be normalized; requests come out in time order.
    """
    out: list[Request] = []
    for hole in holes:
        if out:
            prev = out[-1]
            between = grid.count(interval, next_open(interval, prev.last), grid.prev_open(interval, hole[0]))
            merged_items = grid.count(interval, prev.first, hole[1])
            separate = request_weight(
                grid.count(interval, prev.first, prev.last), base=base_weight, per=items_per_weight, page=page_size
            ) + request_weight(grid.count(interval, *hole), base=base_weight, per=items_per_weight, page=page_size)
            together = request_weight(merged_items, base=base_weight, per=items_per_weight, page=page_size)
            if merged_items <= page_size and together <= separate and between >= 0:
                out[-1] = Request(prev.first, hole[1], (*prev.holes, hole))
                continue
        out.append(Request(hole[0], hole[1], (hole,)))
    return out
