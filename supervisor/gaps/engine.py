"""The gap repair engine: checks markets for holes, queues jobs, runs them one at a time.

One engine serves one :class:`~candlewick.gaps.history.History` (an exchange) and one sink.
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

Logging: INFO for holes found and repaired and for job results, WARNING for a hole near its
horizon, for permanent losses and failed jobs, DEBUG per request and for markets skipped in
a grid mismatch (the source logs the mismatch itself, once).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.errors import SinkUnavailable
from candlewick.gaps import grid
from candlewick.gaps.history import History, StoredTimes
from candlewick.gaps.jobs import STARTUP, URGENT, USER, Job, JobKind
from candlewick.gaps.ledger import Assessment, Ledger
from candlewick.gaps.ranges import Span, clip, find_holes, normalize, plan_requests, span_count, subtract
from candlewick.gaps.store import Store
from candlewick.model import DAY_MS, Candle, check_interval, open_time
from candlewick.runtime import names
from candlewick.runtime.clock import Clock
from candlewick.runtime.gridreport import mismatch_of
from candlewick.runtime.telemetry import Telemetry

__all__ = ["EngineSettings", "GapEngine", "NotCommitted"]

log = logging.getLogger(__name__)

#: Seconds between looks at a sink that does not answer yet.
SINK_POLL = 0.5

Market = tuple[str, str]
Emit = Callable[[Candle], Awaitable[None]]


class NotCommitted(Exception):
    """Fetched candles did not show up in the sink in time."""


@dataclass(frozen=True)
class EngineSettings:
    """Timings of gap repair (seconds unless named ``_ms``)."""

    #: A closed candle counts as missing only this long after its close (live closing + flush).
    grace: float = 10.0
    #: A hole is acted on only if it is still there this long after it was first seen.
    confirm_delay: float = 3.0
    #: Warn, and repair first, when a hole leaves the exchange's window within this long.
    horizon_warning: float = 3600.0
    #: How long a finished job waits for the sink to show its candles committed.
    verify_timeout: float = 60.0
    verify_poll: float = 0.25
    #: Recent empty spans are re-checked once this long later (late flat rows).
    recheck_after: float = 180.0
    #: Empty spans that ended within this long are "recent".
    late_window: float = 900.0
    #: Seconds between job progress events.
    progress_every: float = 2.0
    #: A job failing with a transient error (rate limits, outages, sink down) is queued again after
    #: ``retry_initial`` seconds, doubling up to ``retry_max``, and fails after ``max_attempts``.
    retry_initial: float = 5.0
    retry_max: float = 300.0
    max_attempts: int = 12
    #: Finished jobs kept in memory for ``backfill.list``.
    keep_finished: int = 100


class GapEngine:
    """Coverage checks, the job queue and the job runner."""

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
        settings: EngineSettings | None = None,
        window: int | None = None,
    ) -> None:
        self.name = name
        self.history = history
        self.stored = stored
        self.emit = emit
        self.clock = clock
        self.telemetry = telemetry
        self.settings = settings or EngineSettings()
        self.store = Store(state_path) if state_path is not None else None
        s = self.settings
        #: Candles the exchange keeps per market.
        self.window = window or history.window
        self.ledger = Ledger(
            window=self.window, late_ms=int(s.late_window * 1000), recheck_ms=int(s.recheck_after * 1000)
        )
        self.jobs: dict[str, Job] = {}
        self._next_id = 1
        self._known: dict[Market, list[Span]] = {}
        self._warned: set[tuple[str, str, int]] = set()
        self._changed = anyio.Event()
        self._running: tuple[Job, anyio.CancelScope] | None = None
        self._since: dict[Market, int] = {}
        #: Candles stored but not trusted: open when the live source lost its connection, so it may
        #: have closed them with part of their trades. They are fetched again like holes.
        self._suspects: dict[Market, set[int]] = {}
        m = telemetry.metrics
        labels = ("coin", "interval")
        self._found = m.counter(names.GAPS_FOUND, "Holes found in stored candles", labels)
        self._repaired = m.counter(names.GAPS_REPAIRED, "Holes repaired", labels)
        self._lost = m.counter(names.PERMANENT_LOSSES, "Candles lost: past the exchange's window", labels)
        self._candles = m.counter(names.BACKFILL_CANDLES, "Candles fetched by backfill jobs", labels)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Load the persisted queue and ledger (jobs running at the last stop are queued again)."""
        store = self.store
        if store is None:
            return
        await anyio.to_thread.run_sync(store.open)
        await anyio.to_thread.run_sync(store.load_ledger, self.ledger)
        jobs = await anyio.to_thread.run_sync(store.load_jobs)
        self._next_id = await anyio.to_thread.run_sync(store.next_id)
        for job in jobs:
            self.jobs[job.id] = job
        for (coin, interval), cov in self.ledger.markets.items():
            lost = span_count(interval, cov.lost)
            if lost:
                self._lost.inc(lost, coin=coin, interval=interval)
        pending = [j for j in jobs if j.active]
        if pending:
            log.info("%s: %d backfill jobs pending from the last run", self.name, len(pending))

    async def close(self) -> None:
        if self.store is not None:
            with anyio.CancelScope(shield=True):
                await self._persist(list(self.jobs.values()))
                await anyio.to_thread.run_sync(self.store.close)

    # -- views -------------------------------------------------------------------------------

    def job_list(self) -> list[dict[str, Any]]:
        """Every job, newest first."""
        now = self.clock.monotonic()
        return [j.to_dict(now) for j in sorted(self.jobs.values(), key=lambda j: -int(j.id))]

    def active_jobs(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.active]

    def lost_total(self) -> int:
        return sum(span_count(iv, cov.lost) for (_, iv), cov in self.ledger.markets.items())

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def off_grid(self, coin: str, interval: str) -> bool:
        """True while the source reports this market's candles off candlewick's grid."""
        return mismatch_of(self.telemetry.metrics, self.history.source, coin, interval) is not None

    # -- jobs --------------------------------------------------------------------------------

    def _new_job(self, kind: JobKind, coin: str, interval: str, start: int, end: int, **kw: Any) -> Job:
        job = Job(
            id=str(self._next_id), kind=kind, coin=coin, interval=interval, start=start, end=end,
            created=self.clock.time(), **kw,
        )  # fmt: skip
        self._next_id += 1
        if not job.horizon:
            job.horizon = grid.horizon(interval, start, self.window)
        return job

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Queue jobs (persisted first, so they survive a restart)."""
        for job in jobs:
            self.jobs[job.id] = job
            self._publish_job(job, f"job {job.id} queued: {job.kind} {job.coin} {job.interval}")
        await self._persist(list(jobs))
        self._prune_finished()
        self._kick()

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
            first = grid.window_start(interval, now, self.window)
            if days is not None:
                first = max(first, open_time(interval, max(0, now - days * DAY_MS)))
            last = grid.newest_closed(interval, now, grace)
            jobs.append(self._new_job("user", coin, interval, first, last, priority=USER))
        await self.submit(jobs)
        return jobs

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job; raises ``LookupError`` for an unknown id."""
        job = self.jobs.get(str(job_id))
        if job is None:
            raise LookupError(f"no backfill job {job_id!r}")
        if job.state == "queued":
            self._finish(job, "cancelled")
            await self._persist([job])
        elif self._running is not None and self._running[0] is job:
            self._running[1].cancel()
            while job.state == "running":
                await self._changed.wait()
        return job

    def cancel_pending(self, reason: str) -> None:
        """Mark every queued or running job cancelled (a one-shot run that is stopping)."""
        for job in self.active_jobs():
            self._finish(job, "cancelled", reason)

    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.pause(self.clock.monotonic())
        job.state = state  # type: ignore[assignment]
        job.error = error
        job.finished = self.clock.time()
        msg = f"job {job.id} {state}: {job.kind} {job.coin} {job.interval}, {job.fetched} candles"
        self._publish_job(job, msg + (f" ({error})" if error else ""))
        self._kick()

    def _publish_job(self, job: Job, message: str) -> None:
        self.telemetry.publish(names.EV_JOB, self.name, message, job=job.to_dict(self.clock.monotonic()))

    def _prune_finished(self) -> None:
        done = sorted((j for j in self.jobs.values() if not j.active), key=lambda j: int(j.id))
        for job in done[: max(0, len(done) - self.settings.keep_finished)]:
            del self.jobs[job.id]

    async def _persist(self, jobs: list[Job]) -> None:
        if self.store is not None and jobs:
            await anyio.to_thread.run_sync(self.store.save_jobs, jobs)

    async def _persist_market(self, coin: str, interval: str) -> None:
        if self.store is not None:
            await anyio.to_thread.run_sync(self.store.save_market, coin, interval, self.ledger.market(coin, interval))

    def _kick(self) -> None:
        event, self._changed = self._changed, anyio.Event()
        event.set()

    # -- checks ------------------------------------------------------------------------------

    def start_since(self, interval: str, now_ms: int) -> int | None:
        """Where ``backfill_on_start`` wants the market complete from (``None``: no start-up backfill)."""
        policy = self.history.backfill_on_start()
        if policy is None:
            return None
        window_first = grid.window_start(interval, now_ms, self.window)
        if policy == "max":
            return window_first
        return max(window_first, open_time(interval, max(0, now_ms - int(policy))))

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
        wanted = [m for m in (markets if markets is not None else self.history.markets()) if not self._skip(m)]
        if self.settings.confirm_delay > 0:
            # A hole must still be there a moment later: candles just fetched by the live source
            # may be on their way through the buffer.
            candidates = []
            for market in wanted:
                try:
                    found, holes = await self._holes(market, startup=startup, grace=grace, record=False, tail=tail)
                except Exception as exc:  # a sink hiccup must not end the engine: the next check retries
                    log.warning("%s: checking %s %s failed: %s", self.name, *market, exc)
                    continue
                if holes or found.lost:
                    candidates.append(market)
            if not candidates:
                return 0
            await self.clock.sleep(self.settings.confirm_delay)
            wanted = candidates
        queued = 0
        for coin, interval in wanted:
            try:
                found_jobs = await self.check_market(
                    coin, interval, reason=reason, startup=startup, grace=grace, tail=tail
                )
                queued += len(found_jobs)
            except Exception as exc:  # a sink hiccup must not end the engine: the next check retries
                log.warning("%s: checking %s %s failed: %s", self.name, coin, interval, exc)
        return queued

    def suspect(self, markets: Iterable[Market], at_ms: int) -> None:
        """The live feed broke at ``at_ms``: refetch the candles of ``markets`` open around then."""
        for coin, interval in markets:
            t = open_time(interval, at_ms)
            self._suspects.setdefault((coin, interval), set()).update((grid.prev_open(interval, t), t))

    def _skip(self, market: Market) -> bool:
        if self.off_grid(*market):
            log.debug("%s: %s %s not checked: its candles are off candlewick's grid", self.name, *market)
            return True
        return False

    def _with_suspects(self, market: Market, holes: list[Span], first: int, last: int) -> list[Span]:
        interval = market[1]
        doubtful = [(t, t) for t in self._suspects.get(market, ()) if first <= t <= last]
        return normalize(interval, [*holes, *doubtful]) if doubtful else holes

    async def _holes(
        self, market: Market, *, startup: bool, grace: float | None, record: bool, tail: int | None = None
    ) -> tuple[Assessment, list[Span]]:
        """Assess one market: its holes (with suspects, without spans already queued).

        ``tail`` (ms) limits the look to candles from the one open then on (outage checks).
        """
        coin, interval = market
        now = self.now_ms()
        if startup:
            since = self.start_since(interval, now)
            if since is not None:
                self._since[market] = since
        since = self._since.get(market)
        if startup and self.history.fetches_start_history():
            since = None  # the live source is fetching it right now; later checks make sure it did
        if since is not None:
            since = max(since, grid.window_start(interval, now, self.window))
        first = self.ledger.check_start(interval, now)
        if tail is not None:
            first = since = max(grid.window_start(interval, now, self.window), grid.prev_open(interval, tail))
        present = await self.stored.open_times(coin, interval, first, now)
        if startup and present and not self.history.fetches_start_history():
            # The newest stored candles were the live ones when the last run stopped: it may have
            # closed them before their last trades arrived. Check them again (unless the live
            # source refetches its recent history at start anyway).
            self._suspects.setdefault(market, set()).update(present[-2:])
        grace_ms = int((self.settings.grace if grace is None else grace) * 1000)
        found = self.ledger.assess(coin, interval, present, now, grace_ms=grace_ms, since=since, record=record)
        queued_spans = normalize(interval, ((j.start, j.end) for j in self.active_jobs() if j.market == market))
        holes = self._with_suspects(market, found.holes, found.window_first, found.last)
        return found, subtract(interval, holes, queued_spans)

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
        market = (coin, interval)
        if self._skip(market):
            return []
        found, holes = await self._holes(market, startup=startup, grace=grace, record=True, tail=tail)
        if found.lost:
            await self._report_lost(coin, interval, found.lost)
        elif self.ledger.forget_before(coin, interval, self.ledger.check_start(interval, self.now_ms())):
            await self._persist_market(coin, interval)
        now = self.now_ms()
        known = self._known.setdefault(market, [])
        new = [h for h in holes if not clip(known, *h)]
        if new:
            self._found.inc(len(new), coin=coin, interval=interval)
            count = span_count(interval, new)
            log.info("%s: %d holes (%d candles) in %s %s (%s)", self.name, len(new), count, coin, interval, reason)
            self.telemetry.publish(
                names.EV_GAP_FOUND, self.name, f"{coin} {interval}: {len(new)} holes, {count} candles missing",
                coin=coin, interval=interval, holes=[list(h) for h in new], candles=count, reason=reason,
            )  # fmt: skip
        self._known[market] = normalize(interval, [*known, *holes])
        if not holes:
            return []
        warn_ms = int(self.settings.horizon_warning * 1000)
        h = self.history
        jobs = []
        for req in plan_requests(
            interval, holes, base_weight=h.base_weight, items_per_weight=h.items_per_weight, page_size=h.page_size
        ):
            horizon = grid.horizon(interval, req.first, self.window)
            urgent = horizon - now <= warn_ms
            if urgent:
                self._warn_horizon(coin, interval, req.first, horizon, now)
            priority = URGENT if urgent else STARTUP
            expected = span_count(interval, req.holes)
            job = self._new_job("repair", coin, interval, req.first, req.last, priority=priority, horizon=horizon)
            job.expected = expected
            jobs.append(job)
        await self.submit(jobs)
        return jobs

    def _warn_horizon(self, coin: str, interval: str, first: int, horizon: int, now: int) -> None:
        key = (coin, interval, first)
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(
            "%s: hole in %s %s from %d leaves the exchange's window in %.0f s; repairing it first",
            self.name, coin, interval, first, max(0, horizon - now) / 1000,
        )  # fmt: skip

    async def _report_lost(self, coin: str, interval: str, lost: list[Span]) -> None:
        count = span_count(interval, lost)
        self._lost.inc(count, coin=coin, interval=interval)
        log.warning(
            "%s: %d candles of %s %s are lost for good: past the exchange's window before repair (%s)",
            self.name, count, coin, interval, ", ".join(f"{a}..{b}" for a, b in lost[:5]),
        )  # fmt: skip
        self.telemetry.publish(
            names.EV_GAP_LOST, self.name, f"{coin} {interval}: {count} candles lost (past the exchange's window)",
            coin=coin, interval=interval, spans=[list(s) for s in lost], candles=count,
        )  # fmt: skip
        await self._persist_market(coin, interval)

    # -- running jobs ------------------------------------------------------------------------

    def _next_runnable(self) -> tuple[Job | None, float | None]:
        """The job to run now, or how many seconds until one may start."""
        now = self.clock.time()
        queued = sorted((j for j in self.jobs.values() if j.state == "queued"), key=Job.sort_key)
        wait: float | None = None
        for job in queued:
            if job.not_before <= now:
                return job, None
            delay = job.not_before - now
            wait = delay if wait is None else min(wait, delay)
        return None, wait

    async def wait_sink(self) -> None:
        """Wait until the sink answers (it starts beside this component)."""
        while True:
            try:
                await self.stored.open_times("", "1m", 0, 0)
                return
            except SinkUnavailable:
                await self.clock.sleep(SINK_POLL)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run queued jobs one at a time, forever."""
        task_status.started()
        await self.wait_sink()
        while True:
            job, wait = self._next_runnable()
            if job is None:
                await self._wait_change(wait)
                continue
            await self._run(job)

    async def _wait_change(self, timeout: float | None) -> None:
        changed = self._changed
        if timeout is None:
            await changed.wait()
            return
        async with anyio.create_task_group() as tg:

            async def _timer() -> None:
                await self.clock.sleep(timeout)
                tg.cancel_scope.cancel()

            tg.start_soon(_timer)
            await changed.wait()
            tg.cancel_scope.cancel()

    def _outranked(self, job: Job) -> bool:
        now = self.clock.time()
        return any(
            j.state == "queued" and j.not_before <= now and j.priority < job.priority for j in self.jobs.values()
        )

    async def _run(self, job: Job) -> None:
        mono = self.clock.monotonic()
        job.state = "running"
        job.error = None
        job.started = job.started or self.clock.time()
        job.resume(mono)
        self._publish_job(job, f"job {job.id} running: {job.kind} {job.coin} {job.interval}")
        await self._persist([job])
        outcome = "failed"
        error: str | None = None
        with anyio.CancelScope() as scope:
            self._running = (job, scope)
            try:
                outcome = await self._execute(job)
            except NotCommitted as exc:
                error = str(exc)
            except SinkUnavailable as exc:
                outcome, error = "retry", str(exc)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if self.history.transient(exc) and job.attempts < self.settings.max_attempts:
                    outcome = "retry"
            finally:
                self._running = None
        if scope.cancelled_caught:
            outcome, error = "cancelled", None
        if outcome in ("preempted", "retry"):
            job.pause(self.clock.monotonic())
            job.state = "queued"
            why = "for a more urgent job"
            if outcome == "retry":
                delay = min(self.settings.retry_max, self.settings.retry_initial * 2**job.attempts)
                job.attempts += 1
                job.error = error
                job.not_before = self.clock.time() + delay
                why = f"for {delay:.0f}s after a failure that may pass ({error})"
                log.warning("%s: job %s (%s %s) paused %s", self.name, job.id, job.coin, job.interval, why)
            self._publish_job(job, f"job {job.id} paused {why}")
        else:
            if outcome == "failed":
                log.warning("%s: job %s (%s %s) failed: %s", self.name, job.id, job.coin, job.interval, error)
            self._finish(job, outcome, error)
        await self._persist([job])

    async def _execute(self, job: Job) -> str:
        coin, interval = job.market
        h = self.history
        await h.ready()
        now = self.now_ms()
        first = max(job.start, grid.window_start(interval, now, self.window))
        if first > job.end:
            return "done"
        if self.off_grid(coin, interval):
            return await self._store_span(job, first)
        present = await self.stored.open_times(coin, interval, first, job.end)
        cov = self.ledger.market(coin, interval)
        holes = self._with_suspects(job.market, find_holes(interval, present, first, job.end), first, job.end)
        holes = subtract(interval, holes, normalize(interval, [*cov.empty, *cov.lost]))
        waiting = normalize(interval, (s for s, due in cov.tentative if due > now))
        holes = subtract(interval, holes, waiting)
        job.expected = job.fetched + span_count(interval, holes)
        fetched: list[int] = []
        last_progress = self.clock.monotonic()
        counter = self._candles.labels(coin=coin, interval=interval)
        for req in plan_requests(
            interval, holes, base_weight=h.base_weight, items_per_weight=h.items_per_weight, page_size=h.page_size
        ):
            returned: list[int] = []
            log.debug("%s: job %s requests %s %s %d..%d", self.name, job.id, coin, interval, req.first, req.last)
            async with _closing(h.pages(coin, interval, req.first, req.last, priority=job.priority)) as pages:
                async for page in pages:
                    for candle in page:
                        returned.append(candle.open_time)
                        if candle.closed and _inside(candle.open_time, req.holes):
                            await self.emit(candle)
                            fetched.append(candle.open_time)
                            job.fetched += 1
                            counter.inc()
                    mono = self.clock.monotonic()
                    if mono - last_progress >= self.settings.progress_every:
                        last_progress = mono
                        self._publish_job(job, f"job {job.id}: {job.fetched}/{job.expected} candles")
            now = self.now_ms()
            doubtful = self._suspects.get(job.market)
            if doubtful:
                doubtful.difference_update([t for t in doubtful if req.first <= t <= req.last])
            if not self.off_grid(coin, interval):  # off the grid, "not returned" proves nothing
                for hole in req.holes:
                    returned_in = [t for t in returned if hole[0] <= t <= hole[1]]
                    self.ledger.record_fetch(coin, interval, hole, returned_in, now)
                await self._persist_market(coin, interval)
            if self._outranked(job):
                await self._verify(job, fetched)
                return "preempted"
        job.expected = max(job.expected, job.fetched)
        await self._verify(job, fetched)
        if job.kind == "repair" and not self.off_grid(coin, interval):
            self._mark_repaired(job)
        return "done"

    async def _store_span(self, job: Job, first: int) -> str:
        """A job of a market off the grid: store every closed candle the exchange has in the span.

        Holes cannot be told from candles the grid misplaces, so the ledger is left alone.
        """
        coin, interval = job.market
        fetched: list[int] = []
        counter = self._candles.labels(coin=coin, interval=interval)
        async with _closing(self.history.pages(coin, interval, first, job.end, priority=job.priority)) as pages:
            async for page in pages:
                for candle in page:
                    if candle.closed:
                        await self.emit(candle)
                        fetched.append(candle.open_time)
                        job.fetched += 1
                        counter.inc()
        job.expected = max(job.expected, job.fetched)
        await self._verify(job, fetched)
        return "done"

    async def _verify(self, job: Job, times: list[int]) -> None:
        """Wait until the sink shows ``times`` committed; raise :class:`NotCommitted` after the timeout."""
        if not times:
            return
        coin, interval = job.market
        want = set(times)
        lo, hi = min(want), max(want)
        deadline = self.clock.monotonic() + self.settings.verify_timeout
        while True:
            stored = set(await self.stored.open_times(coin, interval, lo, hi))
            missing = want - stored
            if not missing:
                return
            if self.clock.monotonic() >= deadline:
                raise NotCommitted(
                    f"{len(missing)} of {len(want)} fetched candles not committed by the sink within "
                    f"{self.settings.verify_timeout:g}s; the next check repairs what is still missing"
                )
            await self.clock.sleep(self.settings.verify_poll)

    def _mark_repaired(self, job: Job) -> None:
        coin, interval = job.market
        market = job.market
        known = self._known.get(market, [])
        hit = clip(known, job.start, job.end)
        if not hit:
            return
        self._known[market] = subtract(interval, known, [(job.start, job.end)])
        self._repaired.inc(len(hit), coin=coin, interval=interval)
        count = span_count(interval, hit)
        log.info("%s: repaired %d holes (%d candles) in %s %s", self.name, len(hit), count, coin, interval)
        self.telemetry.publish(
            names.EV_GAP_REPAIRED, self.name, f"{coin} {interval}: {len(hit)} holes repaired, {job.fetched} candles",
            coin=coin, interval=interval, holes=[list(s) for s in hit], candles=job.fetched, job=job.id,
        )  # fmt: skip


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
