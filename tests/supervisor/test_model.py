"""The candle record and interval arithmetic."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from candlewick.model import (
    INTERVAL_MS,
    INTERVALS,
    Candle,
    check_interval,
    close_time,
    is_decimal_string,
    next_open,
    open_time,
)


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp() * 1000)


def c(trades: int, volume: str = "1.0", *, closed: bool = False) -> Candle:
    return Candle("BTC", "1m", 0, 59_999, "1", "1", "1", "1", volume, trades, closed)


def test_intervals_match_the_exchange_list() -> None:
    assert INTERVALS == ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M")
    assert set(INTERVAL_MS) == set(INTERVALS)
    with pytest.raises(ValueError, match="'6h' is not one of 1m, 3m"):
        check_interval("6h")


def test_close_time_is_inclusive_like_the_exchange() -> None:
    """T = t + interval - 1 ms (recorded: 1h candles have T - t = 3 599 999)."""
    assert close_time("1h", 1684699200000) == 1684702799999
    assert close_time("1m", 1710146280000) == 1710146339999


#: Real open times of every interval, with an instant inside each candle. ``1w`` is the weekly
#: candle Hyperliquid served for Thu 30 Oct 2025 (rainbow-me/rainbow#6920, reference §1.3).
REAL_OPEN_TIMES = {
    "1m": (ms(2024, 3, 11, 8, 38), ms(2024, 3, 11, 8, 38) + 59_999),
    "3m": (ms(2024, 3, 11, 8, 36), ms(2024, 3, 11, 8, 38)),
    "5m": (ms(2024, 3, 11, 8, 35), ms(2024, 3, 11, 8, 39)),
    "15m": (ms(2023, 4, 19, 17), ms(2023, 4, 19, 17, 14)),  # the reference's candleSnapshot example
    "30m": (ms(2024, 3, 11, 8, 30), ms(2024, 3, 11, 8, 59)),
    "1h": (1684699200000, 1684702007000),  # the recorded kPEPE page: startTime falls in this candle
    "2h": (ms(2024, 3, 11, 8), ms(2024, 3, 11, 9, 59)),
    "4h": (ms(2024, 3, 14, 8), ms(2024, 3, 14, 9, 30)),
    "8h": (ms(2024, 3, 14, 8), ms(2024, 3, 14, 15, 59)),
    "12h": (ms(2024, 3, 14, 12), ms(2024, 3, 14, 23, 59)),
    "1d": (ms(2024, 3, 14), ms(2024, 3, 14, 23, 59)),
    "3d": (ms(2024, 3, 12), ms(2024, 3, 14, 23, 59)),  # 19794 days after the epoch: a multiple of 3
    "1w": (ms(2025, 10, 30), ms(2025, 11, 5, 23, 59)),  # Thursday to the next Wednesday
    "1M": (ms(2024, 2, 1), ms(2024, 2, 29, 23, 59)),  # February of a leap year
}


def test_every_interval_has_a_pinned_open_time() -> None:
    assert set(REAL_OPEN_TIMES) == set(INTERVALS)


@pytest.mark.parametrize("interval", INTERVALS)
def test_real_open_times_are_pinned(interval: str) -> None:
    """Each interval's grid is the exchange's: weeks from Thursday, months from the 1st, 3d from the epoch."""
    opens, inside = REAL_OPEN_TIMES[interval]
    assert open_time(interval, opens) == opens
    assert open_time(interval, inside) == opens
    assert next_open(interval, opens) > inside
    assert open_time(interval, next_open(interval, opens)) == next_open(interval, opens)
    assert close_time(interval, opens) == next_open(interval, opens) - 1


def test_the_real_weekly_candle_opens_on_thursday() -> None:
    assert dt.datetime.fromtimestamp(REAL_OPEN_TIMES["1w"][0] / 1000, dt.UTC).strftime("%a") == "Thu"
    assert close_time("1w", ms(2025, 10, 30)) == ms(2025, 11, 6) - 1


def test_weeks_open_on_thursday_like_the_epoch() -> None:
    """1970-01-01 was a Thursday: every weekly candle opens on a Thursday, a whole number of weeks after it."""
    assert open_time("1w", ms(2024, 3, 14, 9)) == ms(2024, 3, 14)  # a Thursday is its own week's start
    assert open_time("1w", ms(2024, 3, 11, 9)) == ms(2024, 3, 7)  # a Monday belongs to the week of the 7th
    for year in range(2023, 2027):
        t = open_time("1w", ms(year, 1, 1))
        assert dt.datetime.fromtimestamp(t / 1000, dt.UTC).weekday() == 3
        assert t % (7 * 86_400_000) == 0
    assert open_time("1w", 0) == 0


def test_calendar_months_and_epoch_aligned_days() -> None:
    assert open_time("1M", ms(2024, 2, 17, 13)) == ms(2024, 2, 1)
    assert next_open("1M", ms(2024, 2, 1)) == ms(2024, 3, 1)
    assert next_open("1M", ms(2024, 12, 1)) == ms(2025, 1, 1)
    assert close_time("1M", ms(2024, 2, 1)) == ms(2024, 3, 1) - 1
    assert open_time("3d", ms(2024, 3, 16, 1)) == ms(2024, 3, 15)
    assert next_open("3d", ms(2024, 3, 12)) == ms(2024, 3, 15)
    assert open_time("3d", ms(1970, 1, 3, 23)) == 0
    assert open_time("4h", ms(2024, 3, 14, 9, 30)) == ms(2024, 3, 14, 8)


def test_never_backwards() -> None:
    """Closed beats open; more trades, then more volume, win; ties go to the newer arrival."""
    assert not c(50).supersedes(c(10, closed=True))
    assert c(10, closed=True).supersedes(c(50))
    assert c(11).supersedes(c(10))
    assert not c(9).supersedes(c(10))
    assert c(10, "2.5").supersedes(c(10, "2.25"))
    assert not c(10, "2.0").supersedes(c(10, "2.25"))
    assert c(10).supersedes(c(10))


def test_the_exchanges_closed_candle_wins_over_a_derived_one() -> None:
    """Between closed versions of different kinds: native replaces a derived one that differs (even with
    fewer trades), an equal one (as numbers) leaves the derived one, and derived never replaces native."""
    derived = replace(c(10, "2.50", closed=True), derived=True)
    assert c(9, closed=True).supersedes(derived)
    assert not c(10, "2.5", closed=True).supersedes(derived)
    assert not replace(c(99, closed=True), derived=True).supersedes(c(9, closed=True))
    assert replace(c(11), derived=True).supersedes(c(10))
    assert not replace(c(11), derived=True).supersedes(c(10, closed=True))
    assert derived.same_values(replace(derived, volume="2.5000", derived=False))


@pytest.mark.parametrize(
    ("value", "ok"),
    [("71400.0", True), ("0.001604", True), ("520665683.0", True), ("1e3", True), ("-1", False),
     ("NaN", False), ("Infinity", False), ("", False), (" 1", False), (1.0, False), ("abc", False)],
)  # fmt: skip
def test_decimal_strings(value: object, ok: bool) -> None:
    assert is_decimal_string(value) is ok
