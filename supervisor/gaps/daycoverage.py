"""Coverage per UTC day: stored candles against the grid, with the ledger's losses. Pure.

For each UTC day, ``expected`` counts the open times of the interval's grid that fall in that
day and have begun by ``now`` (weekly candles open on Thursdays, monthly ones on the 1st, so
most days of a ``1w`` market expect none); ``stored`` comes from
:meth:`candlewick.reading.CandleReader.day_counts`; ``empty`` (the exchange confirmed no
trades) and ``lost`` (fell out of the exchange's window before repair, for good) come from the
gap-repair ledger. ``missing`` is what is neither stored nor accounted for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from candlewick.gaps import grid
from candlewick.gaps.ranges import Span
from candlewick.model import DAY_MS, next_open, open_time

__all__ = ["DayCoverage", "day_coverage", "opens_in"]


@dataclass(frozen=True, slots=True)
class DayCoverage:
    """One UTC day of one market (``day``: its 00:00 in ms)."""

    day: int
    expected: int
    stored: int
    empty: int = 0
    lost: int = 0

    @property
    def missing(self) -> int:
        """Expected candles neither stored, nor confirmed empty, nor lost."""
        return max(0, self.expected - self.stored - self.empty - self.lost)

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.lost == 0

    def to_json(self) -> dict[str, int | bool]:
        return {
            "day": self.day, "expected": self.expected, "stored": self.stored, "empty": self.empty,
            "lost": self.lost, "missing": self.missing, "complete": self.complete,
        }  # fmt: skip


def opens_in(interval: str, a: int, b: int) -> int:
    """How many open times of ``interval``'s grid lie in ``[a, b)``."""
    if b <= a:
        return 0
    first = open_time(interval, a)
    if first < a:
        first = next_open(interval, first)
    last = open_time(interval, b - 1)
    return grid.count(interval, first, last)


def _in_spans(interval: str, spans: Sequence[Span], a: int, b: int) -> int:
    """Open times in ``[a, b)`` that some span (inclusive open times) covers; spans do not overlap."""
    return sum(opens_in(interval, max(a, first), min(b, last + 1)) for first, last in spans)


def day_coverage(
    interval: str,
    counts: Mapping[int, int],
    start: int,
    end: int,
    now: int,
    *,
    lost: Iterable[Span] = (),
    empty: Iterable[Span] = (),
) -> list[DayCoverage]:
    """Coverage of each UTC day meeting ``[start, min(end, now + 1))``, oldest first.

    ``counts`` is stored candles per day start (days without candles may be left out);
    ``lost`` and ``empty`` are the ledger's spans of this market.
    """
    stop = min(end, now + 1)
    lost_spans, empty_spans = sorted(lost), sorted(empty)
    out: list[DayCoverage] = []
    day = start - start % DAY_MS
    while day < stop:
        a, b = max(day, start), min(day + DAY_MS, stop)
        out.append(
            DayCoverage(
                day=day,
                expected=opens_in(interval, a, b),
                stored=counts.get(day, 0),
                empty=_in_spans(interval, empty_spans, a, b),
                lost=_in_spans(interval, lost_spans, a, b),
            )
        )
        day += DAY_MS
    return out
