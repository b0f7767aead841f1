"""The read side of a sink: one path for every way candles come back out.

A :class:`CandleReader` answers from the store alone, on its own connection, so reads never
wait for the sink's writer and keep working while the writer is down or reconnecting. The
control socket's ``candles.recent``, gap detection, ``candlewick export`` and the Python API
all read through it. Prices come back exactly as stored (the exchange's decimal strings).

Ranges are half-open, ``[start, end)`` by open time in ms. :meth:`CandleReader.candles`
pages by keyset: a :class:`CandlePage` carries ``next``, the open time to pass as the next
``start`` (``None`` when the range is exhausted), never an offset.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from candlewick.model import Candle

__all__ = ["FOREVER", "MAX_PAGE", "CandlePage", "CandleReader", "StoredMarket", "check_page_args"]

#: Default (and suggested largest) page size of :meth:`CandleReader.stream`.
MAX_PAGE = 5000
#: Later than any open time (ms, the year 33658): the open end of a range. Readers clamp to it.
FOREVER = 10**15


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
    async def candles(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> CandlePage:
        """Up to ``limit`` candles with open times in ``[start, end)``, ascending, and the next page's start.

        ``closed_only`` leaves out candles not final yet (the open one). Raises ``ValueError``
        for ``limit < 1``.
        """

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
        """Every candle in ``[start, end)``, page by page, ascending; holds one page at a time.

        A consumer that may stop early (a client hanging up) wraps it in
        ``contextlib.aclosing`` so the generator is closed at once, on trio too.
        """
        cursor: int | None = start
        while cursor is not None:
            page = await self.candles(coin, interval, cursor, end, page_size, closed_only=closed_only)
            if page.candles:
                yield page.candles
            cursor = page.next

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
