"""The gap repair engine: checks markets for holes, queues jobs, and runs them one at a time.

One engine serves one :class:`~candlewick.gaps.history.History` (an exchange) and one sink.
Decisions live in pure modules; the engine and its :class:`~candlewick.gaps.runner.JobRunner`
only do their I/O (read the sink, run history pages, persist through worker threads):

- :mod:`~candlewick.gaps.coverage` says what a check reads and which holes it finds (with the
  :mod:`~candlewick.gaps.ledger`); :mod:`~candlewick.gaps.planning` turns holes into jobs and
  requests; :mod:`~candlewick.gaps.queue` orders, preempts, retries and settles jobs;
  :mod:`~candlewick.gaps.report` logs, counts and publishes;
  :mod:`~candlewick.gaps.persist` keeps jobs and the ledger in the state file.

Jobs run sequentially: the exchange's request budget is the bottleneck, so parallel jobs
would only interleave. Between requests a running job yields to a queued job of higher
priority (a hole about to leave the window does not wait behind a user's long backfill).

A job re-reads stored coverage right before it starts, so it fetches only what is still
missing (the live source's own catch-up may have filled part of it meanwhile), merged into as
few requests as pay off. Fetched candles go out through ``emit`` (the buffer, then the sink);
a job is ``done`` only once the sink shows them committed.

A market in *grid mismatch* (its source reports candles off candlewick's grid, see
:mod:`candlewick.runtime.gridreport`) is not checked: holes and losses are counted on the
grid, which no longer describes it. A job of such a market stores every closed candle the
exchange has in its span and records nothing in the ledger. Checks resume once the source
reports the mismatch resolved.

Times are the exchange's: the engine's clock is the history's ``exchange_clock``, whose
``time()`` is the exchange's time as far as it has surely passed. A host clock running ahead
therefore never makes an open candle "missing" or a running span "confirmed empty".

Logging (see :mod:`~candlewick.gaps.report` for the rest): DEBUG per request and for markets
skipped in a grid mismatch (the source logs the mismatch itself, once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskStatus

from candlewick.gaps import grid, planning
from candlewick.gaps.coverage import Coverage, Look
from candlewick.gaps.eta import queue_etas
from candlewick.gaps.history import History, StoredTimes
from candlewick.gaps.jobs import STARTUP, URGENT, USER, Job, JobKind, JobState
from candlewick.gaps.ledger import Assessment, Ledger
from candlewick.gaps.persist import Persistence
from candlewick.gaps.queue import JobQueue
from candlewick.gaps.ranges import Span, span_count
from candlewick.gaps.report import Reporter
from candlewick.gaps.runner import Emit, JobRunner, NotCommitted, Parts
from candlewick.gaps.settings import GapRepairConfig
from candlewick.model import check_interval
from candlewick.runtime.clock import Clock
from candlewick.runtime.gridreport import mismatch_of
from candlewick.runtime.telemetry import Telemetry

__all__ = ["GapEngine", "NotCommitted"]

log = logging.getLogger(__name__)

Market = tuple[str, str]
T = TypeVar("T")


class GapEngine:
    """Runs checks and jobs: the I/O around coverage, planning and the job queue."""

    def __init__(
        self,
        *,
        name: str,
        history: History,
        stored: StoredTimes,
        emit: Emit,
        clock: Clock,
        telemetry: Telemetry,
        state_path: Path | None,
        settings: GapRepairConfig | None = None,
    ) -> None:
        self.name = name
        self.history = history
        self.stored = stored
        self.emit = emit
        self.clock = clock
        self.telemetry = telemetry
        self.settings = s = settings or GapRepairConfig()
        #: Candles the exchange keeps per market.
        self.window = s.window or history.window
        self.ledger = Ledger(
            window=self.window, late_ms=int(s.late_window * 1000), recheck_ms=int(s.recheck_after * 1000)
        )
        self.coverage = Coverage(self.ledger, window=self.window)
        #: When this engine started (ms): only candles stored before it can be a previous run's partial ones.
        self.started_ms = int(clock.time() * 1000)
        self.queue = JobQueue()
        self.report = Reporter(name, telemetry, clock)
        self.persist = Persistence(state_path, self.ledger)
        parts = Parts(
            name=name, history=history, stored=stored, emit=emit, clock=clock, queue=self.queue,
            coverage=self.coverage, report=self.report, persist=self.persist, off_grid=self.off_grid,
            verify_timeout=s.verify_timeout,
        )  # fmt: skip
        self.runner = JobRunner(parts)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Load the persisted queue and ledger (jobs running at the last stop are queued again)."""
        jobs, next_id = await self.persist.open()
        self.queue.load(jobs, next_id)
        self.report.losses_on_record(self.ledger)
        pending = [j for j in jobs if j.active]
        if pending:
            log.info("%s: %d backfill jobs pending from the last run", self.name, len(pending))

    async def close(self) -> None:
        await self.persist.close(list(self.queue.jobs.values()))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run queued jobs one at a time, forever (:class:`~candlewick.gaps.runner.JobRunner`)."""
        await self.runner.run(task_status=task_status)

    async def wait_sink(self) -> None:
        """Wait until the sink answers (it starts beside this component)."""
        await self.runner.wait_sink()

    # -- views -------------------------------------------------------------------------------

    def job_list(self) -> list[dict[str, Any]]:
        """Every job, newest first; a queued job's ``eta`` is the weight ahead of it at the budget's rate."""
        now = self.clock.monotonic()
        per_minute = getattr(self.history, "weight_per_minute", None)
        etas = queue_etas(self.queue.active(), self.history, per_minute) if per_minute else {}
        out = []
        for job in self.queue.newest_first():
            row = job.to_dict(now)
            if row["eta"] is None and job.id in etas:
                row["eta"] = etas[job.id]
            out.append(row)
        return out

    def active_jobs(self) -> list[Job]:
        return self.queue.active()

    def lost_total(self) -> int:
        return sum(span_count(iv, cov.lost) for (_, iv), cov in self.ledger.markets.items())

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def off_grid(self, coin: str, interval: str) -> bool:
        """True while the source reports this market's candles off candlewick's grid."""
        return mismatch_of(self.telemetry.metrics, self.history.source, coin, interval) is not None

    # -- jobs --------------------------------------------------------------------------------

    def _new_job(self, kind: JobKind, coin: str, interval: str, first: int, last: int, *, priority: int) -> Job:
        horizon = grid.horizon(interval, first, self.window)
        return self.queue.new(
            kind, coin, interval, first, last, priority=priority, horizon=horizon, now=self.clock.time()
        )

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Queue jobs (persisted first, so they survive a restart)."""
        self.queue.submit(jobs)
        for job in jobs:
            self.report.queued(job)
        await self.persist.jobs(jobs)
        self.runner.kick()

    async def backfill(self, coin: str, intervals: Sequence[str], days: int | None) -> list[Job]:
        """Queue one user job per interval over the last ``days`` days (``None``: all the exchange keeps)."""
        for interval in intervals:
            check_interval(interval)
        if days is not None and days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        await self.history.check_coin(coin)
        now = self.now_ms()
        grace = int(self.settings.grace * 1000)
        jobs = []
        for interval in dict.fromkeys(intervals):
            first, last = planning.user_span(interval, now, window=self.window, days=days, grace_ms=grace)
            jobs.append(self._new_job(JobKind.USER, coin, interval, first, last, priority=USER))
        await self.submit(jobs)
        return jobs

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job; raises ``LookupError`` for an unknown id."""
        job = self.queue.get(job_id)
        if job.state is JobState.QUEUED:
            self._finish(job, JobState.CANCELLED)
            await self.persist.jobs([job])
        else:
            await self.runner.stop(job)
        return job

    def cancel_pending(self, reason: str) -> None:
        """Mark every queued or running job cancelled (a one-shot run that is stopping)."""
        for job in self.queue.active():
            self._finish(job, JobState.CANCELLED, reason)

    def _finish(self, job: Job, state: JobState, error: str | None = None) -> None:
        self.queue.finish(job, state, error, now=self.clock.time(), mono=self.clock.monotonic())
        self.report.finished(job)
        self.runner.kick()

    # -- checks ------------------------------------------------------------------------------

    def _look(self, *, startup: bool, grace: float | None, tail: int | None) -> Look:
        """What kind of check this is, with the history's start-up policy read now."""
        h = self.history
        return Look(
            grace_ms=int((self.settings.grace if grace is None else grace) * 1000),
            startup=startup,
            start_policy=h.backfill_on_start() if startup else None,
            live_fetches_start=h.fetches_start_history(),
            tail=tail,
            started_ms=self.started_ms,
        )

    async def check_all(
        self,
        reason: str,
        *,
        markets: Iterable[Market] | None = None,
        startup: bool = False,
        grace: float | None = None,
        tail: int | None = None,
    ) -> int:
        """Check every market (or ``markets``); returns how many jobs were queued.

        ``grace`` overrides the settings' (during an outage no live candle is coming, so a
        closed candle is missing as soon as the exchange can serve it); ``tail`` (ms) limits the
        look to the candles since then (an outage check reads only what the outage can affect).
        """
        look = self._look(startup=startup, grace=grace, tail=tail)
        wanted = [m for m in (markets if markets is not None else self.history.markets()) if not self._skip(m)]
        if self.settings.confirm_delay > 0:
            # A hole must still be there a moment later: candles just fetched by the live source
            # may be on their way through the buffer.
            wanted = [m for m in wanted if await self._guarded(m, self._has_holes(m, look))]
            if not wanted:
                return 0
            await self.clock.sleep(self.settings.confirm_delay)
        queued = 0
        for market in wanted:
            queued += len(await self._guarded(market, self._check(market, reason, look)) or ())
        return queued

    async def _guarded(self, market: Market, check: Awaitable[T]) -> T | None:
        """Run one market's check; a failure (a sink hiccup) is logged, and the next check retries."""
        try:
            return await check
        except Exception as exc:  # must not end the engine
            log.warning("%s: checking %s %s failed: %s", self.name, *market, exc)
            return None

    async def _has_holes(self, market: Market, look: Look) -> bool:
        found, holes = await self._assess(market, look, record=False)
        return bool(holes or found.lost)

    async def check_market(
        self,
        coin: str,
        interval: str,
        *,
        reason: str = "check",
        startup: bool = False,
        grace: float | None = None,
        tail: int | None = None,
    ) -> list[Job]:
        """Find holes of one market and queue repair jobs for those not already queued."""
        return await self._check((coin, interval), reason, self._look(startup=startup, grace=grace, tail=tail))

    def suspect(self, markets: Iterable[Market], at_ms: int) -> None:
        """The live feed broke at ``at_ms``: refetch the candles of ``markets`` open around then."""
        self.coverage.suspect(markets, at_ms)

    def _skip(self, market: Market) -> bool:
        if self.off_grid(*market):
            log.debug("%s: %s %s not checked: its candles are off candlewick's grid", self.name, *market)
            return True
        return False

    async def _assess(self, market: Market, look: Look, *, record: bool) -> tuple[Assessment, list[Span]]:
        """Read what the check's scope needs from the sink and assess it."""
        coin, interval = market
        now = self.now_ms()
        scope = self.coverage.scope(market, now, look)
        present = await self.stored.open_times(coin, interval, scope.read_from, now)
        queued = self.queue.spans_of(market)
        return self.coverage.assess(market, present, now, look, scope, queued=queued, record=record)

    async def _check(self, market: Market, reason: str, look: Look) -> list[Job]:
        coin, interval = market
        if self._skip(market):
            return []
        found, holes = await self._assess(market, look, record=True)
        if found.lost:
            self.report.lost(coin, interval, found.lost)
            await self.persist.market(coin, interval)
        elif self.ledger.forget_before(coin, interval, self.ledger.check_start(interval, self.now_ms())):
            await self.persist.market(coin, interval)
        now = self.now_ms()
        new = self.coverage.new_holes(market, holes)
        if new:
            self.report.holes_found(coin, interval, new, reason)
        if not holes:
            return []
        warn_ms = int(self.settings.horizon_warning * 1000)
        jobs = []
        for plan in planning.repairs(interval, holes, self.history, now_ms=now, window=self.window, warn_ms=warn_ms):
            if plan.urgent:
                self.report.near_horizon(coin, interval, plan.first, plan.horizon, now)
            priority = URGENT if plan.urgent else STARTUP
            job = self._new_job(JobKind.REPAIR, coin, interval, plan.first, plan.last, priority=priority)
            job.expected = plan.expected
            jobs.append(job)
        await self.submit(jobs)
        return jobs
