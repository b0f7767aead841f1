"""The suites fail plugins that break the rules: a suite that passes everything proves nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import anyio
import pytest
from anyio.abc import TaskStatus

from candlewick.model import Candle
from candlewick.plugin import ComponentSpec, Source
from candlewick.testing import MemorySink
from candlewick.testing.compliance import SinkSuite, SourceFeed, SourceSuite, StoreOutage, sample
from candlewick.testing.compliance._sources import backwards, shape_problems

pytestmark = pytest.mark.anyio


def test_backwards_versions_and_bad_shapes_are_named() -> None:
    closed, stale = sample(0, trades=5, closed=True), sample(0, trades=9)
    assert backwards([closed, stale]) == [
        f"BTC/1m@{closed.open_time}: open (trades=9, volume=9.00012340) emitted after closed "
        "(trades=5, volume=5.00012340)"
    ]
    assert backwards([sample(0, trades=1), sample(0, trades=2), sample(0, trades=2, closed=True)]) == []
    floaty = replace(sample(0), open=1.5, interval="2m")  # type: ignore[arg-type]
    problems = shape_problems(floaty)
    assert any("open=1.5 is not an exact decimal string" in p for p in problems)
    assert any("interval='2m'" in p for p in problems)
    assert shape_problems({"t": 0}) == ["emitted dict, expected candlewick.model.Candle"]


class Overwriter(MemorySink):
    """Stores the last version written, closed or not: the rule every sink must keep, broken."""

    async def write(self, batch: Sequence[Candle]) -> None:
        for candle in batch:
            self.rows[candle.key] = candle


async def test_the_sink_suite_fails_a_sink_that_reopens_closed_rows() -> None:
    spec = ComponentSpec("overwriter", "sink", Overwriter)
    with pytest.raises(AssertionError):
        await SinkSuite().test_open_never_overwrites_closed(spec, {})
    await SinkSuite().test_open_never_overwrites_closed(ComponentSpec("mem", "sink", MemorySink), {})


class Deaf(Source):
    """Keeps sleeping through cancellation for half a second."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.5)
        await anyio.sleep_forever()


class Strict(SourceSuite):
    shutdown_deadline = 0.2


async def test_the_source_suite_fails_a_source_that_ignores_cancellation() -> None:
    with pytest.raises(AssertionError, match=r"took 0.[4-9]\d*s to stop once cancelled"):
        await Strict().test_starts_and_stops_within_the_deadline(ComponentSpec("deaf", "source", Deaf), SourceFeed())


async def test_an_undeclared_check_the_feed_cannot_drive_fails_naming_it() -> None:
    """A check neither driven by the feed nor declared not applicable is a failure saying what to do."""
    spec = ComponentSpec("deaf", "source", Deaf)
    with pytest.raises(pytest.fail.Exception, match=r"SourceFeed does not implement drop_connection"):
        await SourceSuite().test_reconnects_after_a_dropped_connection(spec, SourceFeed())
    with pytest.raises(pytest.fail.Exception, match=r"override the outage fixture"):
        await SinkSuite().test_store_away_and_back_loses_nothing(
            ComponentSpec("mem", "sink", MemorySink), {}, StoreOutage()
        )
