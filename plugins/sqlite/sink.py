"""The embedded SQLite sink: WAL mode, one writer connection, every call off the event loop.

Writes run on a worker thread through a capacity limiter of one, so there is one writer at a
time on one connection; reads go through :class:`~candlewick.plugins.sqlite.reader.SqliteReader`,
a read-only connection of its own (WAL lets it run beside a write, and while the writer is down).
A batch that cannot be written now (the file is locked by another process past
``busy_timeout``, the disk is full, an I/O error) raises :class:`SinkUnavailable` and the
buffer spools it; an I/O error also makes :meth:`run` reopen the database with backoff.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import ComponentContext, Sink
from candlewick.plugins._storage.rows import Row, rows_of
from candlewick.plugins._storage.stats import SinkStats
from candlewick.plugins.sqlite import schema
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff
from candlewick.runtime.writable import sqlite_files

__all__ = ["SqliteSink"]

#: SQLite error messages meaning "try again later", not "the file is broken".
_TRANSIENT = ("locked", "busy", "full")


class SqliteSink(Sink):
    """Stores candles in one SQLite file."""

    def __init__(self, ctx: ComponentContext[SqliteConfig]) -> None:
        super().__init__(ctx)
        self.config = ctx.config
        self.path: Path = ctx.config.resolved_path()
        self.stats = SinkStats(ctx.telemetry, ctx.name)
        self._writer: sqlite3.Connection | None = None
        self._reads = SqliteReader(self.path, busy_timeout=ctx.config.busy_timeout, name=ctx.name)
        self._write_limiter: anyio.CapacityLimiter | None = None
        self._broken: anyio.Event | None = None

    def describe(self) -> dict[str, object]:
        return {"database": str(self.path), "connected": self._writer is not None}

    def target(self) -> str:
        return str(self.path)

    def writes(self) -> list[Path]:
        return sqlite_files(self.path)

    # -- lifecycle ---------------------------------------------------------------------------

    def reader(self) -> SqliteReader:
        return self._reads

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await self._run(task_status)
        finally:
            await self._reads.aclose()

    async def _run(self, task_status: TaskStatus[None]) -> None:
        self._write_limiter = anyio.CapacityLimiter(1)
        backoff = Backoff(maximum=self.config.reconnect_max, floor=0.5)
        started = False
        while True:
            try:
                applied = await anyio.to_thread.run_sync(self._open, limiter=self._write_limiter)
            except (sqlite3.Error, OSError) as exc:
                delay = backoff.next()
                level = logging.WARNING if backoff.attempt % 10 == 1 else logging.DEBUG  # not every attempt
                self.ctx.log.log(
                    level, "cannot open %s (attempt %d): %s; retrying in %.1fs", self.path, backoff.attempt, exc, delay
                )
                await self.ctx.clock.sleep(delay)
                continue
            backoff.reset()
            if applied:
                self.ctx.log.info("%s migrated to schema version %d", self.path, applied[-1])
            self._broken = anyio.Event()
            self.ctx.telemetry.publish(names.EV_CONNECTED, self.name, f"{self.name}: {self.path} open")
            if not started:
                task_status.started()
                started = True
            try:
                await self._broken.wait()
                self.ctx.telemetry.publish(
                    names.EV_DISCONNECTED, self.name, f"{self.name}: {self.path} failed; reopening"
                )
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._close_writer, limiter=self._write_limiter)

    def _open(self) -> list[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            schema.prepare(writer, busy_timeout=self.config.busy_timeout, synchronous=self.config.synchronous)
            now_ms = int(self.ctx.clock.time() * 1000)
            applied = schema.migrate(writer, now_ms=now_ms, database=f"SQLite database {self.path}")
        except BaseException:
            writer.close()
            raise
        self._writer = writer
        return applied

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- Sink --------------------------------------------------------------------------------

    async def write(self, batch: Sequence[Candle]) -> None:
        if not batch:
            return
        if self._writer is None or self._write_limiter is None:
            raise SinkUnavailable(f"{self.name}: {self.path} is not open", hint="the batch is kept and retried")
        rows = rows_of(batch)
        start = self.ctx.clock.monotonic()
        now_ms = int(self.ctx.clock.time() * 1000)
        try:
            await anyio.to_thread.run_sync(self._write_sync, rows, now_ms, limiter=self._write_limiter)
        except sqlite3.Error as exc:
            self.stats.failed()
            transient = any(word in str(exc).lower() for word in _TRANSIENT)
            if not transient and self._broken is not None:
                self._broken.set()
            raise SinkUnavailable(
                f"{self.name}: writing to {self.path} failed: {exc}", hint="the batch is kept and retried"
            ) from exc
        self.stats.written(len(rows), self.ctx.clock.monotonic() - start)
        self.stats.committed(batch)

    def _write_sync(self, rows: list[Row], now_ms: int) -> None:
        conn = self._writer
        if conn is None:
            raise sqlite3.OperationalError("database closed")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(schema.UPSERT, [(*r, now_ms) for r in rows])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
