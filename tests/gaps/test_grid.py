"""Open-time arithmetic of the gap core: counts, windows and horizons for every interval."""

from __future__ import annotations

import pytest

from candlewick.gaps import grid
from candlewick.model import DAY_MS, INTERVALS, MINUTE_MS, next_open, open_time

NOW = 1_700_000_123_456  # 2023-11-14 22:15:23.456 UTC


@pytest.mark.parametrize("interval", INTERVALS)
def test_step_and_prev_open_walk_the_grid(interval: str) -> None:
    """step() moves whole candles both ways and prev_open() undoes next_open()."""
    t = open_time(interval, NOW)
    assert grid.prev_open(interval, next_open(interval, t)) == t
    assert grid.step(interval, grid.step(interval, t, 7), -7) == t
    assert grid.count(interval, t, grid.step(interval, t, 9)) == 10


def test_count_of_months_follows_the_calendar() -> None:
    """Twelve months from January to December are 12 candles, whatever their lengths."""
    jan = 1_672_531_200_000  # 2023-01-01
    dec = 1_701_388_800_000  # 2023-12-01
    assert grid.count("1M", jan, dec) == 12
    assert grid.count("1M", dec, jan) == 0


def test_window_start_keeps_the_newest_size_candles() -> None:
    """The window holds exactly ``size`` candles up to and including the open one."""
    first = grid.window_start("1m", NOW, 5000)
    assert grid.count("1m", first, open_time("1m", NOW)) == 5000
    assert grid.window_start("1w", NOW, 5000) == 0  # all weekly history is served (clamped at 1970)


def test_horizon_is_when_a_candle_leaves_the_window() -> None:
    """A candle is served until the candle ``size`` steps later opens."""
    t = open_time("1m", NOW)
    h = grid.horizon("1m", t, 5000)
    assert h == t + 5000 * MINUTE_MS
    assert grid.window_start("1m", h - 1, 5000) == t
    assert grid.window_start("1m", h, 5000) > t
    assert grid.horizon("1M", t, 5000) > NOW + 100 * 365 * DAY_MS


def test_newest_closed_respects_the_grace() -> None:
    """The newest closed candle is the one whose close passed ``grace`` ago."""
    t = open_time("1m", NOW)
    assert grid.newest_closed("1m", NOW) == t - MINUTE_MS
    assert grid.newest_closed("1m", t + 5_000, grace_ms=10_000) == t - 2 * MINUTE_MS
