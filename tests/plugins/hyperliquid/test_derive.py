"""The pure aggregator of derived intervals against a naive reference fold."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candlewick.model import INTERVALS, MINUTE_MS, Candle, next_open, open_time
from candlewick.plugins.hyperliquid.derive import RECENT_BUCKETS, CoinDeriver, Deriver

DERIVED = [i for i in INTERVALS if i != "1m"]
GRACE = 3_000
#: 2024-02-29 23:00 UTC: a leap day, a Thursday, an hour before a month turns.
BASE = 1_709_247_600_000


def minute(t: int, o: str, h: str, lo: str, c: str, v: str, n: int, *, closed: bool = True) -> Candle:
    return Candle("BTC", "1m", t, t + MINUTE_MS - 1, o, h, lo, c, v, n, closed=closed, origin="live")


def reference(coin: str, interval: str, start: int, minutes: list[Candle], closed: bool) -> Candle:
    """The derived candle, folded the obvious way from the bucket's minutes."""
    inside = sorted((m for m in minutes if open_time(interval, m.open_time) == start), key=lambda m: m.open_time)
    return Candle(
        coin, interval, start, next_open(interval, start) - 1, inside[0].open,
        max((m.high for m in inside), key=Decimal), min((m.low for m in inside), key=Decimal), inside[-1].close,
        format(sum((Decimal(m.volume) for m in inside), Decimal(0)), "f"), sum(m.trades for m in inside),
        closed=closed, origin="live", derived=True,
    )  # fmt: skip


prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("99999"), places=5).map(str)
volumes = st.integers(0, 8).flatmap(
    lambda places: st.decimals(min_value=0, max_value=Decimal("5000"), places=places).map(str)
)
gaps = st.one_of(st.just(1), st.integers(1, 6), st.integers(1, 60_000))


