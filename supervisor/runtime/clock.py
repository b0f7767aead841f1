"""Clocks: the system clock, and a manual one that tests move by hand.

Everything time-dependent in the daemon (backoff, restart intensity, closing candles, gap
horizons) reads time and sleeps through a :class:`Clock`, so tests run in milliseconds; waits
for "an event or a timeout" go through :func:`wait_event` on the same clock.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """Where components read the time and sleep."""

    def time(self) -> float:
        """Wall-clock time, seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds, for durations."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...


async def wait_event(clock: Clock, event: anyio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds of ``clock`` time pass (``None``: no timeout).

    The one "wait for a wake-up call or a clock timeout" of candlewick: the timeout is slept on
    ``clock``, so a :class:`ManualClock` or a scaled test clock moves it like any other sleep.
    Returns whether the event is set.
    """
    if timeout is None:
        await event.wait()
        return True
    async with anyio.create_task_group() as tg:

        async def _timer() -> None:
            await clock.sleep(timeout)
            tg.cancel_scope.cancel()

        tg.start_soon(_timer)
        await event.wait()
        tg.cancel_scope.cancel()
    return event.is_set()


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when a test calls :meth:`advance`.

    Sleepers wake once the clock passes their deadline; ``monotonic()`` and ``time()``
    move together (``time() == epoch + monotonic()``).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._epoch = start
        self._now = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._epoch + self._now

    def monotonic(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are sleeping on this clock."""
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), event))
        await event.wait()

    async def advance(self, seconds: float, *, settle: int = 20) -> None:
        """Move time forward, waking sleepers in deadline order, letting each react."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, event = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            event.set()
            await _settle(settle)
        self._now = target
        await _settle(settle)


async def _settle(rounds: int) -> None:
    for _ in range(rounds):
        await anyio.lowlevel.checkpoint()
