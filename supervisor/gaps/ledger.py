"""The coverage ledger: what the candles table cannot say about a market, kept beside it.

Coverage comes from the data itself (the sink's stored open times); the ledger only adds
per (coin, interval):

- **empty**: spans the exchange confirmed hold no candle (minutes without trades), so they are
  not requested again and again;
- **tentative**: recent spans a fetch found empty, re-checked once after ``recheck_ms``
  because Hyperliquid can publish a flat no-trade row late;
- **lost**: spans that fell out of the exchange's window before they were repaired
  (permanent losses, reported once and counted, never papered over).

:meth:`Ledger.assess` turns stored open times into repairable holes and new losses;
:meth:`Ledger.record_fetch` files what a finished request did not return. Pure: no I/O, no
clock (times are passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from candlewick.gaps import grid
from candlewick.gaps.ranges import Span, clip, find_holes, normalize, span_count, split_before, subtract
from candlewick.model import open_time

__all__ = ["DEFAULT_LATE_MS", "DEFAULT_RECHECK_MS", "Assessment", "Ledger", "MarketCoverage"]

Market = tuple[str, str]

#: A span that ended less than this long ago may still get a late flat row: re-check it.
DEFAULT_LATE_MS = 15 * 60_000
#: Delay before that re-check.
DEFAULT_RECHECK_MS = 3 * 60_000


@dataclass
class MarketCoverage:
    """Ledger entries of one market (normalized span lists)."""

    empty: list[Span] = field(default_factory=list)
    lost: list[Span] = field(default_factory=list)
    #: (span, due ms): found empty recently; re-fetched once when due.
    tentative: list[tuple[Span, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Assessment:
    """What one check of a market found."""

    coin: str
    interval: str
    #: Holes the exchange still serves, oldest first.
    holes: list[Span]
    #: Holes that just passed the exchange's window (not reported before).
    lost: list[Span]
    #: Open time of the oldest candle still served, and of the newest closed candle checked.
    window_first: int
    last: int

    @property
    def missing(self) -> int:
        return span_count(self.interval, self.holes)


class Ledger:
    """Coverage bookkeeping for every market."""

    def __init__(self, *, window: int, late_ms: int = DEFAULT_LATE_MS, recheck_ms: int = DEFAULT_RECHECK_MS) -> None:
        self.window = window
        self.late_ms = late_ms
        self.recheck_ms = recheck_ms
        self.markets: dict[Market, MarketCoverage] = {}

    def market(self, coin: str, interval: str) -> MarketCoverage:
        return self.markets.setdefault((coin, interval), MarketCoverage())

    # -- checking ----------------------------------------------------------------------------

    def check_start(self, interval: str, now_ms: int) -> int:
        """Oldest open time a check looks at: one window further back than the exchange serves.

        Stored candles that old anchor holes that crossed the window edge while nobody looked, so
        they are reported as losses instead of vanishing from view.
        """
        first = grid.window_start(interval, now_ms, self.window)
        return max(0, grid.step(interval, first, -self.window)) if interval != "1M" else 0

    def assess(
        self,
        coin: str,
        interval: str,
        present: Sequence[int],
        now_ms: int,
        *,
        grace_ms: int = 0,
        since: int | None = None,
        record: bool = True,
    ) -> Assessment:
        """Holes among ``present`` (stored closed open times, ascending) and newly lost spans.

        Holes are looked for from the oldest stored candle (or ``since``, a time from which the
        market should be complete, e.g. a start-up backfill) to the newest closed candle. Spans
        confirmed empty, already lost, or waiting for their re-check are left out. Lost spans are
        recorded here (unless ``record`` is false: a look without consequences), so each is
        reported once.
        """
        cov = self.market(coin, interval)
        last = grid.newest_closed(interval, now_ms, grace_ms)
        window_first = grid.window_start(interval, now_ms, self.window)
        anchors = [t for t in (present[0] if present else None, since) if t is not None]
        if not anchors:
            return Assessment(coin, interval, [], [], window_first, last)
        first = min(anchors)
        holes = self.unsettled(coin, interval, find_holes(interval, present, first, last), now_ms)
        lost, holes = split_before(interval, holes, window_first)
        if lost and record:
            cov.lost = normalize(interval, [*cov.lost, *lost])
        return Assessment(coin, interval, holes, lost, window_first, last)

    def unsettled(self, coin: str, interval: str, holes: Sequence[Span], now_ms: int) -> list[Span]:
        """``holes`` (normalized) without spans confirmed empty, lost, or waiting for their re-check."""
        cov = self.market(coin, interval)
        out = subtract(interval, holes, normalize(interval, [*cov.empty, *cov.lost]))
        waiting = normalize(interval, (s for s, due in cov.tentative if due > now_ms))
        return subtract(interval, out, waiting)

    # -- results of fetches ------------------------------------------------------------------

    def record_fetch(self, coin: str, interval: str, span: Span, returned: Sequence[int], now_ms: int) -> list[Span]:
        """File what a request over ``span`` did not return; returns the spans confirmed empty now.

        Open times missing from ``returned`` become confirmed empty, unless they are recent and
        not re-checked yet: those become tentative, due ``recheck_ms`` from now. Candles not
        closed at ``now_ms`` (the exchange's time) are filed as nothing: a span still running
        is never empty yet, however the span was computed.
        """
        cov = self.market(coin, interval)
        missing = clip(find_holes(interval, sorted(returned), *span), span[0], grid.newest_closed(interval, now_ms))
        if not missing:
            self._drop_tentative(cov, interval, [span])
            return []
        rechecked = normalize(interval, (s for s, due in cov.tentative if due <= now_ms))
        # A candle is recent while its close lies within late_ms of now: it may still appear.
        boundary = open_time(interval, max(0, now_ms - self.late_ms))
        old, recent = split_before(interval, missing, boundary)
        again = [c for r in recent for c in clip(rechecked, *r)]
        confirmed = [*old, *again]
        fresh = subtract(interval, recent, normalize(interval, again))
        self._drop_tentative(cov, interval, [span])
        confirmed = normalize(interval, confirmed)
        if confirmed:
            cov.empty = normalize(interval, [*cov.empty, *confirmed])
        for s in normalize(interval, fresh):
            cov.tentative.append((s, now_ms + self.recheck_ms))
        return confirmed

    def _drop_tentative(self, cov: MarketCoverage, interval: str, spans: list[Span]) -> None:
        keep: list[tuple[Span, int]] = []
        for s, due in cov.tentative:
            for rest in subtract(interval, [s], normalize(interval, spans)):
                keep.append((rest, due))
        cov.tentative = keep

    def next_recheck(self) -> int | None:
        """When the earliest tentative span falls due (ms), if any."""
        dues = [due for cov in self.markets.values() for _, due in cov.tentative]
        return min(dues) if dues else None

    def lost_total(self, coin: str, interval: str) -> int:
        return span_count(interval, self.market(coin, interval).lost)

    def forget_before(self, coin: str, interval: str, t: int) -> bool:
        """Drop empty spans ending before ``t`` (no check looks that far back); True if any went."""
        cov = self.market(coin, interval)
        kept = [(a, b) for a, b in cov.empty if b >= t]
        changed = len(kept) != len(cov.empty)
        cov.empty = kept
        return changed
