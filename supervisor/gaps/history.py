"""What gap repair needs from an exchange and from storage, as protocols.

A source plugin that can fetch history provides a :class:`History`; the sink provides
:class:`StoredTimes` (every :class:`~candlewick.plugin.Sink` does, through ``open_times``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from candlewick.model import Candle
from candlewick.runtime.clock import Clock

__all__ = ["History", "StoredTimes"]


class History(Protocol):
    """An exchange's candle history, as gap repair uses it."""

    #: Name of the live source this history belongs to (its ``EV_CONNECTED`` triggers checks).
    source: str
    #: Candles the exchange keeps per (coin, interval): older ones are gone for good.
    window: int
    #: Most candles one request returns, the base weight of a request, and items per extra weight.
    page_size: int
    base_weight: int
    items_per_weight: int

    @property
    def exchange_clock(self) -> Clock:
        """The exchange's clock: ``time()`` is the exchange's time as far as it has surely passed.

        Gap repair asks it whether a candle has closed and whether an empty span is over, so a
        local clock running ahead never files open candles as missing or spans as empty. A
        history that cannot measure the exchange's clock returns the local one
        (:class:`candlewick.runtime.exchange_clock.ExchangeClock` measures it).
        """
        ...

    def markets(self) -> Sequence[tuple[str, str]]:
        """The (coin, interval) pairs to keep complete now."""
        ...

    def backfill_on_start(self) -> int | str | None:
        """``"max"``, a window in ms, or ``None``: how much history the start-up check wants."""
        ...

    def fetches_start_history(self) -> bool:
        """True when the live source fetches ``backfill_on_start`` itself on its first connect.

        Then the start-up check leaves that span to it (fetching it twice would only spend
        weight), and later checks repair whatever it did not manage to store.
        """
        ...

    async def ready(self) -> None:
        """Wait until requests can be made (e.g. the live source has its REST client)."""
        ...

    async def check_coin(self, coin: str) -> None:
        """Raise ``ValueError`` naming close matches if the exchange has no such coin."""
        ...

    def pages(self, coin: str, interval: str, first: int, last: int, *, priority: int) -> AsyncIterator[list[Candle]]:
        """Candles with open times in ``[first, last]``, page by page, ascending, each once.

        ``priority`` is a :mod:`candlewick.gaps.jobs` priority (lower first) for the shared
        request budget. Raises on failures retrying cannot fix.
        """
        ...

    def transient(self, exc: Exception) -> bool:
        """True when a request that raised ``exc`` may succeed later (rate limits, outages)."""
        ...

    async def aclose(self) -> None:
        """Release what the history opened itself (its own REST client, if any)."""
        ...


class StoredTimes(Protocol):
    """Where stored coverage is read: the sink."""

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]: ...
