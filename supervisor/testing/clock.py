"""Clocks for tests: one faster than real time, and a wall clock that is wrong.

Give the same :class:`ScaledClock` to the fake exchange and to the daemon: a 1m candle then
closes after ``60 / speed`` real seconds, and pings, stall timeouts and backoffs shrink alike.
Give the daemon a :class:`SkewedClock` around that clock to play a host without NTP.
"""

from __future__ import annotations

import time

import anyio

from candlewick.runtime.clock import Clock

__all__ = ["ScaledClock", "SkewedClock"]


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


class SkewedClock:
    """``base`` with its wall time ``offset`` seconds off (ahead when positive), as on a host without NTP.

    :meth:`step` moves the wall time at once, as NTP does when it corrects a clock; the
    monotonic time and sleeps are ``base``'s, untouched by either.
    """

    def __init__(self, base: Clock, offset: float) -> None:
        self.base = base
        self.offset = offset

    def step(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (negative: backwards)."""
        self.offset += seconds

    def time(self) -> float:
        return self.base.time() + self.offset

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)
