"""``wait_event``: the one "event or clock timeout" wait, on the manual and the scaled clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from candlewick.runtime.clock import ManualClock, wait_event
from candlewick.testing import ScaledClock

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def waiting(clock: ManualClock, event: anyio.Event, timeout: float | None) -> AsyncIterator[list[bool]]:
    """Run ``wait_event`` in a task (already waiting on entry); its result lands in the list."""
    result: list[bool] = []

    async def waiter() -> None:
        result.append(await wait_event(clock, event, timeout))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await clock.advance(0.0)
        yield result


async def test_times_out_on_the_manual_clock_only_when_it_passes_the_deadline() -> None:
    clock = ManualClock()
    event = anyio.Event()
    async with waiting(clock, event, 10.0) as result:
        await clock.advance(9.9)
        assert result == [], "woke before its timeout"
        await clock.advance(0.2)
        assert result == [False]
    assert clock.sleepers == 0


async def test_event_wakes_it_before_the_timeout_and_leaves_no_sleeper_behind() -> None:
    clock = ManualClock()
    event = anyio.Event()
    async with waiting(clock, event, 60.0) as result:
        await clock.advance(1.0)
        event.set()
        await clock.advance(0.0)
        assert result == [True]
    await clock.advance(100.0)  # the abandoned timer wakes nothing
    assert result == [True]


async def test_no_timeout_waits_for_the_event_alone() -> None:
    clock = ManualClock()
    event = anyio.Event()
    async with waiting(clock, event, None) as result:
        await clock.advance(1e9)
        assert result == []
        event.set()
    assert result == [True]
    assert clock.sleepers == 0


async def test_a_set_event_returns_at_once() -> None:
    event = anyio.Event()
    event.set()
    assert await wait_event(ManualClock(), event, 5.0)


async def test_the_scaled_clock_shrinks_the_timeout() -> None:
    clock = ScaledClock(speed=100.0)
    started = time.monotonic()
    assert not await wait_event(clock, anyio.Event(), 5.0)  # 50 ms of real time
    elapsed = time.monotonic() - started
    assert 0.04 <= elapsed < 2.0


async def test_cancelling_the_waiter_cancels_its_timer() -> None:
    clock = ManualClock()
    with anyio.move_on_after(0.05):
        await wait_event(clock, anyio.Event(), 30.0)
    assert clock.sleepers == 1  # the manual clock keeps the abandoned deadline until it passes
    await clock.advance(31.0)
    assert clock.sleepers == 0
