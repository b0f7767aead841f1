"""The coalescing memory buffer with its durable spool.

Data flow::

    inbox ──▶ collector ──▶ Coalescer (one version per candle) ──▶ writer ──▶ sink.write
                 │ memory full while the sink is busy                 │ refused / slow
                 └──────────────────────────▶ spool on disk ◀─────────┘
                                                  └── replayed, oldest first, once the sink takes writes

The collector reads the inbox and keeps the newest version of each candle. The writer
flushes every ``flush_interval``, as soon as ``max_batch`` candles are held, or
``close_delay`` after a candle closed. While the spool holds anything, new batches queue
behind it so batches reach the sink in the order they were taken. When memory is full and
the sink is busy, the collector spills to the spool; when the spool is full too, the
collector stops reading and the bounded inbox slows the sources. Nothing is dropped: a batch
the sink keeps rejecting as invalid is set aside in ``<spool>/rejected/`` and reported.

Each write attempt, its retry schedule and what the sink refuses for good are
:class:`~candlewick.plugins.memory_buffer.delivery.SinkDelivery`'s; this module decides when
and what to write, and what to spill.

Logging: WARNING when the sink starts refusing writes, when the spool fills up and for damaged
spool records; INFO when the sink is back and the spool is drained; nothing per candle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.errors import ConfigError
from candlewick.model import Candle
from candlewick.plugin import Buffer, ComponentContext, Sink
from candlewick.plugins.memory_buffer.coalescer import Coalescer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.memory_buffer.delivery import STARTUP_GRACE, Outcome, SinkDelivery
from candlewick.plugins.memory_buffer.spool import Spool, SpoolFull, spool_files, spool_holder, stranded
from candlewick.runtime import names
from candlewick.runtime.clock import wait_event

__all__ = ["BURST", "STARTUP_GRACE", "MemoryBuffer"]

#: Candles the collector takes from the inbox in one go before letting other tasks run.
BURST = 1000


class MemoryBuffer(Buffer):
    """Coalesces candle updates in memory and writes them in batches; spools what the sink cannot take."""

    def __init__(self, ctx: ComponentContext[MemoryBufferConfig]) -> None:
        super().__init__(ctx)
        self.config = ctx.config
        self._pending = Coalescer()
        self._inflight = 0
        self._spool: Spool | None = None
        self._wake: anyio.Event | None = None
        self._space: anyio.Event | None = None
        self._inbox_done = False
        self._spool_full = False
        self._delivery = SinkDelivery(ctx, keep=self._keep, where=self.spool_dir)
        m = ctx.telemetry.metrics
        self._coalesced = m.counter(names.COALESCED, "Updates collapsed into a newer version").labels()
        m.gauge(names.BUFFER_DEPTH, "Candles held in memory").set_function(lambda: float(self.depth()))
        m.gauge(names.BUFFER_CAPACITY, "Candles held before spilling or backpressure").set(
            float(self.config.max_pending)
        )
        m.gauge(names.SPOOL_BATCHES, "Batches waiting in the spool").set_function(
            lambda: float(self._spool.batches if self._spool else 0)
        )
        m.gauge(names.SPOOL_BYTES, "Bytes of the spool on disk").set_function(
            lambda: float(self._spool.nbytes if self._spool else 0)
        )
        m.gauge(names.SPOOL_OLDEST_AGE, "Age of the oldest spooled batch").set_function(self._oldest_age)

    # -- views -------------------------------------------------------------------------------

    def depth(self) -> int:
        return len(self._pending) + self._inflight

    def describe(self) -> dict[str, Any]:
        spool = self._spool
        return {
            "pending": self.depth(),
            "capacity": self.config.max_pending,
            "spool_batches": spool.batches if spool else 0,
            "spool_bytes": spool.nbytes if spool else 0,
            "sink_available": not self._delivery.sink_down,
        }

    def _oldest_age(self) -> float:
        oldest = self._spool.oldest_ms() if self._spool else None
        return 0.0 if oldest is None else max(0.0, self.ctx.clock.time() - oldest / 1000)

    def spool_dir(self) -> Path:
        """``[spool] dir``, or ``<data_dir>/spool/<sink>-<digest of its target>``: one per sink."""
        configured = self.ctx.settings.spool.dir
        return configured if configured is not None else self.ctx.data_dir / "spool" / self._find_sink().state_key()

    def writes(self) -> list[Path]:
        return [self.spool_dir(), *spool_files(self.spool_dir())]

    def held_elsewhere(self) -> str | None:
        pid = spool_holder(self.spool_dir())
        if pid is None:
            return None
        return f"{'pid ' + str(pid) if pid else 'another process'} holds the spool {self.spool_dir()}"

    # -- run ---------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        sink = self._find_sink()
        self._delivery.started_at = self.ctx.clock.monotonic()
        self._wake, self._space = anyio.Event(), anyio.Event()
        cfg = self.ctx.settings.spool
        spool = Spool(
            self.spool_dir(),
            max_bytes=cfg.max_bytes,
            fsync=cfg.fsync,
            fsync_interval=cfg.fsync_interval,
            sink=f"{sink.name} {sink.target()}",
            legacy=None if cfg.dir is not None else self.ctx.data_dir / "spool",
        )
        problems = await spool.open(self.ctx.clock.monotonic)
        if cfg.dir is None:
            for line in stranded(self.ctx.data_dir / "spool", spool.directory):
                self.ctx.log.warning("%s", line)
        for problem in problems:
            self.ctx.log.warning("spool: %s", problem)
            self.ctx.telemetry.publish(names.EV_SPOOL, self.name, f"spool: {problem}", problem="corrupt")
        if spool.batches:
            self.ctx.log.info(
                "spool %s holds %d batches (%d bytes) from an earlier run; replaying them",
                spool.directory, spool.batches, spool.nbytes,
            )  # fmt: skip
        self._spool = spool
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._collect)
                task_status.started()
                await self._write_loop(sink, spool)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._save_pending(spool)
                await spool.close()
            self._spool = None

    def _find_sink(self) -> Sink:
        name = self.ctx.settings.sink.use
        component = self.ctx.component(name)
        if not isinstance(component, Sink):
            raise ConfigError(f"sink.use: {name!r} is a {component.kind}, not a sink")
        return component

    # -- collector ---------------------------------------------------------------------------

    async def _collect(self) -> None:
        inbox = self.ctx.inbox
        if inbox is None:
            raise RuntimeError(f"{self.name}: the runtime gave this buffer no inbox")
        pending, limit = self._pending, self.config.max_pending
        while True:
            if len(pending) >= limit:
                await self._make_room()
                continue
            try:
                burst = [await inbox.receive()]
            except anyio.EndOfStream:
                self._inbox_done = True
                self._wake_writer()
                return
            # Take what is queued without a round trip through the loop, then hold it in one go.
            room = min(BURST, limit - len(pending) - 1)
            try:
                while len(burst) <= room:
                    burst.append(inbox.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                pass  # the end of the inbox is seen by the next receive()
            self._hold(burst)

    def _hold(self, candles: list[Candle]) -> None:
        pending = self._pending
        was_empty, closed = not pending, pending.closed
        add, now = pending.add, self.ctx.clock.monotonic()
        coalesced = 0
        for candle in candles:
            if add(candle, now):
                coalesced += 1
        if coalesced:
            self._coalesced.inc(coalesced)
        if was_empty or pending.closed > closed or len(pending) >= self.config.max_batch:
            self._wake_writer()

    def _wake_writer(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _make_room(self) -> None:
        """Memory is full: spill to the spool while the writer is busy, else wait for it."""
        spool = self._spool
        self._wake_writer()
        if self._delivery.writing and spool is not None and not self._spool_full:
            batch = self._pending.take(len(self._pending))
            self._inflight += len(batch)
            try:
                if await self._append(spool, batch):
                    return
                for candle in batch:  # the spool is full: keep them here, slow the sources
                    self._pending.add(candle, self.ctx.clock.monotonic())
            finally:
                self._inflight -= len(batch)
        self._space = space = anyio.Event()
        await space.wait()

    # -- writer ------------------------------------------------------------------------------

    async def _write_loop(self, sink: Sink, spool: Spool) -> None:
        clock = self.ctx.clock
        while True:
            self._wake = anyio.Event()
            now = clock.monotonic()
            if self._flush_due(now):
                await self._flush(sink, spool)
                continue
            if spool.batches and now >= self._delivery.retry_at:
                await self._delivery.replay_one(sink, spool)
                continue
            if self._inbox_done and not self._pending:
                return
            if (due := spool.sync_due_in(now)) is not None and due <= 0:
                await spool.sync(now)
                continue
            await self._sleep(self._next_deadline(now, spool))

    def _flush_due(self, now: float, *, by_size: bool = True) -> bool:
        p, cfg = self._pending, self.config
        if not p:
            return False
        if self._inbox_done or (by_size and len(p) >= cfg.max_batch):
            return True
        if p.since is not None and now - p.since >= cfg.flush_interval:
            return True
        return p.closed_since is not None and now - p.closed_since >= cfg.close_delay

    def _next_deadline(self, now: float, spool: Spool) -> float | None:
        p, cfg = self._pending, self.config
        times = []
        if p.since is not None:
            times.append(p.since + cfg.flush_interval - now)
        if p.closed_since is not None:
            times.append(p.closed_since + cfg.close_delay - now)
        if spool.batches:
            times.append(self._delivery.retry_at - now)
        if (due := spool.sync_due_in(now)) is not None:
            times.append(due)
        return max(0.0, min(times)) if times else None

    async def _sleep(self, seconds: float | None) -> None:
        """Wait for the collector's wake-up call, or ``seconds`` of clock time."""
        wake = self._wake
        assert wake is not None
        await wait_event(self.ctx.clock, wake, seconds)

    async def _flush(self, sink: Sink, spool: Spool) -> None:
        """Write what is held now in batches of ``max_batch``; only full batches when the
        flush was triggered by size alone (the rest keeps coalescing until its time)."""
        size = self.config.max_batch
        everything = self._flush_due(self.ctx.clock.monotonic(), by_size=False)
        left = len(self._pending)  # what arrives meanwhile waits for the next round
        while left > 0 and (everything or len(self._pending) >= size):
            batch = self._pending.take(min(left, size) if everything else size)
            left -= len(batch)
            self._inflight += len(batch)
            if self._space is not None:
                self._space.set()
            try:
                await self._deliver(batch, sink, spool)
            finally:
                self._inflight -= len(batch)

    async def _deliver(self, batch: list[Candle], sink: Sink, spool: Spool) -> None:
        """Write ``batch`` now if nothing is queued before it, else (or if refused) spool it."""
        if (
            not spool.batches
            and self.ctx.clock.monotonic() >= self._delivery.retry_at
            and await self._delivery.write(sink, batch, spooled=False) is Outcome.WRITTEN
        ):
            return
        while not await self._append(spool, batch):
            # Spool full: wait until the sink takes the oldest batches (or this one) again.
            now = self.ctx.clock.monotonic()
            if now >= self._delivery.retry_at:
                if spool.batches:
                    await self._delivery.replay_one(sink, spool)
                elif await self._delivery.write(sink, batch, spooled=False) is Outcome.WRITTEN:
                    return
                continue
            await self.ctx.clock.sleep(self._delivery.retry_at - now)

    async def _keep(self, batch: Sequence[Candle]) -> None:
        """Spool a batch a write was carrying when the buffer was stopped."""
        if self._spool is not None:
            await self._append(self._spool, batch)

    async def _append(self, spool: Spool, batch: Sequence[Candle]) -> bool:
        """Spool ``batch``; False when the spool cannot take it (full or failing disk)."""
        try:
            await spool.append(batch, created_ms=int(self.ctx.clock.time() * 1000), now=self.ctx.clock.monotonic())
        except (SpoolFull, OSError) as exc:
            if not self._spool_full:
                self._spool_full = True
                self.ctx.log.warning(
                    "cannot spool: %s; holding %d candles in memory and slowing the sources", exc, self.depth()
                )
                self.ctx.telemetry.publish(names.EV_SPOOL, self.name, f"spool full: {exc}", problem="full")
            return False
        if self._spool_full:
            self._spool_full = False
            self.ctx.telemetry.publish(names.EV_SPOOL, self.name, "spool accepts batches again", problem="none")
        if spool.batches == 1:
            self.ctx.telemetry.publish(
                names.EV_SPOOL, self.name, f"spooling batches to {spool.directory}", state="spooling"
            )
        return True

    async def _save_pending(self, spool: Spool) -> None:
        """Stopped early (cancelled or crashed): put what is held in memory on disk."""
        if not self._pending:
            return
        batch = self._pending.take(len(self._pending))
        if not await self._append(spool, batch):
            for candle in batch:  # kept for the next run() of this component
                self._pending.add(candle, self.ctx.clock.monotonic())
            self.ctx.log.error("%d candles could not be spooled and are held in memory only", len(batch))
