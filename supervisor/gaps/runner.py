"""The job runner: takes the next runnable job from the queue and runs it, one at a time, forever.

Running a job is I/O only: read the sink's stored open times over the job's span, ask
:class:`~candlewick.gaps.coverage.Coverage` what is still missing, request it page by page
from the :class:`~candlewick.gaps.history.History`, emit closed candles inside the holes, file
what the exchange did not return in the ledger, and wait until the sink shows the candles
committed. Which job runs, when it yields (preemption) and what a failure makes of it (retry
or fail) are :class:`~candlewick.gaps.queue.JobQueue`'s rules.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus

from candlewick.errors import SinkUnavailable
from candlewick.gaps import grid, planning
from candlewick.gaps.coverage import Coverage
from candlewick.gaps.history import History, StoredTimes
from candlewick.gaps.jobs import Job, JobKind, JobState
from candlewick.gaps.persist import Persistence
from candlewick.gaps.queue import JobQueue, Outcome
from candlewick.gaps.ranges import Span, span_count
from candlewick.gaps.report import Reporter
from candlewick.model import Candle
from candlewick.runtime.clock import Clock, wait_event

__all__ = ["JobRunner", "NotCommitted", "Parts"]

log = logging.getLogger("candlewick.gaps.engine")

#: Seconds between looks at a sink that does not answer yet.
SINK_POLL = 0.5
#: Seconds between looks at the sink while a finished job waits for its candles to be committed.
VERIFY_POLL = 0.25
#: Seconds between job progress events.
PROGRESS_EVERY = 2.0

Emit = Callable[[Candle], Awaitable[None]]


class NotCommitted(Exception):
    """Fetched candles did not show up in the sink in time."""


@dataclass(frozen=True)
class Parts:
    """What the runner works with (the engine builds them and shares them with its checks)."""

    name: str
    history: History
    stored: StoredTimes
    emit: Emit
    clock: Clock
    queue: JobQueue
    coverage: Coverage
    report: Reporter
    persist: Persistence
    #: True while the market's candles are off candlewick's grid.
    off_grid: Callable[[str, str], bool]
    #: Seconds a finished job waits for the sink to show its candles committed.
    verify_timeout: float


class JobRunner:
    """Runs queued jobs one at a time; wakes when the queue changes."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._changed = anyio.Event()
        self._running: tuple[Job, anyio.CancelScope] | None = None
        self._progress_at = 0.0

    def kick(self) -> None:
        """The queue changed: look again for a runnable job."""
        event, self._changed = self._changed, anyio.Event()
        event.set()

    async def stop(self, job: Job) -> None:
        """Cancel ``job`` if it is the one running, and wait until it has settled."""
        if self._running is not None and self._running[0] is job:
            self._running[1].cancel()
            while job.state is JobState.RUNNING:
                await self._changed.wait()

    async def wait_sink(self) -> None:
        """Wait until the sink answers (it starts beside this component)."""
        while True:
            try:
                await self.parts.stored.open_times("", "1m", 0, 0)
                return
            except SinkUnavailable:
                await self.parts.clock.sleep(SINK_POLL)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run queued jobs one at a time, forever."""
        task_status.started()
        await self.wait_sink()
        while True:
            job, wait = self.parts.queue.next_runnable(self.parts.clock.time())
            if job is None:
                await wait_event(self.parts.clock, self._changed, wait)
                continue
            await self._run(job)

    async def _run(self, job: Job) -> None:
        p = self.parts
        p.queue.start(job, now=p.clock.time(), mono=p.clock.monotonic())
        p.report.running(job)
        await p.persist.jobs([job])
        outcome, error = await self._attempt(job)
        settled = p.queue.settle(job, outcome, error, now=p.clock.time(), mono=p.clock.monotonic())
        p.report.settled(settled, error)
        if settled.final:
            self.kick()
        await p.persist.jobs([job])

    async def _attempt(self, job: Job) -> tuple[Outcome, str | None]:
        """Run ``job`` once under a cancel scope :meth:`stop` can reach; how it ended, and why."""
        outcome, error = Outcome.FAILED, None
        with anyio.CancelScope() as scope:
            self._running = (job, scope)
            try:
                outcome = await self._execute(job)
            except NotCommitted as exc:
                error = str(exc)
            except SinkUnavailable as exc:
                outcome, error = Outcome.RETRY, str(exc)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                outcome = self.parts.queue.retry.outcome(job.attempts, transient=self.parts.history.transient(exc))
            finally:
                self._running = None
        if scope.cancelled_caught:
            return Outcome.CANCELLED, None
        return outcome, error

    def _now_ms(self) -> int:
        return int(self.parts.clock.time() * 1000)

    async def _execute(self, job: Job) -> Outcome:
        p = self.parts
        coin, interval = market = job.market
        await p.history.ready()
        now = self._now_ms()
        first = max(job.start, grid.window_start(interval, now, p.coverage.window))
        if first > job.end:
            return Outcome.DONE
        fetched: list[int] = []
        self._progress_at = p.clock.monotonic()
        if p.off_grid(coin, interval):
            # Holes cannot be told from candles the grid misplaces: store every closed candle of
            # the span and leave the ledger alone.
            await self._fetch(job, first, job.end, fetched)
            return await self._done(job, fetched)
        present = await p.stored.open_times(coin, interval, first, job.end)
        holes = p.coverage.job_holes(market, present, first, job.end, now)
        job.expected = job.fetched + span_count(interval, holes)
        for req in planning.requests(interval, holes, p.history):
            returned = await self._fetch(job, req.first, req.last, fetched, keep=req.holes)
            on_grid = not p.off_grid(coin, interval)
            p.coverage.fetched(market, req, returned, self._now_ms(), on_grid=on_grid)
            if on_grid:
                await p.persist.market(coin, interval)
            if p.queue.outranked(job, p.clock.time()):
                await self._verify(job, fetched)
                return Outcome.PREEMPTED
        outcome = await self._done(job, fetched)
        if job.kind is JobKind.REPAIR and not p.off_grid(coin, interval):
            hit = p.coverage.repaired(market, job.start, job.end)
            if hit:
                p.report.repaired(job, hit)
        return outcome

    async def _done(self, job: Job, fetched: list[int]) -> Outcome:
        job.expected = max(job.expected, job.fetched)
        await self._verify(job, fetched)
        return Outcome.DONE

    async def _fetch(
        self, job: Job, first: int, last: int, fetched: list[int], *, keep: Sequence[Span] | None = None
    ) -> list[int]:
        """Request ``[first, last]`` and emit its closed candles (only those inside ``keep``, if given).

        Emitted open times are added to ``fetched``; returns every open time the exchange returned.
        """
        p = self.parts
        coin, interval = job.market
        counter = p.report.candles.labels(coin=coin, interval=interval)
        returned: list[int] = []
        log.debug("%s: job %s requests %s %s %d..%d", p.name, job.id, coin, interval, first, last)
        async with _closing(p.history.pages(coin, interval, first, last, priority=job.priority)) as pages:
            async for page in pages:
                for candle in page:
                    returned.append(candle.open_time)
                    if candle.closed and (keep is None or _inside(candle.open_time, keep)):
                        await p.emit(candle)
                        fetched.append(candle.open_time)
                        job.fetched += 1
                        counter.inc()
                mono = p.clock.monotonic()
                if mono - self._progress_at >= PROGRESS_EVERY:
                    self._progress_at = mono
                    p.report.job(job, f"job {job.id}: {job.fetched}/{job.expected} candles")
        return returned

    async def _verify(self, job: Job, times: list[int]) -> None:
        """Wait until the sink shows ``times`` committed; raise :class:`NotCommitted` after the timeout."""
        if not times:
            return
        p = self.parts
        coin, interval = job.market
        want = set(times)
        lo, hi = min(want), max(want)
        deadline = p.clock.monotonic() + p.verify_timeout
        while True:
            missing = want - set(await p.stored.open_times(coin, interval, lo, hi))
            if not missing:
                return
            if p.clock.monotonic() >= deadline:
                raise NotCommitted(
                    f"{len(missing)} of {len(want)} fetched candles not committed by the sink within "
                    f"{p.verify_timeout:g}s; the next check repairs what is still missing"
                )
            await p.clock.sleep(VERIFY_POLL)


def _inside(t: int, spans: Sequence[Span]) -> bool:
    return any(a <= t <= b for a, b in spans)


@asynccontextmanager
async def _closing(pages: AsyncIterator[list[Candle]]) -> AsyncIterator[AsyncIterator[list[Candle]]]:
    """Close ``pages`` when the block ends early (an async generator left open warns when collected)."""
    try:
        yield pages
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()
