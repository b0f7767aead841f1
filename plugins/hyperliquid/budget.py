"""One weight-aware token bucket shared by every caller of Hyperliquid's REST ``info`` endpoint.

Hyperliquid meters REST by *weight* per IP: ``rest_weight_per_minute`` (1200 by default);
``meta``/``spotMeta``/``candleSnapshot`` weigh 20, and ``candleSnapshot`` adds one per 60 candles
returned (:func:`candle_snapshot_weight`). The bucket refills continuously at that rate and
holds at most ``burst`` weight, so a sliding minute never sees much more than the budget.

Callers ``await budget.acquire(weight, priority=...)`` before a request and
``budget.settle(estimate, actual)`` once the response told the real weight. Waiters are served
by priority (:class:`Priority`: live catch-up first, then gap repair, then user backfills), FIFO
within one; a :data:`Priority.BACKFILL` caller also leaves ``headroom`` weight in the bucket so
that gap repair finds room at once. A 429 calls :meth:`WeightBudget.penalize`, which empties
the bucket: every caller pauses, not just the one that was refused.

Issue-5 gap repair and backfill jobs share the one instance the source owns
(``HyperliquidSource.rest.budget``).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

import anyio

from candlewick.runtime.clock import Clock, wait_event

__all__ = ["CANDLE_SNAPSHOT_BASE", "INFO_WEIGHT", "Priority", "WeightBudget", "candle_snapshot_weight"]

#: Weight of ``meta``, ``spotMeta`` and most other info requests.
INFO_WEIGHT = 20
#: Base weight of ``candleSnapshot``; plus one per (started) block of 60 items returned.
CANDLE_SNAPSHOT_BASE = 20
ITEMS_PER_EXTRA_WEIGHT = 60
#: Default burst as a fraction of the per-minute budget.
DEFAULT_BURST_FRACTION = 0.25
#: Default headroom that backfills leave for higher priorities, as a fraction of the burst.
DEFAULT_HEADROOM_FRACTION = 0.2
#: Seconds over which :meth:`WeightBudget.used_last_minute` sums the weight spent.
WINDOW = 60.0


def candle_snapshot_weight(items: int) -> int:
    """Weight of a ``candleSnapshot`` that returned ``items`` candles (20 + ceil(items/60))."""
    return CANDLE_SNAPSHOT_BASE + math.ceil(max(0, items) / ITEMS_PER_EXTRA_WEIGHT)


class Priority(IntEnum):
    """Who goes first when weight is scarce (lower first)."""

    #: Start-up checks and the catch-up right after a (re)connect: the live feed waits on it.
    LIVE = 0
    #: Gap repair: holes in stored data.
    REPAIR = 1
    #: Backfills an operator asked for; they leave headroom for the others.
    BACKFILL = 2


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    weight: float = field(compare=False)
    event: anyio.Event = field(compare=False, default_factory=anyio.Event)
    cancelled: bool = field(compare=False, default=False)


class WeightBudget:
    """A token bucket of REST weight, refilled at ``per_minute / 60`` per second of ``clock``."""

    def __init__(
        self,
        per_minute: float,
        clock: Clock,
        *,
        burst: float | None = None,
        headroom: float | None = None,
        start_full: bool = True,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = float(per_minute)
        self.rate = self.per_minute / 60.0
        self.burst = float(burst) if burst is not None else max(INFO_WEIGHT * 2.0, per_minute * DEFAULT_BURST_FRACTION)
        self.headroom = float(headroom) if headroom is not None else self.burst * DEFAULT_HEADROOM_FRACTION
        self._clock = clock
        self._level = self.burst if start_full else 0.0
        self._stamp = clock.monotonic()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._wakeup = anyio.Event()
        #: Weight spent so far (for telemetry).
        self.used = 0.0
        #: (monotonic time, weight) of each spend and correction within the last :data:`WINDOW`.
        self._recent: deque[tuple[float, float]] = deque()

    # -- views -------------------------------------------------------------------------------

    def level(self) -> float:
        """Weight available now (negative while in debt after a 429 or an underestimate)."""
        self._refill()
        return self._level

    def has_share(self, fraction: float) -> bool:
        """Whether at least ``fraction`` of the burst is available now (background work yields otherwise)."""
        return self.level() >= self.burst * fraction

    def used_last_minute(self) -> float:
        """Weight spent in the last 60 s of ``clock`` (what the exchange's limit counts)."""
        self._forget(self._clock.monotonic())
        return max(0.0, sum(weight for _, weight in self._recent))

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.cancelled)

    # -- bookkeeping -------------------------------------------------------------------------

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._level = min(self.burst, self._level + elapsed * self.rate)
        self._stamp = now

    def _reserve_for(self, priority: int) -> float:
        return self.headroom if priority >= Priority.BACKFILL else 0.0

    def _need(self, waiter: _Waiter) -> float:
        # A weight larger than the burst could never fit: let it through once the bucket is full.
        return min(waiter.weight + self._reserve_for(waiter.priority), self.burst)

    def try_acquire(self, weight: float, priority: int = Priority.LIVE) -> bool:
        """Take ``weight`` now if nobody of equal or higher priority is queued and it fits."""
        self._refill()
        if any(not w.cancelled and w.priority <= priority for w in self._waiters):
            return False
        if self._level >= min(weight + self._reserve_for(priority), self.burst):
            self._spend(weight)
            return True
        return False

    def _spend(self, weight: float) -> None:
        self._level -= weight
        self._count(weight)

    def _count(self, weight: float) -> None:
        self.used += weight
        now = self._clock.monotonic()
        self._forget(now)
        self._recent.append((now, weight))

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - WINDOW:
            self._recent.popleft()

    async def acquire(self, weight: float, *, priority: int = Priority.LIVE) -> None:
        """Wait until ``weight`` may be spent, honouring priority order, then spend it."""
        if self.try_acquire(weight, priority):
            return
        waiter = _Waiter(int(priority), next(self._seq), float(weight))
        heapq.heappush(self._waiters, waiter)
        self._notify()
        try:
            while True:
                self._prune()
                if self._waiters and self._waiters[0] is waiter:
                    self._refill()
                    need = self._need(waiter)
                    if self._level >= need:
                        heapq.heappop(self._waiters)
                        self._spend(waiter.weight)
                        self._notify()
                        return
                    # Sleep until the refill covers the head waiter, or someone changes the queue.
                    await wait_event(self._clock, self._wakeup, (need - self._level) / self.rate)
                else:
                    await self._wakeup.wait()
        except BaseException:
            waiter.cancelled = True
            self._prune()
            self._notify()
            raise

    def _prune(self) -> None:
        while self._waiters and self._waiters[0].cancelled:
            heapq.heappop(self._waiters)

    def _notify(self) -> None:
        event, self._wakeup = self._wakeup, anyio.Event()
        event.set()

    def settle(self, estimate: float, actual: float) -> None:
        """Correct a spend once the real weight is known (may put the bucket in debt)."""
        self._refill()
        diff = actual - estimate
        self._level -= diff
        self._count(diff)
        if diff < 0:
            self._notify()

    def penalize(self) -> None:
        """The server said 429: empty the bucket so every caller pauses."""
        self._refill()
        self._level = min(self._level, 0.0)
        self._notify()
