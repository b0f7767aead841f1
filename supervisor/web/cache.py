"""A short-lived cache of one async answer, shared by concurrent callers.

``/api/v1/markets`` counts every stored candle (a scan of the whole table: about 0.2 s per
million rows on SQLite), so a burst of dashboards or a polling bot would scan it again and
again. :class:`Recent` keeps the last answer for a few seconds, and callers arriving while it
is being fetched wait for that one fetch instead of starting their own. A failed fetch is not
kept: the next caller tries again.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

__all__ = ["Recent"]

T = TypeVar("T")


class Recent(Generic[T]):
    """The answer of ``fetch`` fetched at most ``ttl`` seconds ago (event-loop time)."""

    def __init__(self, fetch: Callable[[], Awaitable[T]], ttl: float) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self._value: T | None = None
        self._fetched_at = -math.inf
        self._lock: anyio.Lock | None = None

    async def get(self) -> T:
        if self._lock is None:  # created on first use: a lock belongs to the loop that runs it
            self._lock = anyio.Lock()
        async with self._lock:
            if self._value is not None and anyio.current_time() - self._fetched_at < self.ttl:
                return self._value
            value = await self.fetch()
            self._value, self._fetched_at = value, anyio.current_time()
            return value

    def forget(self) -> None:
        """Drop the kept answer; the next :meth:`get` fetches."""
        self._value, self._fetched_at = None, -math.inf
