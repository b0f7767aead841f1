"""The read side of a sink: one path for every way candles come back out.

A :class:`CandleReader` answers from the store alone, on its own connection, so reads never
wait for the sink's writer and keep working while the writer is down or reconnecting. The
control socket's ``candles.recent``, gap detection, ``candlewick export`` and the Python API
all read through it. Prices come back exactly as stored (the exchange's decimal strings).

Ranges are half-open, ``[start, end)`` by open time in ms. :meth:`CandleReader.rows`
pages by keyset: a :class:`RowPage` carries ``next``, the open time to pass as the next
``start`` (``None`` when the range is exhausted), never an offset.

A page comes back as plain :data:`CandleRow` tuples in the export column order, which the
encoders (CSV, NDJSON, JSON, freqtrade) consume as they are; :meth:`CandleReader.candles`
is the same query with the rows turned into :class:`~candlewick.model.Candle` objects, for
callers that want them (building one costs far more than reading its row).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from candlewick.model import INTERVAL_MS, Candle, close_time

__all__ = [
    "EXPORT_COLUMNS", "FOREVER", "MAX_PAGE", "ROW_COLUMNS", "CandlePage", "CandleReader", "CandleRow", "RowPage",
    "StoredMarket", "candle_row", "candles_of", "check_page_args",
]  # fmt: skip

#: Default (and suggested largest) page size of :meth:`CandleReader.stream`.
MAX_PAGE = 5000
#: Later than any open time (ms, the year 33658): the open end of a range. Readers clamp to it.
FOREVER = 10**15


#: One stored candle as the read path carries it, in the columns of :data:`ROW_COLUMNS`: the open
#: time in ms, the decimal strings exactly as stored, the trade count, whether it is final, and
#: whether candlewick folded it from 1m candles.
CandleRow = tuple[int, str, str, str, str, str, int, bool, bool]
#: The fields of a :data:`CandleRow`, in order.
ROW_COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume", "trades", "closed", "derived")
#: The columns an export has unless others are asked for: every one but ``derived`` (the CSV header).
EXPORT_COLUMNS: tuple[str, ...] = ROW_COLUMNS[:8]


@dataclass(frozen=True, slots=True)
class StoredMarket:
    """One stored market: open times of its oldest and newest candle (ms) and how many are stored."""

    coin: str
    interval: str
    first: int
    last: int
    count: int


@dataclass(frozen=True, slots=True)
class CandlePage:
    """Candles of one page, ascending by open time; ``next`` is the next page's ``start`` or None."""

    candles: tuple[Candle, ...]
    next: int | None


@dataclass(frozen=True, slots=True)
class RowPage:
    """Rows of one page, ascending by open time; ``next`` is the next page's ``start`` or None."""

    rows: Sequence[CandleRow]
    next: int | None


def candle_row(candle: Candle) -> CandleRow:
    """The row of a candle (what a reader returns for it)."""
    c = candle
    return (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades, c.closed, c.derived)


def candles_of(coin: str, interval: str, rows: Iterable[CandleRow]) -> tuple[Candle, ...]:
    """The candles of a market's rows (the close time follows from open time and interval)."""
    out: list[Candle] = []
    append = out.append
    step = INTERVAL_MS[interval] if interval != "1M" else 0
    for t, o, h, lo, c, v, trades, closed, derived in rows:
        close = t - t % step + step - 1 if step else close_time(interval, t)
        append(Candle(coin, interval, t, close, o, h, lo, c, v, trades, closed, "rest" if closed else "live", derived))
    return tuple(out)


def check_page_args(start: int, end: int, limit: int) -> None:
    """Raise ``ValueError`` for a negative ``start`` or a ``limit`` below 1 (an empty range is fine)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if start < 0 or end < 0:
        raise ValueError(f"times are ms since the epoch, got start={start} end={end}")


class CandleReader(ABC):
    """Reads stored candles; every method may raise :class:`candlewick.errors.SinkUnavailable`.

    Implementations keep their own connection(s), opened on first use and reopened after a
    failure, and release them in :meth:`aclose`. A reader is an async context manager.
    """

    @abstractmethod
    async def rows(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> RowPage:
        """Up to ``limit`` rows with open times in ``[start, end)``, ascending, and the next page's start.

        ``closed_only`` leaves out candles not final yet (the open one). Raises ``ValueError``
        for ``limit < 1``. Rows are real tuples (``int``, ``str`` .. ``str``, ``int``, ``bool``).
        """

    async def candles(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> CandlePage:
        """:meth:`rows` as :class:`~candlewick.model.Candle` objects."""
        page = await self.rows(coin, interval, start, end, limit, closed_only=closed_only)
        return CandlePage(candles_of(coin, interval, page.rows), page.next)

    @abstractmethod
    async def newest(self, coin: str, interval: str, limit: int) -> list[Candle]:
        """The newest ``limit`` candles of a market (open or closed), oldest first."""

    @abstractmethod
    async def markets(self) -> list[StoredMarket]:
        """Every stored market, sorted by coin and interval."""

    @abstractmethod
    async def day_counts(self, coin: str, interval: str, start: int, end: int) -> Mapping[int, int]:
        """Stored candles per UTC day with open times in ``[start, end)``: day start (ms) -> count.

        Days without a candle are left out. :func:`candlewick.gaps.daycoverage.day_coverage` turns
        this into stored-vs-expected coverage.
        """

    @abstractmethod
    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        """Open times of the **closed** candles in ``[start, end]`` (inclusive), ascending: gap detection."""

    @abstractmethod
    def target(self) -> str:
        """Where the candles are, without secrets: the sink's ``target()`` (it keys state such as the ledger)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the reader's connections; a later read opens them again."""

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
        """Have the store itself write the CSV export of ``[start, end)``, header first, through ``write``.

        Returns the rows written, or ``None`` having written nothing when the store cannot (this
        default): the caller then encodes :meth:`stream_rows`. A store that can (PostgreSQL's
        ``COPY``) writes exactly the bytes :class:`candlewick.exporting.formats.CsvFormat` does,
        from one snapshot. ``columns`` are checked names out of :data:`ROW_COLUMNS`.
        """
        return None

    async def stream_rows(
        self,
        coin: str,
        interval: str,
        start: int,
        end: int,
        *,
        page_size: int = MAX_PAGE,
        closed_only: bool = False,
    ) -> AsyncIterator[Sequence[CandleRow]]:
        """Every row in ``[start, end)``, page by page, ascending; holds one page at a time.

        A consumer that may stop early (a client hanging up) wraps it in
        ``contextlib.aclosing`` so the generator is closed at once, on trio too.
        """
        cursor: int | None = start
        while cursor is not None:
            page = await self.rows(coin, interval, cursor, end, page_size, closed_only=closed_only)
            if page.rows:
                yield page.rows
            cursor = page.next

    async def stream(
        self,
        coin: str,
        interval: str,
        start: int,
        end: int,
        *,
        page_size: int = MAX_PAGE,
        closed_only: bool = False,
    ) -> AsyncIterator[tuple[Candle, ...]]:
        """:meth:`stream_rows` as :class:`~candlewick.model.Candle` objects (closed like it)."""
        pages = self.stream_rows(coin, interval, start, end, page_size=page_size, closed_only=closed_only)
        try:
            async for rows in pages:
                yield candles_of(coin, interval, rows)
        finally:
            await pages.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
