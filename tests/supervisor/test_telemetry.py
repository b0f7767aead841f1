"""The one registry: metrics with labels, events fanned out without blocking the publisher."""

from __future__ import annotations

import anyio
import pytest

from candlewick.runtime.clock import ManualClock
from candlewick.runtime.telemetry import Telemetry

pytestmark = pytest.mark.anyio


def test_counters_and_gauges_by_label() -> None:
    t = Telemetry(ManualClock())
    frames = t.metrics.counter("candlewick_frames_total", "frames", ("source",))
    frames.labels(source="hl").inc()
    frames.inc(2, source="hl")
    assert t.metrics.value("candlewick_frames_total", source="hl") == 3
    depth = t.metrics.gauge("candlewick_buffer_depth", "depth")
    depth.set_function(lambda: 42)
    assert t.metrics.value("candlewick_buffer_depth") == 42
    with pytest.raises(TypeError, match="counters only go up"):
        frames.set(1, source="hl")
    with pytest.raises(ValueError, match="takes labels"):
        frames.inc(source="hl", coin="BTC")
    assert t.metrics.counter("candlewick_frames_total", "frames", ("source",)) is frames
    with pytest.raises(ValueError, match="already registered"):
        t.metrics.gauge("candlewick_frames_total", "x")


async def test_slow_subscriber_loses_events_counted_and_never_blocks() -> None:
    """A subscriber that does not read drops events (counted); publish never waits."""
    t = Telemetry(ManualClock())
    with t.events.subscribe(max_queue=2) as slow, t.events.subscribe(max_queue=100) as fast:
        with anyio.fail_after(1):
            for i in range(10):
                t.publish("state", "x", f"event {i}")
        assert slow.dropped == 8
        assert fast.dropped == 0
        got = [slow.receive.receive_nowait().message for _ in range(2)]
        assert got == ["event 0", "event 1"]
    assert [e.seq for e in t.events.recent(3)] == [8, 9, 10]
    assert t.events.recent(0) == []


async def test_manual_clock_wakes_sleepers_in_order() -> None:
    clock = ManualClock(start=1000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "late", 5.0)
        tg.start_soon(sleeper, "early", 2.0)
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        assert clock.sleepers == 2
        await clock.advance(3)
        assert woke == [("early", 2.0)]
        await clock.advance(3)
    assert woke == [("early", 2.0), ("late", 5.0)]
    assert clock.time() == 1006.0
