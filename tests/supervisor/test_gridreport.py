"""A source's grid state in telemetry: metrics, one event and one log line per change."""

from __future__ import annotations

import logging

import pytest

from candlewick.model import DAY_MS, WEEK_MS, Candle
from candlewick.runtime import names
from candlewick.runtime.gridreport import GridReporter, format_time, mismatch_of
from candlewick.runtime.telemetry import Telemetry

THURSDAY = 1761782400000  # 2025-10-30 00:00 UTC
MONDAY = THURSDAY + 4 * DAY_MS


def week(t: int) -> Candle:
    return Candle("BTC", "1w", t, t + WEEK_MS - 1, "1", "1", "1", "1", "1", 1)


def samples(telemetry: Telemetry, name: str) -> dict[tuple[str, ...], float]:
    family = telemetry.metrics.get(name)
    assert family is not None
    return family.samples()


def test_times_read_as_people_read_them() -> None:
    assert format_time(THURSDAY) == "2025-10-30 00:00 UTC (Thu)"
    assert format_time(MONDAY + 1) == "2025-11-03T00:00:00.001000+00:00"


def test_a_mismatch_is_published_once_and_its_resolution_clears_it(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = Telemetry()
    reporter = GridReporter("hyperliquid", telemetry)
    metrics = telemetry.metrics
    labels = {"source": "hyperliquid", "coin": "BTC", "interval": "1w"}
    caplog.set_level(logging.INFO, logger="candlewick.runtime.gridreport")

    assert mismatch_of(metrics, "hyperliquid", "BTC", "1w") is None
    reporter.observe_many([week(THURSDAY - WEEK_MS)])  # start-up page on the grid: checked, fine
    assert samples(telemetry, names.GRID_MISMATCH) == {("hyperliquid", "BTC", "1w"): 0.0}

    for k in range(5):  # the exchange moves to Monday weeks: five frames, one report
        reporter.observe(week(MONDAY + k * WEEK_MS))
    assert reporter.mismatched("BTC", "1w")
    assert metrics.value(names.GRID_MISMATCH, **labels) == 1
    assert mismatch_of(metrics, "hyperliquid", "BTC", "1w") == (THURSDAY, MONDAY)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "grid mismatch in BTC/1w" in warnings[0].getMessage()
    assert "2025-11-03 00:00 UTC (Mon)" in warnings[0].getMessage()

    reporter.observe(week(THURSDAY + 6 * WEEK_MS))  # back on the grid, after the newest Monday week
    assert not reporter.mismatched("BTC", "1w")
    assert mismatch_of(metrics, "hyperliquid", "BTC", "1w") is None
    assert metrics.value(names.GRID_MISMATCH, **labels) == 0
    assert samples(telemetry, names.GRID_SEEN_OPEN) == {}
    kinds = [e.kind for e in telemetry.events.recent()]
    assert kinds == [names.EV_GRID_MISMATCH, names.EV_GRID_RESOLVED]
    assert [r.levelno for r in caplog.records if "back on candlewick's grid" in r.getMessage()] == [logging.INFO]


def test_a_market_no_longer_followed_leaves_no_samples() -> None:
    telemetry = Telemetry()
    reporter = GridReporter("hyperliquid", telemetry)
    reporter.observe(week(MONDAY))
    reporter.forget("BTC", "1w")
    assert telemetry.metrics.total(names.GRID_MISMATCH) == 0
    assert samples(telemetry, names.GRID_MISMATCH) == {}
    assert not reporter.mismatched("BTC", "1w")
