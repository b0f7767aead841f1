"""The closed-candle tracker: successor and clock close candles; nothing ever goes backwards."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from candlewick.model import Candle
from candlewick.plugins.hyperliquid.closing import ClosingTracker, MarketTracker

MIN = 60_000
T0 = 1_710_146_280_000


def c(k: int = 0, n: int = 1, v: str = "1.0", *, closed: bool = False, origin: str = "live") -> Candle:
    t = T0 + k * MIN
    return Candle("BTC", "1m", t, t + MIN - 1, "1.0", "2.0", "0.5", "1.5", v, n, closed, origin)  # type: ignore[arg-type]


def test_newer_open_time_closes_the_previous_candle() -> None:
    """The first update of the next candle closes the current one (emitted closed, then the new one)."""
    m = MarketTracker(grace_ms=2000)
    assert m.offer(c(0, 5), T0) == [c(0, 5)]
    out = m.offer(c(1, 1), T0 + MIN)
    assert out == [c(0, 5, closed=True), c(1, 1)]
    assert m.current == c(1, 1)


def test_clock_closes_after_close_time_plus_grace() -> None:
    """Without a successor, a candle closes once the clock passes T + grace, not before."""
    m = MarketTracker(grace_ms=2000)
    m.offer(c(0, 5), T0)
    assert m.tick(T0 + MIN - 1 + 2000) == []
    assert m.tick(T0 + MIN + 2000) == [c(0, 5, closed=True)]
    assert m.current is None
    assert m.tick(T0 + 10 * MIN) == []


def test_candles_off_candlewicks_grid_close_on_their_own_close_time() -> None:
    """A Monday week on candlewick's Thursday grid: open until its own T plus grace, never on the grid's."""
    monday = 1762128000000  # 2025-11-03 00:00 UTC
    week = 7 * 86_400_000
    w = Candle("BTC", "1w", monday, monday + week - 1, "1", "1", "1", "1", "1", 3)
    tracker = ClosingTracker(grace_ms=2000)
    grid_close = 1762387200000 - 1  # the grid's week (from Thu 2025-10-30) ends Wednesday night
    assert tracker.offer(w, monday + 1) == [w]
    assert tracker.tick(grid_close + 2001) == []
    assert tracker.next_deadline_ms() == monday + week - 1 + 2000 + 1
    assert tracker.tick(monday + week - 1 + 2001) == [w.as_closed()]


def test_stale_and_duplicate_updates_are_dropped() -> None:
    """Fewer trades, or an exact repeat, do not replace the current version."""
    m = MarketTracker(grace_ms=2000)
    m.offer(c(0, 5, "2.0"), T0)
    assert m.offer(c(0, 4, "3.0"), T0) == []
    assert m.offer(c(0, 5, "2.0"), T0) == []
    assert m.offer(c(0, 5, "2.5"), T0) == [c(0, 5, "2.5")]
    assert m.offer(c(0, 6, "2.5"), T0) == [c(0, 6, "2.5")]


def test_late_update_of_a_closed_candle_only_if_it_adds_trades() -> None:
    """After a close, a late frame with more trades re-emits it closed; a stale one is ignored."""
    m = MarketTracker(grace_ms=2000)
    m.offer(c(0, 5), T0)
    m.offer(c(1, 1), T0 + MIN)
    assert m.offer(c(0, 4), T0 + MIN) == []
    assert m.offer(c(0, 7), T0 + MIN) == [c(0, 7, closed=True)]
    assert m.offer(c(0, 7), T0 + MIN) == []
    assert m.current == c(1, 1)


def test_rest_history_is_emitted_closed_and_the_open_one_stays_open() -> None:
    """REST candles whose T passed arrive closed; the open one becomes current."""
    m = MarketTracker(grace_ms=2000)
    now = T0 + 2 * MIN + 5
    out = m.offer(c(0, 3, closed=True, origin="rest"), now)
    out += m.offer(c(1, 3, closed=True, origin="rest"), now)
    out += m.offer(c(2, 1, origin="rest"), now)
    assert [x.closed for x in out] == [True, True, False]
    assert m.current == c(2, 1, origin="rest")
    assert m.last_open_time == T0 + 2 * MIN


def test_old_open_frame_arriving_late_is_closed() -> None:
    """A live frame for a candle whose T + grace already passed is emitted closed at once."""
    m = MarketTracker(grace_ms=2000)
    assert m.offer(c(0, 3), T0 + 5 * MIN) == [c(0, 3, closed=True)]
    assert m.current is None


def test_closed_version_is_never_replaced_by_an_open_one() -> None:
    """Closed beats open, even with more trades."""
    m = MarketTracker(grace_ms=2000)
    m.offer(c(0, 5, closed=True, origin="rest"), T0 + MIN)
    assert m.offer(c(0, 9), T0 + MIN) == [c(0, 9, closed=True)]  # more trades: re-emitted, still closed
    assert all(x.closed for x in m.tick(T0 + 9 * MIN))


def test_closing_tracker_routes_markets_and_knows_its_next_deadline() -> None:
    """Markets are independent; next_deadline_ms is the earliest clock close."""
    tracker = ClosingTracker(grace_ms=1000)
    eth = replace(c(0, 2), coin="ETH")
    tracker.offer_many([c(0, 2), eth], T0)
    assert tracker.next_deadline_ms() == T0 + MIN - 1 + 1000 + 1
    closed = tracker.tick(T0 + MIN + 1000)
    assert sorted(x.coin for x in closed) == ["BTC", "ETH"]
    tracker.offer_many([c(2, 2), replace(c(2, 2), coin="ETH")], T0 + 2 * MIN)
    held = tracker.tick(T0 + 3 * MIN + 1000, hold={("BTC", "1m")})
    assert [x.coin for x in held] == ["ETH"]  # BTC's feed is down: wait for its catch-up
    assert [x.coin for x in tracker.tick(T0 + 3 * MIN + 1000)] == ["BTC"]
    tracker.forget("ETH", "1m")
    assert tracker.next_deadline_ms() is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 30), st.booleans()), max_size=60))
def test_emitted_versions_of_a_candle_never_go_backwards(frames: list[tuple[int, int, bool]]) -> None:
    """Property: whatever the order of frames, each candle's emitted versions supersede the previous."""
    m = MarketTracker(grace_ms=2000)
    last: dict[int, Candle] = {}
    now = T0
    for k, n, advance in frames:
        if advance:
            now += MIN // 2
            emitted = m.tick(now)
        else:
            emitted = m.offer(c(k, n), now)
        for e in emitted:
            prev = last.get(e.open_time)
            if prev is not None:
                assert e.supersedes(prev)
                assert not (prev.closed and not e.closed)
            last[e.open_time] = e