@st.composite
def deliveries(draw: st.DrawFn) -> list[Candle]:
    """Versions of a random 1m series with gaps, some minutes arriving late, in arrival order."""
    t = BASE + draw(st.integers(0, 3000)) * MINUTE_MS
    per_minute: list[list[Candle]] = []
    for gap in draw(st.lists(gaps, min_size=1, max_size=30)):
        t += gap * MINUTE_MS
        quotes = draw(st.lists(prices, min_size=2, max_size=4))
        o, c = quotes[0], quotes[-1]
        hi, lo = max(quotes, key=Decimal), min(quotes, key=Decimal)
        n = draw(st.integers(1, 500))
        final = minute(t, o, hi, lo, c, draw(volumes), n)
        opens = [replace(final, closed=False, trades=k) for k in sorted(draw(st.sets(st.integers(1, n), max_size=2)))]
        per_minute.append([*opens, final])
    order = list(range(len(per_minute)))
    for i in draw(st.lists(st.integers(0, len(order) - 1), max_size=3)):
        j = draw(st.integers(i, len(order) - 1))
        order.insert(j, order.pop(i))  # minute i arrives after the minutes up to j
    return [v for k in order for v in per_minute[k]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_derived_candles_equal_the_reference_fold_live_and_at_close(arrivals: list[Candle]) -> None:
    """Every emitted version equals the fold of the minutes seen so far; each bucket closes once, for
    good, and its close equals the fold of every minute that arrived before it closed."""
    first = min(m.open_time for m in arrivals)
    deriver = CoinDeriver("BTC", DERIVED, cover_from=first, live_from=first, grace_ms=GRACE)
    latest: dict[int, Candle] = {}
    closed: dict[tuple[str, int], Candle] = {}
    late = 0
    for version in arrivals:
        late += sum(1 for i in DERIVED if (i, open_time(i, version.open_time)) in closed)
        if version.open_time not in latest or version.supersedes(latest[version.open_time]):
            latest[version.open_time] = version
        for out in deriver.offer(version):
            key = (out.interval, out.open_time)
            assert key not in closed, "a closed derived candle never changes"
            assert out == reference("BTC", out.interval, out.open_time, list(latest.values()), out.closed)
            if out.closed:
                closed[key] = out
    for out in deriver.tick(max(latest) + 400 * 24 * 3_600_000):
        assert out.closed
        assert (out.interval, out.open_time) not in closed
        assert out == reference("BTC", out.interval, out.open_time, list(latest.values()), True)
        closed[(out.interval, out.open_time)] = out
    assert deriver.late == late
    covered = {(i, open_time(i, t)) for t in latest for i in DERIVED if open_time(i, t) >= first}
    assert set(closed) == covered, "every covered bucket with a trade closes exactly once"
    if late == 0:
        for (interval, start), out in closed.items():
            assert out == reference("BTC", interval, start, list(latest.values()), True)


def test_an_empty_last_minute_closes_by_the_clock_but_not_while_disconnected() -> None:
    """No candle arrives for a minute without trades: the clock past T + grace is the evidence,
    unless the feed is down (then a catch-up may still bring the minute)."""
    t0 = open_time("5m", BASE)
    d = Deriver(GRACE)
    d.follow("BTC", "5m")
    d.start("BTC", cover_from=t0, live_from=t0)
    [open_] = d.offer(minute(t0, "10", "12", "9", "11", "1.5", 3))
    assert not open_.closed
    end = t0 + 5 * MINUTE_MS
    assert d.tick(end - 1 + GRACE) == []
    assert d.tick(end + GRACE, hold={"BTC"}) == []
    [closed] = d.tick(end + GRACE)
    assert closed == replace(open_, closed=True)
    assert d.next_deadline_ms() is None


def test_a_minute_after_the_bucket_closes_it_at_once_and_a_late_one_is_counted() -> None:
    t0 = open_time("3m", BASE)
    d = CoinDeriver("BTC", ["3m"], cover_from=t0, live_from=t0, grace_ms=GRACE)
    d.offer(minute(t0, "1", "2", "1", "2", "1", 1))
    out = d.offer(minute(t0 + 3 * MINUTE_MS, "2", "2", "2", "2", "1", 1))
    assert [(c.open_time, c.closed) for c in out] == [(t0 + 3 * MINUTE_MS, False), (t0, True)]
    assert d.offer(minute(t0 + MINUTE_MS, "5", "9", "1", "3", "4", 2)) == []
    assert d.late == 1


def test_a_minute_older_than_every_remembered_bucket_is_late_and_its_bucket_fetched() -> None:
    """Past the buckets remembered, a minute cannot be folded safely: counted late, its bucket listed
    for the exchange's candle (harmless if a derived one was stored: an equal native row changes nothing)."""
    t0 = open_time("3m", BASE)
    d = CoinDeriver("BTC", ["3m"], cover_from=t0, live_from=t0, grace_ms=GRACE)
    for k in [0, *range(2, RECENT_BUCKETS + 4)]:  # bucket 1 has no trades
        d.offer(minute(t0 + 3 * k * MINUTE_MS, "1", "1", "1", "1", "1", 1))
    assert d.offer(minute(t0 + 4 * MINUTE_MS, "1", "1", "1", "1", "1", 1)) == []
    assert d.offer(minute(t0 + MINUTE_MS, "1", "1", "1", "1", "1", 1)) == []
    assert d.late == 2
    assert d.unfilled == [("3m", t0 + 3 * MINUTE_MS), ("3m", t0)]


def test_an_open_minute_holds_the_close_until_its_final_version() -> None:
    t0 = open_time("3m", BASE)
    d = CoinDeriver("BTC", ["3m"], cover_from=t0, live_from=t0, grace_ms=GRACE)
    d.offer(minute(t0 + 2 * MINUTE_MS, "1", "2", "1", "2", "1", 1, closed=False))
    assert d.tick(t0 + 10 * MINUTE_MS) == []
    [closed] = d.offer(minute(t0 + 2 * MINUTE_MS, "1", "3", "1", "2", "1.25", 2))
    assert (closed.closed, closed.high, closed.volume, closed.trades) == (True, "3", "1.25", 2)


def test_a_replaced_minute_is_exchanged_exactly_and_a_falling_high_marks_the_bucket_inexact() -> None:
    t0 = open_time("5m", BASE)
    d = CoinDeriver("BTC", ["5m"], cover_from=t0, live_from=t0, grace_ms=GRACE)
    d.offer(minute(t0, "1", "4", "1", "2", "0.1", 1))
    d.offer(minute(t0 + MINUTE_MS, "2", "9", "2", "3", "0.2", 5))
    [out] = d.offer(minute(t0 + MINUTE_MS, "2", "9", "2", "3", "0.25", 6))  # a REST correction, more trades
    assert (out.volume, out.trades, out.high) == ("0.35", 7, "9")
    d.offer(minute(t0 + MINUTE_MS, "2", "5", "2", "3", "0.25", 6))  # equal rank, newer: the high falls
    [closed] = d.tick(t0 + 5 * MINUTE_MS + GRACE)
    assert d.inexact == 1
    assert closed.volume == "0.35"


def test_buckets_begun_before_the_history_are_left_to_the_exchange() -> None:
    """The week running when the 1m history starts is listed for a native fetch when it ends;
    buckets that ended before the feed went live are not derived at all."""
    start = BASE + 7 * MINUTE_MS  # 23:07 on 2024-02-29, a Thursday
    live = start + 3 * 24 * 60 * MINUTE_MS
    d = Deriver(GRACE)
    for interval in ("1h", "1w", "1M"):
        d.follow("BTC", interval)
    d.start("BTC", cover_from=start, live_from=live)
    assert d.offer(minute(start, "1", "1", "1", "1", "1", 1)) == []  # its hour ended before going live
    out = d.offer(minute(live, "1", "1", "1", "1", "1", 1))
    assert {c.interval for c in out} == {"1h", "1M"}  # March began after the history did
    d.tick(open_time("1M", live) + 40 * 24 * 60 * MINUTE_MS)
    # February ended before the feed went live: the native history has it
    assert d.take_unfilled() == [("BTC", "1w", open_time("1w", start))]
    assert d.take_unfilled() == []


def test_a_held_coin_closes_nothing_until_released() -> None:
    """After a reconnect the live feed runs ahead of the REST catch-up: a newer minute is then no
    evidence that the bucket's minutes are all in, so closes wait for the release."""
    t0 = open_time("3m", BASE)
    d = Deriver(GRACE)
    d.follow("BTC", "3m")
    d.start("BTC", cover_from=t0, live_from=t0)
    d.offer(minute(t0, "1", "2", "1", "2", "1", 1))
    d.hold("BTC")
    out = d.offer(minute(t0 + 4 * MINUTE_MS, "2", "2", "2", "2", "1", 1))
    assert [c.closed for c in out] == [False]
    [late] = d.offer(minute(t0 + MINUTE_MS, "5", "9", "1", "3", "4", 2))  # the catch-up brings it
    assert (late.closed, late.trades) == (False, 3)
    assert d.tick(t0 + 60 * MINUTE_MS, hold={"BTC"}) == []
    first, second = d.tick(t0 + 60 * MINUTE_MS)
    assert (first.open_time, first.closed, first.high, first.trades) == (t0, True, "9", 3)
    assert (second.open_time, second.closed) == (t0 + 3 * MINUTE_MS, True)
