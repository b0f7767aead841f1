"""The gap repair component: checks stored coverage and runs backfill jobs inside the daemon.

It is a ``source``-kind component: fetched candles go out through ``ctx.candles`` like any
source's, so they take the one path buffer -> sink, and at shutdown it stops with the
sources, before the buffer drains. A source plugin that can fetch history registers a source
spec whose factory builds :class:`GapRepair` around its :class:`~candlewick.gaps.history.History`,
and names it in its source's ``ComponentSpec(companions=...)``; the daemon builds it beside the
source (:mod:`candlewick.runtime.builder`) with the options of ``[sources.<companion>]`` if that
table exists, else the defaults.

When it checks (each check reads the sink's open times over the exchange's window):

- at start, ``startup_delay`` after the sink answers. The span ``backfill_on_start`` of the
  live source asks for is part of every later check; the start-up check leaves it to the live
  source when that fetches it itself on its first connect (Hyperliquid's does);
- ``reconnect_settle`` seconds after every ``EV_CONNECTED`` of its live source;
- every ``outage_check_every`` seconds while that source is disconnected (``EV_DISCONNECTED``
  until ``EV_CONNECTED``): candles keep closing while the websocket is down, and REST often
  still works, so they are fetched as soon as the exchange serves them (``outage_grace``);
- every ``check_every`` seconds, and when a recent empty span falls due for its re-check.

On ``EV_DISCONNECTED`` the candles that were open at that moment become *suspect*: the live
source may close them on its clock with only part of their trades, so they are fetched again
over REST although they are stored. The same goes, at start, for the two newest stored
candles of each market (the previous run may have stopped before their last trades came).

It implements :class:`~candlewick.plugin.SupportsBackfill` for the control socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.gaps.engine import GapEngine
from candlewick.gaps.history import History
from candlewick.gaps.jobs import JobState
from candlewick.gaps.settings import GapRepairConfig
from candlewick.gaps.store import FILENAME, adopt_legacy, state_filename
from candlewick.plugin import ComponentContext, Sink, Source
from candlewick.runtime import names
from candlewick.runtime.clock import wait_event
from candlewick.runtime.telemetry import Event
from candlewick.runtime.writable import sqlite_files

__all__ = ["GapRepair", "GapRepairConfig"]

#: Recent events searched at start for the live source's latest connect or disconnect.
EVENT_LOOKBACK = 1000


class GapRepair(Source):
    """Runs the gap engine: periodic and event-driven checks plus the job runner."""

    def __init__(self, ctx: ComponentContext[GapRepairConfig], history: History) -> None:
        super().__init__(ctx)
        self.config = ctx.config
        self.history = history
        self.engine: GapEngine | None = None
        self._check_due: float | None = None
        #: When the live source's current outage began (ms; from EV_DISCONNECTED until
        #: EV_CONNECTED), ``None`` while it is connected or outage checks are off.
        self._outage_since: int | None = None
        self._wake: anyio.Event | None = None

    def describe(self) -> dict[str, Any]:
        engine = self.engine
        if engine is None:
            return {"source": self.history.source}
        active = engine.active_jobs()
        return {
            "source": self.history.source,
            "jobs_queued": sum(1 for j in active if j.state is JobState.QUEUED),
            "jobs_running": sum(1 for j in active if j.state is JobState.RUNNING),
            "permanent_losses": engine.lost_total(),
        }

    def _engine(self) -> GapEngine:
        if self.engine is None:
            raise ValueError(f"{self.name} is not running; start it (or the daemon) and try again")
        return self.engine

    # -- SupportsBackfill --------------------------------------------------------------------

    async def backfill_start(self, coin: str, intervals: Sequence[str], days: int | None) -> list[dict[str, Any]]:
        engine = self._engine()
        jobs = await engine.backfill(coin, intervals, days)
        now = self.ctx.clock.monotonic()
        return [j.to_dict(now) for j in jobs]

    def backfill_list(self) -> list[dict[str, Any]]:
        return self.engine.job_list() if self.engine is not None else []

    async def backfill_cancel(self, job_id: str) -> dict[str, Any]:
        job = await self._engine().cancel(job_id)
        return job.to_dict(self.ctx.clock.monotonic())

    # -- running -----------------------------------------------------------------------------

    def state_path(self, sink: Sink) -> Path:
        """``state_file``, or this sink's own ledger."""
        name = self.config.state_file or state_filename(sink.state_key())
        return self.ctx.data_dir / name

    def writes(self) -> list[Path]:
        files = sqlite_files(self.state_path(self._sink()))
        return files if self.config.state_file else [*files, *sqlite_files(self.ctx.data_dir / FILENAME)]

    def _sink(self) -> Sink:
        sink = self.ctx.component(self.ctx.settings.sink.use)
        if not isinstance(sink, Sink):
            raise TypeError(f"component {self.ctx.settings.sink.use!r} is not a sink")
        return sink

    def _adopt_legacy_state(self, sink: Sink) -> Path:
        """The state path, with an earlier version's shared ``backfill.sqlite`` moved to it."""
        path = self.state_path(sink)
        if self.config.state_file is None and adopt_legacy(self.ctx.data_dir / FILENAME, path):
            self.ctx.log.warning("moved %s of an earlier candlewick to %s (%s ledger)", FILENAME, path, sink.name)
        return path

    def build_engine(self) -> GapEngine:
        ctx = self.ctx
        sink = self._sink()
        return GapEngine(
            name=self.name,
            history=self.history,
            stored=sink,
            emit=ctx.candles.send,
            clock=self.history.exchange_clock,
            telemetry=ctx.telemetry,
            state_path=self._adopt_legacy_state(sink),
            settings=self.config,
        )

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        engine = self.build_engine()
        await engine.open()
        self._wake = anyio.Event()
        try:
            self.engine = engine
            async with anyio.create_task_group() as tg:
                await tg.start(engine.run)
                if self.config.detect:
                    tg.start_soon(self._listen)
                    tg.start_soon(self._checker)
                task_status.started()
        finally:
            self.engine = None
            if not self.config.keep_pending:
                engine.cancel_pending("stopped before it finished")
            await engine.close()
            with anyio.CancelScope(shield=True):
                await self.history.aclose()

    def _schedule(self, delay: float) -> None:
        due = self.ctx.clock.monotonic() + delay
        if self._check_due is None or due < self._check_due:
            self._check_due = due
            if self._wake is not None:
                self._wake.set()

    async def _listen(self) -> None:
        """Follow the live source: check after every (re)connect, and keep checking while it is down."""
        events = self.ctx.telemetry.events
        with events.subscribe() as sub:
            # The source may have spoken before this component listened (a first connect that
            # failed at once): its latest connect or disconnect sets where we start.
            kinds = (names.EV_CONNECTED, names.EV_DISCONNECTED)
            told = [e for e in events.recent(EVENT_LOOKBACK) if e.source == self.history.source and e.kind in kinds]
            if told:
                self._follow(told[-1])
            async for event in sub:
                if event.source == self.history.source:
                    self._follow(event)

    def _follow(self, event: Event) -> None:
        if event.kind == names.EV_CONNECTED:
            self._outage_since = None
            self._schedule(self.config.reconnect_settle)
        elif event.kind == names.EV_DISCONNECTED:
            # On the exchange's clock (the source says when); the event's own time is the local clock's.
            at = event.data.get("exchange_time")
            at_ms = at if isinstance(at, int) else int(event.time * 1000)
            if self.engine is not None:
                self.engine.suspect(self.history.markets(), at_ms)
            if self.config.outage_check_every > 0:
                if self._outage_since is None:
                    self._outage_since = at_ms
                self._schedule(self.config.outage_check_every)

    async def _checker(self) -> None:
        engine = self.engine
        assert engine is not None
        clock = self.ctx.clock
        await engine.wait_sink()
        await self.history.ready()
        await clock.sleep(self.config.startup_delay)
        await engine.check_all("start", startup=True)
        # The start-up check stands for any (re)connect check asked for meanwhile (one now would
        # request the history the live source is still fetching), but an outage that began
        # meanwhile is followed from here on.
        self._check_due = None
        self._schedule(self.config.check_every if self._outage_since is None else self.config.outage_check_every)
        while True:
            now = clock.monotonic()
            recheck = engine.ledger.next_recheck()
            due = self._check_due if self._check_due is not None else now + self.config.check_every
            if recheck is not None:  # due on the exchange's clock, as the ledger keeps it
                due = min(due, now + max(0.0, (recheck - engine.now_ms()) / 1000) + 0.001)
            if due > now:
                await self._sleep_or_wake(due - now)
                continue
            self._check_due = None
            if self._outage_since is not None:
                await engine.check_all("outage", grace=self.config.outage_grace, tail=self._outage_since)
                self._schedule(self.config.outage_check_every)
            else:
                await engine.check_all("reconnect or periodic")
            if self._check_due is None:
                self._check_due = clock.monotonic() + self.config.check_every

    async def _sleep_or_wake(self, seconds: float) -> None:
        wake = self._wake = anyio.Event()
        await wait_event(self.ctx.clock, wake, seconds)
