"""The SQLite read side: its own read-only connection (``mode=ro``), queried in a worker thread.

The database is in WAL mode, so these reads run beside the sink's writes and never block
them; the reader opens the file on first use, reopens it after an error, and keeps working
while the sink's writer is down. It never creates or migrates the file: a missing file or
table is :class:`SinkUnavailable` with a hint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import anyio

from candlewick.errors import SinkUnavailable
from candlewick.model import DAY_MS, Candle
from candlewick.reading import CandleReader, CandleRow, RowPage, StoredMarket, candles_of, check_page_args

__all__ = ["SqliteReader"]

T = TypeVar("T")

#: The columns of a :data:`~candlewick.reading.CandleRow` (``closed`` and ``derived`` are 0/1 here;
#: :func:`_rows` makes them bools).
_COLUMNS = '"time", open, high, low, close, volume, trades, closed, derived'
_MARKET = 'coin = ? AND "interval" = ?'
PAGE = f'SELECT {_COLUMNS} FROM candles WHERE {_MARKET} AND "time" >= ? AND "time" < ? ORDER BY "time" LIMIT ?'
PAGE_CLOSED = (
    f'SELECT {_COLUMNS} FROM candles WHERE {_MARKET} AND "time" >= ? AND "time" < ? AND closed = 1'
    ' ORDER BY "time" LIMIT ?'
)
NEWEST = f'SELECT {_COLUMNS} FROM candles WHERE {_MARKET} ORDER BY "time" DESC LIMIT ?'
MARKETS = 'SELECT coin, "interval", MIN("time"), MAX("time"), COUNT(*) FROM candles GROUP BY coin, "interval"'
DAY_COUNTS = (
    f'SELECT "time" - "time" % {DAY_MS} AS day, COUNT(*) FROM candles'
    f' WHERE {_MARKET} AND "time" >= ? AND "time" < ? GROUP BY day ORDER BY day'
)
OPEN_TIMES = f'SELECT "time" FROM candles WHERE {_MARKET} AND closed = 1 AND "time" BETWEEN ? AND ? ORDER BY "time"'


def connect_read_only(path: Path, *, busy_timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to ``path`` (``file:...?mode=ro``); never creates the file."""
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    return conn


class SqliteReader(CandleReader):
    """Reads one SQLite candle file; one connection, one query at a time, off the event loop."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0, name: str = "sqlite") -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.name = name
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def rows(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> RowPage:
        check_page_args(start, end, limit)
        params = (coin, interval, start, end, limit + 1)
        return await self._call(self._page, PAGE_CLOSED if closed_only else PAGE, params, limit)

    async def newest(self, coin: str, interval: str, limit: int) -> list[Candle]:
        if limit < 1:
            return []
        rows = await self._call(self._rows, NEWEST, (coin, interval, limit))
        return list(candles_of(coin, interval, reversed(rows)))

    async def markets(self) -> list[StoredMarket]:
        rows = await self._query(MARKETS, ())
        markets = [StoredMarket(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]
        return sorted(markets, key=lambda m: (m.coin, m.interval))

    async def day_counts(self, coin: str, interval: str, start: int, end: int) -> Mapping[int, int]:
        rows = await self._query(DAY_COUNTS, (coin, interval, start, end))
        return {int(day): int(count) for day, count in rows}

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        rows = await self._query(OPEN_TIMES, (coin, interval, start, end))
        return [int(r[0]) for r in rows]

    def target(self) -> str:
        return str(self.path)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close, limiter=self._get_limiter())

    # -- connection --------------------------------------------------------------------------

    def _get_limiter(self) -> anyio.CapacityLimiter:
        # Created on first use: a limiter belongs to the event loop that runs it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return self._limiter

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _page(self, sql: str, params: tuple[object, ...], limit: int) -> RowPage:
        """One page of rows (and the next page's start), read in the worker thread."""
        rows = self._rows(sql, params)
        if len(rows) > limit:
            return RowPage(rows[:limit], rows[limit][0])
        return RowPage(rows, None)

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[CandleRow]:
        """Rows of a :data:`_COLUMNS` query, ``closed`` made a bool."""
        return [(t, o, h, lo, c, v, n, x == 1, d == 1) for t, o, h, lo, c, v, n, x, d in self._run(sql, params)]

    def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        if self._conn is None:
            self._conn = connect_read_only(self.path, busy_timeout=self.busy_timeout)
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            self._close()  # reopened by the next read
            raise

    async def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return await self._call(self._run, sql, params)

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self._get_limiter())
        except sqlite3.Error as exc:
            raise SinkUnavailable(
                f"{self.name}: reading {self.path} failed: {exc}", hint=_hint(self.path, exc)
            ) from exc


def _hint(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "unable to open" in text:
        what = "does not exist" if not path.exists() else "cannot be opened for reading"
        return f"{path} {what}: check [sink.sqlite] path, or start the daemon once to create it"
    if "no such table" in text:
        return f"{path} holds no candles table yet: start the daemon once to create it"
    return "retry later; if it persists, check the file and its permissions"
