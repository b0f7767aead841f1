"""The TimescaleDB/PostgreSQL sink (asyncpg; asyncio only).

:meth:`TimescaleSink.run` keeps a small connection pool healthy: it connects, applies the
migrations, makes ``candles`` a hypertable where the ``timescaledb`` extension exists, and
when a write finds the server gone it closes the pool and reconnects with backoff. While
it is away, :meth:`TimescaleSink.write` raises :class:`SinkUnavailable` at once and the
buffer spools; a batch that meets a single dead connection (a terminated backend) is retried
once on a fresh one before that.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

import anyio
import asyncpg
from anyio.abc import TaskStatus

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import ComponentContext, Sink
from candlewick.plugins._storage.rows import rows_of
from candlewick.plugins._storage.stats import SinkStats
from candlewick.plugins.timescaledb import schema, write_paths
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.reading import CandleReader
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff

__all__ = ["BAD_DATA", "CONNECTION_ERRORS", "TimescaleSink", "dsn_for_log", "why"]

#: Errors that mean "the server is not reachable now", not "this batch is bad".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # the client's protocol state broke (a pooled connection the server terminated while idle)
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, terminated backend, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, too many connections
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
)


#: Errors that blame the batch itself (SQLSTATE classes 22 and 23), not the server.
BAD_DATA: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
)


#: Query parameters of a DSN that carry secrets (libpq's names).
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def dsn_for_log(dsn: str) -> str:
    """The DSN without its secrets (a password in the user part or in the query), for logs and state files."""
    base, q, query = dsn.partition("?")
    head, sep, tail = base.rpartition("@")
    if sep:
        scheme, _, userinfo = head.partition("://")
        base = f"{scheme}://{userinfo.split(':', 1)[0]}@{tail}"
    if not q:
        return base
    kept = [p for p in query.split("&") if p.split("=", 1)[0].lower() not in _SECRET_PARAMS]
    return f"{base}?{'&'.join(kept)}" if kept else base


class TimescaleSink(Sink):
    """Stores candles in PostgreSQL, as a TimescaleDB hypertable where the extension exists."""

    def __init__(self, ctx: ComponentContext[TimescaleConfig]) -> None:
        super().__init__(ctx)
        self.config = ctx.config
        self.stats = SinkStats(ctx.telemetry, ctx.name)
        self.where = dsn_for_log(self.config.dsn)
        self.hypertable: bool | None = None
        self._pool: asyncpg.Pool | None = None
        self._lost: anyio.Event | None = None
        self._said_tables = False
        self._reads: CandleReader | None = None

    def describe(self) -> dict[str, object]:
        return {"database": self.where, "connected": self._pool is not None, "hypertable": self.hypertable}

    def target(self) -> str:
        return self.where

    def config_warnings(self, intervals: Collection[str]) -> list[str]:
        warning = self.config.compression_warning(intervals)
        return [warning] if warning else []

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await self._run(task_status)
        finally:
            if self._reads is not None:
                await self._reads.aclose()

    async def _run(self, task_status: TaskStatus[None]) -> None:
        backoff = Backoff(maximum=self.config.reconnect_max, floor=0.5)
        started = False
        while True:
            try:
                pool = await self._connect()
            except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:  # SchemaTooNew is not one: it ends run()
                delay = backoff.next()
                level = logging.WARNING if backoff.attempt % 10 == 1 else logging.DEBUG  # not every attempt
                self.ctx.log.log(
                    level, "cannot reach %s (attempt %d): %s; retrying in %.1fs",
                    self.where, backoff.attempt, why(exc), delay,
                )  # fmt: skip
                await self.ctx.clock.sleep(delay)
                continue
            backoff.reset()
            self._lost = anyio.Event()
            self._pool = pool
            self.ctx.log.info("connected to %s", self.where)
            self.ctx.telemetry.publish(names.EV_CONNECTED, self.name, f"{self.name}: connected to {self.where}")
            if not started:
                task_status.started()
                started = True
            try:
                await self._lost.wait()
                self.ctx.log.warning("lost the connection to %s; reconnecting", self.where)
                self.ctx.telemetry.publish(
                    names.EV_DISCONNECTED, self.name, f"{self.name}: lost {self.where}; reconnecting"
                )
            finally:
                self._pool = None
                with anyio.move_on_after(5, shield=True):
                    await pool.close()
                pool.terminate()

    async def _connect(self) -> asyncpg.Pool:
        cfg = self.config
        pool = await asyncpg.create_pool(
            cfg.dsn,
            password=cfg.password.get_secret_value() if cfg.password else None,
            min_size=min(cfg.pool_min_size, cfg.pool_max_size),
            max_size=cfg.pool_max_size,
            timeout=cfg.connect_timeout,
            command_timeout=cfg.command_timeout,
            max_inactive_connection_lifetime=300.0,
            server_settings={"application_name": f"candlewick:{self.name}"},
            init=write_paths.create_staging,
        )
        try:
            async with pool.acquire(timeout=cfg.connect_timeout) as conn:
                applied = await schema.migrate(conn, database=f"PostgreSQL database {self.where}")
                if applied:
                    self.ctx.log.info("%s migrated to schema version %d", self.where, applied[-1])
                await self._ensure_timescale(conn)
        except BaseException:
            pool.terminate()
            raise
        return pool

    async def _ensure_timescale(self, conn: Any) -> None:
        if not await schema.timescale_available(conn):
            self.hypertable = False
            if not self._said_tables:
                self._said_tables = True
                self.ctx.log.info(
                    "the timescaledb extension is not installed on %s; using plain PostgreSQL tables", self.where
                )
            return
        if await schema.timescale_preloaded(conn) is False:
            self.hypertable = False
            if not self._said_tables:
                self._said_tables = True
                self.ctx.log.warning(
                    "the timescaledb extension is installed on %s but not in shared_preload_libraries; candles "
                    "go into a plain PostgreSQL table. To use TimescaleDB, add timescaledb to "
                    "shared_preload_libraries in postgresql.conf and restart the server", self.where,
                )  # fmt: skip
            return
        cfg = self.config
        statements = schema.timescale_statements(
            chunk_time_interval=cfg.chunk_time_interval, compress_after=cfg.compress_after, retention=cfg.retention
        )
        try:
            await schema.apply_timescale(conn, statements)
        except asyncpg.PostgresError as exc:  # e.g. not in shared_preload_libraries, or a policy refused
            self.hypertable = await schema.is_hypertable(conn)
            if not self._said_tables:
                self._said_tables = True
                self.ctx.log.warning(
                    "the timescaledb set-up failed on %s (%s: %s); candles %s",
                    self.where, type(exc).__name__, exc,
                    "stay a hypertable without the configured policies" if self.hypertable
                    else "go into a plain PostgreSQL table",
                )  # fmt: skip
            return
        self.hypertable = True
        if not self._said_tables:
            self._said_tables = True
            self.ctx.log.info(
                "candles on %s is a TimescaleDB hypertable (chunks of %s; compression after %s; retention %s)",
                self.where, cfg.chunk_time_interval, cfg.compress_after or "off", cfg.retention or "off",
            )  # fmt: skip

    def _mark_lost(self) -> None:
        if self._lost is not None:
            self._lost.set()

    # -- Sink --------------------------------------------------------------------------------

    async def write(self, batch: Sequence[Candle]) -> None:
        if not batch:
            return
        rows = rows_of(batch)
        path = write_paths.upsert_copy if len(rows) >= self.config.copy_min_rows else write_paths.upsert_unnest
        start = self.ctx.clock.monotonic()
        for attempt in (1, 2):
            pool, conn = await self._acquire()
            try:
                await path(conn, rows)
            except CONNECTION_ERRORS as exc:
                if attempt == 1 and not isinstance(exc, (OSError, TimeoutError)):
                    continue  # one dead pooled connection: retry on a fresh one
                self.stats.failed()
                self._mark_lost()
                raise SinkUnavailable(
                    f"{self.name}: writing to {self.where} failed: {why(exc)}", hint="the batch is kept and retried"
                ) from exc
            except BAD_DATA:
                self.stats.failed()
                raise  # this batch is at fault: the buffer sets aside what the database refuses
            except asyncpg.PostgresError as exc:  # read-only standby, permissions, ...: the server's state
                self.stats.failed()
                raise SinkUnavailable(
                    f"{self.name}: {self.where} refused the write: {why(exc)}",
                    hint="fix the database or the account; the batch is kept and retried",
                ) from exc
            finally:
                await _release(pool, conn)
            break
        self.stats.written(len(rows), self.ctx.clock.monotonic() - start)
        self.stats.committed(batch)

    async def _acquire(self) -> tuple[Any, Any]:
        """A pooled connection, or SinkUnavailable: any failure to connect is the server's, not the batch's."""
        pool = self._pool
        if pool is None:
            self.stats.failed()
            raise SinkUnavailable(f"{self.name}: not connected to {self.where}")
        try:
            return pool, await pool.acquire(timeout=self.config.connect_timeout)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            self.stats.failed()
            self._mark_lost()
            raise SinkUnavailable(f"{self.name}: cannot connect to {self.where}: {why(exc)}") from exc

    def reader(self) -> CandleReader:
        if self._reads is None:
            from candlewick.plugins.timescaledb.reader import TimescaleReader

            self._reads = TimescaleReader(self.config, name=self.name)
        return self._reads


async def _release(pool: Any, conn: Any) -> None:
    """Give a connection back to the pool it came from; a broken one is simply dropped."""
    with anyio.CancelScope(shield=True):
        try:
            await pool.release(conn, timeout=5)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError):
            conn.terminate()


def why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
