"""The backfill job queue: pure bookkeeping, no I/O and no clock (times are passed in).

:class:`JobQueue` holds every job the engine knows, hands out ids, and decides:

- which queued job runs next (:meth:`JobQueue.next_runnable`: lowest :meth:`Job.sort_key`
  among those whose ``not_before`` has passed, else how long until one may start);
- whether a running job should yield between requests (:meth:`JobQueue.outranked`: a job of
  higher priority may start now);
- what a run's :class:`Outcome` makes of the job (:meth:`JobQueue.settle`): ``done``,
  ``failed`` and ``cancelled`` finish it; ``preempted`` queues it again at once; ``retry``
  queues it again after the :class:`RetryRule`'s delay.

Times: ``now`` is wall time in seconds (``created``, ``not_before``, ``finished``),
``mono`` monotonic seconds (a job's run time, for its ETA).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from candlewick.gaps.jobs import Job, JobKind, JobState
from candlewick.runtime.backoff import Backoff

__all__ = ["KEEP_FINISHED", "JobQueue", "Outcome", "RetryRule", "Settled"]

#: Finished jobs kept in memory for ``backfill.list``.
KEEP_FINISHED = 100


class Outcome(StrEnum):
    """How one run of a job ended."""

    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: A more urgent job may start: queued again at once, resumed where it stopped.
    PREEMPTED = "preempted"
    #: A failure that may pass (rate limit, outage, sink down): queued again after a delay.
    RETRY = "retry"


#: The final state each finishing outcome gives a job.
_FINAL = {Outcome.DONE: JobState.DONE, Outcome.FAILED: JobState.FAILED, Outcome.CANCELLED: JobState.CANCELLED}


@dataclass(frozen=True)
class RetryRule:
    """A job failing with a transient error runs again after ``initial`` seconds, doubling up to
    ``maximum``, and fails for good after ``max_attempts`` such failures (no jitter: one job runs
    at a time, so retries never herd)."""

    initial: float = 5.0
    maximum: float = 300.0
    max_attempts: int = 12

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the failure that follows ``attempts`` earlier ones (the one
        :class:`~candlewick.runtime.backoff.Backoff` rule with ``floor=1``: no jitter)."""
        return Backoff(self.initial, self.maximum, floor=1.0, attempt=attempts).next()

    def outcome(self, attempts: int, *, transient: bool) -> Outcome:
        """:attr:`Outcome.RETRY` for a transient failure while attempts remain, else :attr:`Outcome.FAILED`."""
        return Outcome.RETRY if transient and attempts < self.max_attempts else Outcome.FAILED


@dataclass(frozen=True)
class Settled:
    """What :meth:`JobQueue.settle` did: the job is final, or queued again after ``delay`` seconds."""

    job: Job
    outcome: Outcome
    delay: float = 0.0

    @property
    def final(self) -> bool:
        return self.outcome in _FINAL


class JobQueue:
    """Every job of one engine, by id, and the rules that order and retry them."""

    def __init__(self, *, retry: RetryRule | None = None, keep_finished: int = KEEP_FINISHED) -> None:
        self.retry = retry or RetryRule()
        self.keep_finished = keep_finished
        self.jobs: dict[str, Job] = {}
        self.next_id = 1

    def load(self, jobs: Iterable[Job], next_id: int) -> None:
        """Take the jobs of an earlier run (as the state file kept them)."""
        for job in jobs:
            self.jobs[job.id] = job
        self.next_id = max(self.next_id, next_id)

    def new(
        self, kind: JobKind, coin: str, interval: str, start: int, end: int, *, priority: int, horizon: int, now: float
    ) -> Job:
        """A queued job with the next id (not submitted yet)."""
        job = Job(
            id=str(self.next_id), kind=kind, coin=coin, interval=interval, start=start, end=end,
            priority=priority, horizon=horizon, created=now,
        )  # fmt: skip
        self.next_id += 1
        return job

    def submit(self, jobs: Iterable[Job]) -> None:
        """Add jobs, then drop the oldest finished ones past ``keep_finished``."""
        for job in jobs:
            self.jobs[job.id] = job
        done = sorted((j for j in self.jobs.values() if not j.active), key=lambda j: int(j.id))
        for job in done[: max(0, len(done) - self.keep_finished)]:
            del self.jobs[job.id]

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; raises ``LookupError`` for an unknown id."""
        job = self.jobs.get(str(job_id))
        if job is None:
            raise LookupError(f"no backfill job {job_id!r}")
        return job

    # -- views -------------------------------------------------------------------------------

    def newest_first(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: -int(j.id))

    def active(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.active]

    def spans_of(self, market: tuple[str, str]) -> list[tuple[int, int]]:
        """Spans of the active jobs of one market (what checks need not queue again)."""
        return [(j.start, j.end) for j in self.jobs.values() if j.active and j.market == market]

    # -- scheduling --------------------------------------------------------------------------

    def next_runnable(self, now: float) -> tuple[Job | None, float | None]:
        """The job to run now, or ``(None, seconds until one may start)`` (``None``: nothing queued)."""
        queued = sorted((j for j in self.jobs.values() if j.state is JobState.QUEUED), key=Job.sort_key)
        wait: float | None = None
        for job in queued:
            if job.not_before <= now:
                return job, None
            delay = job.not_before - now
            wait = delay if wait is None else min(wait, delay)
        return None, wait

    def outranked(self, job: Job, now: float) -> bool:
        """True when a queued job of higher priority (lower number) may start now."""
        return any(
            j.state is JobState.QUEUED and j.not_before <= now and j.priority < job.priority for j in self.jobs.values()
        )

    # -- transitions -------------------------------------------------------------------------

    def start(self, job: Job, *, now: float, mono: float) -> None:
        """``job`` runs from now on."""
        job.state = JobState.RUNNING
        job.error = None
        job.started = job.started or now
        job.resume(mono)

    def finish(self, job: Job, state: JobState, error: str | None = None, *, now: float, mono: float) -> None:
        """``job`` ends in a final ``state``."""
        job.pause(mono)
        job.state = state
        job.error = error
        job.finished = now

    def settle(self, job: Job, outcome: Outcome, error: str | None = None, *, now: float, mono: float) -> Settled:
        """Apply the outcome of a run: finish the job, or queue it again (after the retry delay)."""
        final = _FINAL.get(outcome)
        if final is not None:
            self.finish(job, final, error, now=now, mono=mono)
            return Settled(job, outcome)
        job.pause(mono)
        job.state = JobState.QUEUED
        if outcome is Outcome.PREEMPTED:
            return Settled(job, outcome)
        delay = self.retry.delay(job.attempts)
        job.attempts += 1
        job.error = error
        job.not_before = now + delay
        return Settled(job, outcome, delay)
