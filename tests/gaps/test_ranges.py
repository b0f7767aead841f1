"""Span logic: holes from stored open times, span arithmetic, merging holes into requests."""

from __future__ import annotations

from candlewick.gaps.ranges import (
    clip,
    find_holes,
    normalize,
    plan_requests,
    request_weight,
    span_count,
    split_before,
    subtract,
)
from candlewick.model import MINUTE_MS

M = MINUTE_MS
T = 1_700_000_040_000  # a minute boundary


def t(i: int) -> int:
    return T + i * M


def test_find_holes_between_and_after_stored_candles() -> None:
    """Missing open times form spans; the edges of the range count too."""
    present = [t(i) for i in (0, 1, 2, 5, 6, 9)]
    assert find_holes("1m", present, t(0), t(11)) == [(t(3), t(4)), (t(7), t(8)), (t(10), t(11))]
    assert find_holes("1m", present, t(-2), t(2)) == [(t(-2), t(-1))]
    assert find_holes("1m", [], t(0), t(3)) == [(t(0), t(3))]
    assert find_holes("1m", present, t(0), t(2)) == []


def test_normalize_merges_adjacent_and_overlapping_spans() -> None:
    """Adjacent candles join one span; order does not matter."""
    assert normalize("1m", [(t(5), t(6)), (t(0), t(2)), (t(3), t(3)), (t(6), t(8))]) == [(t(0), t(3)), (t(5), t(8))]


def test_subtract_cuts_holes_out() -> None:
    """Removing spans leaves the rest, on the grid."""
    spans = [(t(0), t(9)), (t(20), t(22))]
    remove = [(t(2), t(3)), (t(8), t(21))]
    assert subtract("1m", spans, remove) == [(t(0), t(1)), (t(4), t(7)), (t(22), t(22))]
    assert subtract("1m", spans, []) == spans
    assert subtract("1m", spans, [(t(-5), t(30))]) == []


def test_clip_split_and_count() -> None:
    """Clipping and splitting keep whole candles; counting spans adds their candles."""
    spans = [(t(0), t(4)), (t(8), t(9))]
    assert clip(spans, t(3), t(8)) == [(t(3), t(4)), (t(8), t(8))]
    assert split_before("1m", spans, t(2)) == ([(t(0), t(1))], [(t(2), t(4)), (t(8), t(9))])
    assert span_count("1m", spans) == 7


def test_plan_merges_close_holes_into_one_request() -> None:
    """Holes a few candles apart share one request: the extra items cost less than a request."""
    holes = [(t(0), t(2)), (t(10), t(12)), (t(30), t(30))]
    plan = plan_requests("1m", holes)
    assert len(plan) == 1
    assert plan[0].span == (t(0), t(30))
    assert plan[0].holes == tuple(holes)


def test_plan_keeps_far_holes_apart() -> None:
    """Holes thousands of candles apart get their own requests (fetching between costs more)."""
    holes = [(t(0), t(2)), (t(3000), t(3001))]
    plan = plan_requests("1m", holes)
    assert [r.span for r in plan] == holes


def test_plan_never_merges_past_one_page() -> None:
    """A merged request must fit one response page."""
    holes = [(t(0), t(4000)), (t(4100), t(5500))]
    assert len(plan_requests("1m", holes, page_size=5000)) == 2


def test_request_weight_follows_the_documented_formula() -> None:
    """20 per request plus one per started block of 60 items."""
    assert request_weight(0) == 20
    assert request_weight(60) == 21
    assert request_weight(61) == 22
    assert request_weight(5000) == 20 + 84
