"""The candle record and interval arithmetic."""

from __future__ import annotations

import datetime as dt

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


def test_calendar_month_and_monday_weeks() -> None:
    assert open_time("1M", ms(2024, 2, 17, 13)) == ms(2024, 2, 1)
    assert next_open("1M", ms(2024, 2, 1)) == ms(2024, 3, 1)
    assert next_open("1M", ms(2024, 12, 1)) == ms(2025, 1, 1)
    assert open_time("1w", ms(2024, 3, 14, 9)) == ms(2024, 3, 11)  # a Thursday -> its Monday
    assert dt.datetime.fromtimestamp(open_time("1w", ms(2025, 1, 1)) / 1000, dt.UTC).weekday() == 0
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


@pytest.mark.parametrize(
    ("value", "ok"),
    [("71400.0", True), ("0.001604", True), ("520665683.0", True), ("1e3", True), ("-1", False),
     ("NaN", False), ("Infinity", False), ("", False), (" 1", False), (1.0, False), ("abc", False)],
)  # fmt: skip
def test_decimal_strings(value: object, ok: bool) -> None:
    assert is_decimal_string(value) is ok
