"""Coverage assessment and planning, without a clock or a sink: what a check reads and finds."""

from __future__ import annotations

from candlewick.gaps import grid
from candlewick.gaps.coverage import Coverage, Look, Scope
from candlewick.gaps.ledger import Ledger
from candlewick.gaps.planning import repairs, requests, start_wish, user_span
from candlewick.gaps.ranges import Request
from candlewick.model import DAY_MS, MINUTE_MS, open_time

M = MINUTE_MS
NOW = 1_700_000_000_000 + 30_000  # half a minute into a candle
CUR = open_time("1m", NOW)
BTC = ("BTC", "1m")


def t(i: int) -> int:
    """The open time ``i`` minutes before the current candle."""
    return CUR - i * M


def coverage(window: int = 5000) -> Coverage:
    return Coverage(Ledger(window=window, late_ms=0), window=window)


class Cost:
    page_size = 5000
    base_weight = 20
    items_per_weight = 60


def test_a_periodic_check_reads_one_window_back_and_wants_no_start() -> None:
    cov = coverage(window=100)
    scope = cov.scope(BTC, NOW, Look(grace_ms=0))
    assert scope == Scope(read_from=cov.ledger.check_start("1m", NOW), complete_from=None)
    assert scope.read_from == t(199)


def test_the_start_wish_is_remembered_and_left_to_a_live_source_that_fetches_it() -> None:
    """At start-up the live source fetches its own history: only later checks want it complete."""
    cov = coverage()
    start = Look(grace_ms=0, startup=True, start_policy=30 * M, live_fetches_start=True)
    assert cov.scope(BTC, NOW, start).complete_from is None
    assert cov.scope(BTC, NOW, Look(grace_ms=0)).complete_from == t(30)
    assert cov.scope(("ETH", "1m"), NOW, Look(grace_ms=0)).complete_from is None


def test_the_start_wish_never_reaches_past_the_window() -> None:
    cov = coverage(window=100)
    start = Look(grace_ms=0, startup=True, start_policy="max")
    assert cov.scope(BTC, NOW, start).complete_from == t(99)
    later = NOW + 10 * M
    assert cov.scope(BTC, later, Look(grace_ms=0)).complete_from == grid.window_start("1m", later, 100)


def test_an_outage_check_reads_from_the_candle_open_as_the_feed_broke() -> None:
    """On the grid: the candle open just before the outage began (at a boundary, the one that just closed)."""
    cov = coverage(window=100)
    assert cov.scope(BTC, NOW, Look(grace_ms=0, tail=t(5) + 10_000)) == Scope(t(5), t(5))
    assert cov.scope(BTC, NOW, Look(grace_ms=0, tail=t(5))) == Scope(t(6), t(6))
    assert cov.scope(BTC, NOW, Look(grace_ms=0, tail=t(500))) == Scope(t(99), t(99))


def test_an_outage_check_finds_no_hole_off_the_grid() -> None:
    """A disconnect between two boundaries makes no hole of the part of a candle before it."""
    cov = coverage()
    look = Look(grace_ms=0, tail=t(5) + 10_000)
    found, holes = cov.assess(BTC, [t(i) for i in range(5, 0, -1)], NOW, look, cov.scope(BTC, NOW, look))
    assert (found.holes, holes) == ([], [])
    _, holes = cov.assess(BTC, [t(i) for i in range(3, 0, -1)], NOW, look, cov.scope(BTC, NOW, look))
    assert holes == [(t(5), t(4))]


def test_holes_leave_out_queued_spans() -> None:
    cov = coverage()
    present = [t(i) for i in range(30, 0, -1) if not 10 <= i <= 20]
    look = Look(grace_ms=0)
    scope = cov.scope(BTC, NOW, look)
    found, holes = cov.assess(BTC, present, NOW, look, scope)
    assert found.holes == holes == [(t(20), t(10))]
    _, holes = cov.assess(BTC, present, NOW, look, scope, queued=[(t(15), t(12))])
    assert holes == [(t(20), t(16)), (t(11), t(10))]


def test_the_newest_stored_candles_are_suspect_at_start_up() -> None:
    """The last run may have closed them early; unless the live source refetches them, they are fetched again."""
    present = [t(i) for i in range(10, 0, -1)]
    for fetches, expected in ((False, [(t(2), t(1))]), (True, [])):
        cov = coverage()
        look = Look(grace_ms=0, startup=True, live_fetches_start=fetches)
        _, holes = cov.assess(BTC, present, NOW, look, cov.scope(BTC, NOW, look))
        assert holes == expected


def test_suspects_of_a_broken_feed_are_fetched_until_a_request_covers_them() -> None:
    cov = coverage()
    present = [t(i) for i in range(10, 0, -1)]
    cov.suspect([BTC], t(3) + 5_000)
    assert cov.job_holes(BTC, present, t(10), t(1), NOW) == [(t(4), t(3))]
    cov.fetched(BTC, Request(t(4), t(3), ((t(4), t(3)),)), [t(4), t(3)], NOW, on_grid=True)
    assert cov.job_holes(BTC, present, t(10), t(1), NOW) == []
    assert cov.ledger.market(*BTC).empty == []


def test_what_a_request_did_not_return_is_filed_only_on_the_grid() -> None:
    present = [t(i) for i in range(10, 0, -1) if i != 5]
    for on_grid, empty in ((True, [(t(5), t(5))]), (False, [])):
        cov = coverage()
        assert cov.job_holes(BTC, present, t(10), t(1), NOW) == [(t(5), t(5))]
        cov.fetched(BTC, Request(t(5), t(5), ((t(5), t(5)),)), [], NOW, on_grid=on_grid)
        assert cov.ledger.market(*BTC).empty == empty
        assert cov.job_holes(BTC, present, t(10), t(1), NOW) == ([] if on_grid else [(t(5), t(5))])


def test_holes_are_reported_once_and_repaired_once() -> None:
    cov = coverage()
    assert cov.new_holes(BTC, [(t(9), t(8))]) == [(t(9), t(8))]
    assert cov.new_holes(BTC, [(t(9), t(8)), (t(3), t(3))]) == [(t(3), t(3))]
    assert cov.repaired(BTC, t(10), t(5)) == [(t(9), t(8))]
    assert cov.repaired(BTC, t(10), t(5)) == []
    assert cov.new_holes(BTC, [(t(3), t(3))]) == []


def test_user_span_and_start_wish() -> None:
    assert user_span("1m", NOW, window=100, days=None, grace_ms=0) == (t(99), t(1))
    assert user_span("1h", NOW, window=5000, days=1, grace_ms=0)[0] == open_time("1h", NOW - DAY_MS)
    assert start_wish(None, "1m", NOW, window=100) is None
    assert start_wish("max", "1m", NOW, window=100) == t(99)
    assert start_wish(10 * M, "1m", NOW, window=100) == open_time("1m", NOW - 10 * M)


def test_repairs_near_the_horizon_are_urgent() -> None:
    holes = [(t(95), t(94)), (t(3), t(2))]
    assert [r.span for r in requests("1m", holes, Cost())] == [(t(95), t(2))]  # one request pays off
    (plan,) = repairs("1m", holes, Cost(), now_ms=NOW, window=100, warn_ms=10 * M)
    assert (plan.first, plan.last, plan.expected) == (t(95), t(2), 4)
    assert plan.horizon == grid.horizon("1m", t(95), 100)
    assert plan.urgent
    (calm,) = repairs("1m", holes, Cost(), now_ms=NOW, window=100, warn_ms=M)
    assert not calm.urgent
