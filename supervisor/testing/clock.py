"""A clock that runs faster than real time, for tests that need real sockets *and* minutes.

Give the same :class:`ScaledClock` to the fake exchange and to the daemon: a 1m candle then
closes after ``60 / speed`` real seconds, and pings, stall timeouts and backoffs shrink alike.
"""

from __future__ import annotations

import time

import anyio

__all__ = ["ScaledClock"]


class ScaledClock:
    """Wall and monotonic time that advance ``speed`` times faster than the real clock."""

    def __init__(self, speed: float = 1.0, *, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._m0 = time.monotonic()
        self._t0 = time.time() if start is None else start

    def monotonic(self) -> float:
        return (time.monotonic() - self._m0) * self.speed

    def time(self) -> float:
        return self._t0 + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds) / self.speed)
