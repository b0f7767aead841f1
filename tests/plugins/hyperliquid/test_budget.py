"""The shared REST weight bucket, on a manual clock."""

from __future__ import annotations

import anyio
import pytest

from candlewick.plugins.hyperliquid.budget import Priority, WeightBudget, candle_snapshot_weight
from candlewick.runtime.clock import ManualClock

pytestmark = pytest.mark.anyio


def test_candle_snapshot_weight() -> None:
    """20 plus one per started block of 60 candles: a full 5000 page costs 104."""
    assert candle_snapshot_weight(0) == 20
    assert candle_snapshot_weight(1) == 21
    assert candle_snapshot_weight(60) == 21
    assert candle_snapshot_weight(61) == 22
    assert candle_snapshot_weight(500) == 29
    assert candle_snapshot_weight(5000) == 104


async def test_refills_at_the_per_minute_rate() -> None:
    """An empty bucket of 1200/min lets 100 weight through after 5 s, not before."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, start_full=False)
    done = anyio.Event()

    async def take() -> None:
        await budget.acquire(100)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(take)
        await clock.advance(4.9)
        assert not done.is_set()
        await clock.advance(0.2)
        assert done.is_set()
    assert budget.used == 100


async def test_burst_is_capped() -> None:
    """Idle time fills the bucket only up to the burst."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300)
    await clock.advance(600)
    assert budget.level() == 300
    assert budget.try_acquire(300)
    assert not budget.try_acquire(1)


async def test_higher_priority_goes_first_and_backfills_leave_headroom() -> None:
    """Gap repair overtakes a queued backfill; a backfill never dips into the headroom."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300, headroom=60, start_full=False)
    order: list[str] = []

    async def take(name: str, weight: float, priority: Priority) -> None:
        await budget.acquire(weight, priority=priority)
        order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "backfill", 100, Priority.BACKFILL)
        await clock.advance(0)
        tg.start_soon(take, "repair", 100, Priority.REPAIR)
        await clock.advance(0)
        await clock.advance(5.0)  # 100 weight: enough for repair (no headroom), not for the backfill
        assert order == ["repair"]
        await clock.advance(5.0)  # 100 more, but the backfill needs 100 + 60 headroom
        assert order == ["repair"]
        await clock.advance(3.0)
        assert order == ["repair", "backfill"]


async def test_penalize_pauses_every_caller() -> None:
    """A 429 empties the bucket: the next request waits for a refill."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300)
    budget.penalize()
    assert budget.level() == 0
    assert not budget.try_acquire(20)
    await clock.advance(1.0)
    assert budget.try_acquire(20)


async def test_settle_corrects_the_estimate() -> None:
    """Paying an estimate and settling on the real weight leaves the difference in the bucket."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300)
    await budget.acquire(104)
    budget.settle(104, 21)
    assert budget.level() == 300 - 21
    assert budget.used == 21


async def test_used_last_minute_is_a_sliding_window() -> None:
    """The per-minute figure counts spends (and corrections) of the last 60 s only."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300)
    await budget.acquire(104)
    budget.settle(104, 21)
    await clock.advance(30)
    await budget.acquire(50)
    assert budget.used_last_minute() == 71
    await clock.advance(31)
    assert budget.used_last_minute() == 50
    await clock.advance(30)
    assert budget.used_last_minute() == 0
    assert budget.used == 71


async def test_cancelled_waiter_leaves_the_queue() -> None:
    """A waiter that is cancelled does not block those behind it."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=300, start_full=False)
    got: list[str] = []
    scope = anyio.CancelScope()

    async def big() -> None:
        with scope:
            await budget.acquire(250)
            got.append("big")

    async def small() -> None:
        await budget.acquire(20)
        got.append("small")

    async with anyio.create_task_group() as tg:
        tg.start_soon(big)
        await clock.advance(0)
        tg.start_soon(small)
        await clock.advance(0)
        assert budget.waiting == 2
        scope.cancel()
        await clock.advance(1.1)
    assert got == ["small"]
    assert budget.waiting == 0


async def test_weight_larger_than_burst_passes_once_full() -> None:
    """A request heavier than the burst is not starved: it goes once the bucket is full."""
    clock = ManualClock()
    budget = WeightBudget(1200, clock, burst=100, start_full=False)
    done = anyio.Event()

    async def take() -> None:
        await budget.acquire(104)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(take)
        await clock.advance(5.1)
        assert done.is_set()
    assert budget.level() < 0
