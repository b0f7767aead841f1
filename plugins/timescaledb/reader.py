"""The TimescaleDB/PostgreSQL read side: a small pool of its own, optionally under a read-only role.

The pool is separate from the sink's writer pool (``read_dsn`` may name a role that can only
``SELECT``), opened on first use, dropped after a connection error and opened again by the
next read, so reads keep working while the writer reconnects. Every session is read-only
(``default_transaction_read_only``). Prices come back as ``numeric::text``: the decimal
strings exactly as stored. asyncio only, like asyncpg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import asyncpg

from candlewick.errors import SinkUnavailable
from candlewick.model import DAY_MS, Candle
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.schema import MS, OPEN_TIMES, TO_MS
from candlewick.plugins.timescaledb.sink import CONNECTION_ERRORS, dsn_for_log, why
from candlewick.reading import (
    EXPORT_COLUMNS,
    FOREVER,
    CandleReader,
    CandleRow,
    RowPage,
    StoredMarket,
    candles_of,
    check_page_args,
)

__all__ = ["TimescaleReader"]

#: The columns of a :data:`~candlewick.reading.CandleRow`.
_COLUMNS = f"{TO_MS}, open::text, high::text, low::text, close::text, volume::text, trades, closed, derived"
_RANGE = f'coin = $1 AND "interval" = $2 AND "time" >= {MS.format("$3::bigint")} AND "time" < {MS.format("$4::bigint")}'
PAGE = f'SELECT {_COLUMNS} FROM candles WHERE {_RANGE} ORDER BY "time" LIMIT $5'
PAGE_CLOSED = f'SELECT {_COLUMNS} FROM candles WHERE {_RANGE} AND closed ORDER BY "time" LIMIT $5'
NEWEST = f'SELECT {_COLUMNS} FROM candles WHERE coin = $1 AND "interval" = $2 ORDER BY "time" DESC LIMIT $3'
MARKETS = """
SELECT coin, "interval", (extract(epoch FROM min("time")) * 1000)::bigint,
       (extract(epoch FROM max("time")) * 1000)::bigint, count(*)
