"""Coverage per UTC day from day counts and ledger spans: pure."""

from __future__ import annotations

import datetime as dt

from candlewick.gaps.daycoverage import DayCoverage, day_coverage, opens_in
from candlewick.model import DAY_MS, HOUR_MS, MINUTE_MS


def ms(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp()) * 1000


D = ms(2024, 1, 1)  # a Monday


def test_minutes_and_hours_expect_a_full_grid_per_day() -> None:
    assert opens_in("1m", D, D + DAY_MS) == 1440
    assert opens_in("1h", D, D + DAY_MS) == 24
    assert opens_in("4h", D + 1, D + DAY_MS) == 5  # 00:00 is before the start
    assert opens_in("1h", D, D) == 0


def test_weekly_candles_open_on_thursdays_and_monthly_ones_on_the_first() -> None:
    week = [opens_in("1w", D + i * DAY_MS, D + (i + 1) * DAY_MS) for i in range(7)]
    assert week == [0, 0, 0, 1, 0, 0, 0]  # 2024-01-04 is a Thursday
    assert opens_in("1M", ms(2024, 2, 1), ms(2024, 2, 2)) == 1
    assert opens_in("1M", ms(2024, 2, 2), ms(2024, 3, 1)) == 0
    assert opens_in("3d", D, D + 30 * DAY_MS) == 10


def test_days_report_stored_expected_lost_empty_and_missing() -> None:
    counts = {D: 1400, D + DAY_MS: 1440}
    lost = [(D + 10 * MINUTE_MS, D + 29 * MINUTE_MS)]  # 20 candles gone for good
    empty = [(D + 100 * MINUTE_MS, D + 109 * MINUTE_MS)]  # 10 minutes without trades
    days = day_coverage("1m", counts, D, D + 3 * DAY_MS, D + 3 * DAY_MS - 1, lost=lost, empty=empty)
    assert days == [
        DayCoverage(D, 1440, 1400, empty=10, lost=20),
        DayCoverage(D + DAY_MS, 1440, 1440),
        DayCoverage(D + 2 * DAY_MS, 1440, 0),
    ]
    assert [(d.missing, d.complete) for d in days] == [(10, False), (0, True), (1440, False)]
    assert days[0].to_json() == {
        "day": D, "expected": 1440, "stored": 1400, "empty": 10, "lost": 20, "missing": 10, "complete": False,
    }  # fmt: skip


def test_today_expects_only_candles_opened_by_now_and_the_range_may_start_mid_day() -> None:
    now = D + 5 * HOUR_MS + 30 * MINUTE_MS
    assert day_coverage("1h", {D: 6}, D, D + DAY_MS, now) == [DayCoverage(D, 6, 6)]  # 00:00..05:00 opened
    assert day_coverage("1h", {D: 6}, D + 3 * HOUR_MS, D + DAY_MS, now) == [DayCoverage(D, 3, 6)]
    assert day_coverage("1h", {}, D + DAY_MS, D + 2 * DAY_MS, now) == []


def test_a_lost_span_over_midnight_is_split_between_the_days() -> None:
    lost = [(D + DAY_MS - 2 * HOUR_MS, D + DAY_MS + HOUR_MS)]
    days = day_coverage("1h", {}, D, D + 2 * DAY_MS, D + 2 * DAY_MS, lost=lost)
    assert [d.lost for d in days] == [2, 2]
