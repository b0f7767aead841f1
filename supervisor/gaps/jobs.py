"""Backfill jobs: what one job is, its states, progress and ETA, and the queue order.

A job covers one (coin, interval) from ``start`` to ``end`` (open times, ms). ``kind`` is
:attr:`JobKind.USER` (asked for over the control socket or ``candlewick backfill``) or
:attr:`JobKind.REPAIR` (gap repair and ``backfill_on_start``). Kinds and states are string
enums whose values are the control socket's strings (``"user"``, ``"queued"``...).
``priority`` orders the queue, lower first: :data:`URGENT` (a hole near the exchange's
horizon), :data:`STARTUP` (start-up and reconnect checks), :data:`USER`. Within one priority
the job whose oldest candle leaves the window first runs first, then the older job (the rules
that use this order are :class:`candlewick.gaps.queue.JobQueue`'s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "ACTIVE",
    "FINISHED",
    "STARTUP",
    "URGENT",
    "USER",
    "Job",
    "JobKind",
    "JobState",
]


class JobKind(StrEnum):
    """Who asked for a job."""

    USER = "user"
    REPAIR = "repair"


class JobState(StrEnum):
    """Where a job is: queued and running are active, the rest final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Queue priorities (lower runs first); they map onto the REST budget's priorities.
URGENT = 0
STARTUP = 1
USER = 2

ACTIVE: frozenset[JobState] = frozenset({JobState.QUEUED, JobState.RUNNING})
FINISHED: frozenset[JobState] = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


@dataclass
class Job:
    """One backfill job and its progress."""

    id: str
    kind: JobKind
    coin: str
    interval: str
    start: int
    end: int
    priority: int = USER
    state: JobState = JobState.QUEUED
    fetched: int = 0
    expected: int = 0
    error: str | None = None
    #: Wall time (s) the job was created, started and finished.
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    #: When the oldest candle of the job leaves the exchange's window (ms): earlier runs first.
    horizon: int = 0
    #: Not to start before this wall time (s): lets the live source's own catch-up land first.
    not_before: float = 0.0
    #: Transient failures so far (rate limits, outages); not persisted.
    attempts: int = 0
    #: Monotonic seconds the job has been running, and the fetched count at the last resume.
    _run_seconds: float = field(default=0.0, repr=False)
    _resumed_at: float | None = field(default=None, repr=False)

    @property
    def market(self) -> tuple[str, str]:
        return (self.coin, self.interval)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def sort_key(self) -> tuple[int, int, float, int]:
        return (self.priority, self.horizon, self.created, int(self.id) if self.id.isdigit() else 0)

    def eta(self, monotonic_now: float) -> float | None:
        """Seconds left at the rate seen so far (``None`` until something was fetched)."""
        if self.state is not JobState.RUNNING or self.fetched <= 0:
            return None
        elapsed = self._run_seconds + (monotonic_now - self._resumed_at if self._resumed_at is not None else 0.0)
        left = max(0, self.expected - self.fetched)
        return round(elapsed / self.fetched * left, 1)

    def resume(self, monotonic_now: float) -> None:
        self._resumed_at = monotonic_now

    def pause(self, monotonic_now: float) -> None:
        if self._resumed_at is not None:
            self._run_seconds += monotonic_now - self._resumed_at
            self._resumed_at = None

    def to_dict(self, monotonic_now: float) -> dict[str, Any]:
        """The control socket's job dict (kind and state as plain strings)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "coin": self.coin,
            "interval": self.interval,
            "start": self.start,
            "end": self.end,
            "state": self.state.value,
            "fetched": self.fetched,
            "expected": self.expected,
            "eta": self.eta(monotonic_now),
            "error": self.error,
            "priority": self.priority,
        }