FROM candles GROUP BY coin, "interval" ORDER BY coin, "interval"
"""
#: Each CSV column as ``COPY`` should print it: the bytes of ``candlewick.exporting.formats.CsvFormat``.
_CSV = {
    "time": f'{TO_MS} AS "time"', "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume", "trades": "trades", "closed": "CASE WHEN closed THEN 'true' ELSE 'false' END AS closed",
    "derived": "CASE WHEN derived THEN 'true' ELSE 'false' END AS derived",
}  # fmt: skip
#: One statement writes a whole export (a huge market to a slow pipe): not bound by ``command_timeout``.
COPY_TIMEOUT: Final = 3600.0
DAY_COUNTS = f"SELECT {TO_MS} / {DAY_MS} * {DAY_MS} AS day, count(*) FROM candles WHERE {_RANGE} GROUP BY 1 ORDER BY 1"


class _ConsumerFailed(Exception):
    """The ``write`` of :meth:`TimescaleReader.copy_csv` raised (its exception is the cause)."""


class TimescaleReader(CandleReader):
    """Reads the ``candles`` table over a pool of its own."""

    def __init__(self, config: TimescaleConfig, *, name: str = "timescaledb") -> None:
        self.config = config
        self.name = name
        self.dsn = config.read_dsn or config.dsn
        self.where = dsn_for_log(self.dsn)
        self._pool: asyncpg.Pool | None = None
        self._lock: anyio.Lock | None = None

    async def rows(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> RowPage:
        check_page_args(start, end, limit)
        start, end = min(start, FOREVER), min(end, FOREVER)  # beyond what a timestamptz holds
        records = await self._fetch(PAGE_CLOSED if closed_only else PAGE, coin, interval, start, end, limit + 1)
        rows: list[CandleRow] = list(map(tuple, records))
        if len(rows) > limit:
            return RowPage(rows[:limit], rows[limit][0])
        return RowPage(rows, None)

    async def copy_csv(
        self,
        coin: str,
        interval: str,
        start: int,
        end: int,
        write: Callable[[bytes], Awaitable[None]],
        *,
        columns: Sequence[str] = EXPORT_COLUMNS,
        closed_only: bool = False,
    ) -> int | None:
        """The export as ``COPY (SELECT ...) TO STDOUT (FORMAT csv, HEADER)``: the server writes the CSV."""
        select = ", ".join(_CSV[name] for name in columns)
        query = f'SELECT {select} FROM candles WHERE {_RANGE}{" AND closed" if closed_only else ""} ORDER BY "time"'

        async def forward(chunk: bytes) -> None:
            try:
                await write(chunk)
            except Exception as exc:  # the consumer's own error (a closed pipe), not the store's
                raise _ConsumerFailed() from exc

        args = (coin, interval, min(start, FOREVER), min(end, FOREVER))
        try:
            async with self._reading() as pool, pool.acquire() as conn:
                try:
                    status = await conn.copy_from_query(
                        query, *args, output=forward, format="csv", header=True, timeout=COPY_TIMEOUT
                    )
                except _ConsumerFailed:
                    conn.terminate()  # asyncpg may leave a connection whose COPY output failed unusable
                    raise
        except _ConsumerFailed as failed:
            raise failed.__cause__ from None  # type: ignore[misc]
        return int(status.split()[-1])  # "COPY 1234"

    async def newest(self, coin: str, interval: str, limit: int) -> list[Candle]:
        if limit < 1:
            return []
        records = await self._fetch(NEWEST, coin, interval, limit)
        return list(candles_of(coin, interval, map(tuple, reversed(records))))

    async def markets(self) -> list[StoredMarket]:
        rows = await self._fetch(MARKETS)
        return [StoredMarket(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]

    async def day_counts(self, coin: str, interval: str, start: int, end: int) -> Mapping[int, int]:
        rows = await self._fetch(DAY_COUNTS, coin, interval, min(start, FOREVER), min(end, FOREVER))
        return {int(r[0]): int(r[1]) for r in rows}

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        rows = await self._fetch(OPEN_TIMES, coin, interval, min(start, FOREVER), min(end, FOREVER))
        return [int(r[0]) for r in rows]

    def target(self) -> str:
        return dsn_for_log(self.config.dsn)  # the writer's database, as the sink names it

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.move_on_after(5, shield=True):
                await pool.close()
            pool.terminate()

    # -- pool --------------------------------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._pool is None:
                self._pool = await self._connect()
            return self._pool

    async def _connect(self) -> asyncpg.Pool:
        cfg = self.config
        password = cfg.read_password if cfg.read_dsn else cfg.password
        return await asyncpg.create_pool(
            self.dsn,
            password=password.get_secret_value() if password else None,
            min_size=0,
            max_size=cfg.read_pool_max_size,
            timeout=cfg.connect_timeout,
            command_timeout=cfg.command_timeout,
            max_inactive_connection_lifetime=300.0,
            server_settings={"application_name": f"candlewick:{self.name}:read", "default_transaction_read_only": "on"},
        )

    async def _fetch(self, sql: str, *args: object) -> list[Any]:
        async with self._reading() as pool:
            return list(await pool.fetch(sql, *args, timeout=self.config.command_timeout))

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[asyncpg.Pool]:
        """The pool, and the database's errors inside the block as :class:`SinkUnavailable` with a hint."""
        try:
            yield await self._get_pool()
        except (*CONNECTION_ERRORS, asyncpg.ObjectNotInPrerequisiteStateError) as exc:
            # ObjectNotInPrerequisiteState: "database ... is not currently accepting connections"
            await self.aclose()  # the next read connects again
            raise SinkUnavailable(f"{self.name}: reading from {self.where} failed: {why(exc)}") from exc
        except asyncpg.UndefinedTableError as exc:
            raise SinkUnavailable(
                f"{self.name}: {self.where} has no candles table yet",
                hint="start the daemon once to create it, or check [sink.timescaledb] read_dsn",
            ) from exc
        except asyncpg.InsufficientPrivilegeError as exc:
            raise SinkUnavailable(
                f"{self.name}: {self.where} refused the read: {why(exc)}",
                hint="GRANT SELECT ON candles TO the role of read_dsn (see the README)",
            ) from exc
        except asyncpg.PostgresError as exc:  # a standby in recovery, a cancelled statement, ...
            raise SinkUnavailable(f"{self.name}: {self.where} refused the read: {why(exc)}") from exc
