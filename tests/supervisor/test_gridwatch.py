"""Grid checking: the exchange's times against candlewick's grid, changes reported once."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from candlewick.gridwatch import Disagreement, GridChange, GridMismatch, GridWatch, disagreement
from candlewick.model import DAY_MS, INTERVALS, WEEK_MS, Candle, close_time, next_open, open_time

THURSDAY = 1761782400000  # 2025-10-30 00:00 UTC, a real weekly open time
MONDAY = THURSDAY + 4 * DAY_MS  # 2025-11-03 00:00 UTC


def candle(interval: str, t: int, close: int | None = None, coin: str = "BTC") -> Candle:
    return Candle(coin, interval, t, close_time(interval, t) if close is None else close, "1", "1", "1", "1", "1", 1)


def monday_week(t: int) -> Candle:
    return candle("1w", t, t + WEEK_MS - 1)


@pytest.mark.parametrize("interval", INTERVALS)
def test_candles_on_the_grid_agree(interval: str) -> None:
    """Every interval: a candle opening where the grid says, lasting to the next open, agrees."""
    t = open_time(interval, THURSDAY + 5 * DAY_MS + 12_345)
    assert disagreement(candle(interval, t)) is None
    assert disagreement(candle(interval, next_open(interval, t))) is None


def test_an_off_grid_open_time_names_expected_and_seen() -> None:
    assert dt.datetime.fromtimestamp(MONDAY / 1000, dt.UTC).strftime("%a") == "Mon"
    assert disagreement(monday_week(MONDAY)) == Disagreement(expected=THURSDAY, seen=MONDAY)
    assert disagreement(candle("1m", 60_001, 120_000)) == Disagreement(expected=60_000, seen=60_001)


def test_a_wrong_length_is_a_disagreement_about_the_next_open_time() -> None:
    march = 1709251200000
    thirty_days = candle("1M", march, march + 30 * DAY_MS - 1)
    assert disagreement(thirty_days) == Disagreement(expected=next_open("1M", march), seen=march + 30 * DAY_MS)
    assert disagreement(candle("1h", 0, 3_600_000)) == Disagreement(expected=3_600_000, seen=3_600_001)


def test_a_mismatch_is_reported_once_and_resolved_by_a_newer_candle_on_the_grid() -> None:
    watch = GridWatch()
    first = watch.observe(candle("1w", THURSDAY - WEEK_MS))
    assert first is not None
    assert first.kind == "agreed"
    assert watch.observe(candle("1w", THURSDAY)) is None
    began = watch.observe(monday_week(MONDAY))
    assert began is not None
    assert began.kind == "mismatch"
    assert began.mismatch is not None
    assert (began.mismatch.expected, began.mismatch.seen) == (THURSDAY, MONDAY)
    # Every further off-grid frame is silent, whatever its time.
    assert [watch.observe(monday_week(MONDAY + k * WEEK_MS)) for k in (0, 1, 2, 1)] == [None] * 4
    assert [m.market for m in watch.mismatches()] == [("BTC", "1w")]
    assert watch.mismatch("BTC", "1w") is not None
    # An older candle on the grid (a late REST page) does not end it ...
    assert watch.observe(candle("1w", THURSDAY)) is None
    assert watch.observe(candle("1w", MONDAY + 2 * WEEK_MS - 4 * DAY_MS)) is None
    # ... a newer one does, once.
    end = watch.observe(candle("1w", THURSDAY + 3 * WEEK_MS))
    assert end is not None
    assert end.kind == "resolved"
    assert end.mismatch == GridMismatch("BTC", "1w", THURSDAY, MONDAY, newest=MONDAY + 2 * WEEK_MS)
    assert watch.observe(candle("1w", THURSDAY + 4 * WEEK_MS)) is None
    assert watch.mismatches() == []


def test_only_the_newest_candle_decides() -> None:
    """History fetched again (older than the newest candle) neither starts nor ends a mismatch."""
    watch = GridWatch()
    watch.observe(candle("1w", THURSDAY + 10 * WEEK_MS))
    assert watch.observe(monday_week(MONDAY)) is None  # the exchange's weeks before it moved to Thursday
    assert watch.mismatches() == []
    began = watch.observe(monday_week(MONDAY + 10 * WEEK_MS))  # newer than every Thursday seen: it moved
    assert began is not None
    assert began.kind == "mismatch"
    assert watch.observe(candle("1w", THURSDAY + 10 * WEEK_MS)) is None
    assert watch.mismatches() != []


def test_markets_are_watched_apart_and_forgotten() -> None:
    watch = GridWatch()
    changes = watch.observe_many([monday_week(MONDAY), candle("1w", THURSDAY, coin="ETH"), candle("1m", 0)])
    assert [(c.kind, c.coin, c.interval) for c in changes] == [
        ("mismatch", "BTC", "1w"), ("agreed", "ETH", "1w"), ("agreed", "BTC", "1m"),
    ]  # fmt: skip
    gone = watch.forget("BTC", "1w")
    assert gone is not None
    assert gone.kind == "resolved"
    assert watch.forget("ETH", "1w") is None
    again = watch.observe(candle("1w", THURSDAY, coin="ETH"))
    assert again is not None
    assert again.kind == "agreed"


class _Uncached(GridWatch):
    """Judges every candle afresh: the reference for the repeat shortcut."""

    def observe(self, candle: Candle) -> GridChange | None:
        self._last.clear()
        return super().observe(candle)


def test_judging_a_repeated_candle_again_changes_nothing() -> None:
    """The shortcut for a market's last candle seen again gives what judging it afresh gives."""
    rng = random.Random(7)
    base = open_time("1h", THURSDAY)
    shapes = [
        (base + k * 3_600_000 + shift, length)
        for k in range(4)
        for shift in (0, 60_000)
        for length in (3_600_000, 1_800_000)
    ]
    fast, reference = GridWatch(), _Uncached()
    for _ in range(3000):
        if rng.random() < 0.02:
            coin = rng.choice(["BTC", "ETH"])
            assert fast.forget(coin, "1h") == reference.forget(coin, "1h")
            continue
        t, length = rng.choice(shapes)
        c = candle("1h", t, t + length - 1, coin=rng.choice(["BTC", "ETH"]))
        for _ in range(rng.choice([1, 1, 2, 5])):  # versions of one candle come in runs
            assert fast.observe(c) == reference.observe(c)
    assert fast.mismatches() == reference.mismatches()
