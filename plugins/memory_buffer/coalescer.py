"""Pending candles, one per key: the buffer's in-memory state, free of I/O and time."""

from __future__ import annotations

import itertools

from candlewick.model import Candle

__all__ = ["Coalescer"]


class Coalescer:
    """Holds the newest version of each candle until it is taken for a write.

    An update of a candle already held replaces it when it supersedes it
    (:meth:`Candle.supersedes`: closed beats open, then more trades, then more volume) and is
    dropped otherwise; either way the update is *coalesced* and costs no extra row write.
    Candles come out in the order their key first arrived.
    """

    __slots__ = ("_closed", "_items", "closed_since", "since")

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, int], Candle] = {}
        self._closed = 0
        #: When the oldest candle held arrived (clock seconds), ``None`` when empty.
        self.since: float | None = None
        #: When the oldest closed candle held arrived, ``None`` when none is held.
        self.closed_since: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> int:
        """Closed candles held (they are flushed promptly)."""
        return self._closed

    def add(self, candle: Candle, now: float) -> bool:
        """Hold ``candle``; True when it was coalesced with a version already held."""
        key = candle.key
        current = self._items.get(key)
        if current is None:
            self._items[key] = candle
            if self.since is None:
                self.since = now
            if candle.closed:
                self._closed += 1
                if self.closed_since is None:
                    self.closed_since = now
            return False
        if candle.supersedes(current):
            if candle.closed and not current.closed:
                self._closed += 1
                if self.closed_since is None:
                    self.closed_since = now
            self._items[key] = candle
        return True

    def take(self, limit: int) -> list[Candle]:
        """Remove and return up to ``limit`` candles, oldest key first."""
        keys = list(itertools.islice(self._items, limit))
        out = [self._items.pop(k) for k in keys]
        self._closed -= sum(1 for c in out if c.closed)
        if not self._items:
            self.since = None
        if self._closed == 0:
            self.closed_since = None
        return out
