"""Coverage assessment: stored open times, the ledger, suspects and queued spans -> holes. Pure.

A check of one market goes through named steps:

1. :meth:`Coverage.scope` decides what the check reads and from when the market must be
   complete (:class:`Scope`):

   - *start wish*: at start-up, ``backfill_on_start`` says from when the market should be
     complete; the wish is remembered for every later check;
   - *live fetches it*: the start-up check itself drops the wish when the live source fetches
     that history on its first connect (later checks make sure it did);
   - *window*: the wish never reaches past the oldest candle the exchange still serves;
   - *read span*: a check reads from one window further back than the exchange serves
     (:meth:`Ledger.check_start`), so holes that crossed the edge unseen become losses;
   - *outage tail*: an outage check reads only from the candle open just before the outage
     began, and wants all of that complete.

2. :meth:`Coverage.assess` turns the stored times of that span into holes: the ledger's
   assessment (without confirmed-empty, lost and waiting spans), plus *suspects* (stored
   candles not trusted), minus spans already queued.

Suspects are candles that were open when the live feed broke (it may have closed them with
part of their trades) and, at start-up, the two newest stored ones. They are fetched again
like holes until a request covers them. Times are ms on the exchange's clock, passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from candlewick.gaps import grid
from candlewick.gaps.ledger import Assessment, Ledger
from candlewick.gaps.planning import start_wish
from candlewick.gaps.ranges import Request, Span, clip, find_holes, normalize, subtract
from candlewick.model import open_time

__all__ = ["Coverage", "Look", "Scope"]

Market = tuple[str, str]


@dataclass(frozen=True)
class Look:
    """What kind of check this is."""

    #: A closed candle counts as missing this long after its close.
    grace_ms: int
    #: The start-up check: ``backfill_on_start`` applies (``start_policy``: "max", ms or None).
    startup: bool = False
    start_policy: int | str | None = None
    #: The live source fetches its ``backfill_on_start`` history itself on its first connect.
    live_fetches_start: bool = False
    #: An outage check: only candles from the one open at this time (ms) on.
    tail: int | None = None
    #: When this run started (ms): the start-up check suspects only candles opened before it.
    started_ms: int | None = None


@dataclass(frozen=True)
class Scope:
    """What one check of a market reads, and from when the market must be complete."""

    #: Oldest open time read from the sink.
    read_from: int
    #: Holes are looked for from here, or from the oldest stored candle if that is older (None: only that).
    complete_from: int | None


class Coverage:
    """Holes of every market, from the ledger and what checks and fetches saw."""

    def __init__(self, ledger: Ledger, *, window: int) -> None:
        self.ledger = ledger
        self.window = window
        #: Where ``backfill_on_start`` wants each market complete from (ms), once set at start-up.
        self._wishes: dict[Market, int] = {}
        self._suspects: dict[Market, set[int]] = {}
        #: Holes reported found and not yet repaired (for the found/repaired counts).
        self._known: dict[Market, list[Span]] = {}

    # -- checks ------------------------------------------------------------------------------

    def scope(self, market: Market, now_ms: int, look: Look) -> Scope:
        """Step 1: the read span and the complete-from time of one check (see the module doc)."""
        interval = market[1]
        window_first = grid.window_start(interval, now_ms, self.window)
        if look.startup:
            wish = start_wish(look.start_policy, interval, now_ms, window=self.window)
            if wish is not None:
                self._wishes[market] = wish
        if look.tail is not None:
            # The candle open just before the outage began (at a boundary: the one that just
            # closed), on the grid: a raw disconnect time would start a hole between two open times.
            first = max(window_first, open_time(interval, max(0, look.tail - 1)))
            return Scope(read_from=first, complete_from=first)
        wanted = self._wishes.get(market)
        if look.startup and look.live_fetches_start:
            wanted = None
        if wanted is not None:
            wanted = max(wanted, window_first)
        return Scope(read_from=self.ledger.check_start(interval, now_ms), complete_from=wanted)

    def assess(
        self,
        market: Market,
        present: Sequence[int],
        now_ms: int,
        look: Look,
        scope: Scope,
        *,
        queued: Iterable[Span] = (),
        record: bool = True,
    ) -> tuple[Assessment, list[Span]]:
        """Step 2: the ledger's assessment of ``present`` and the holes to queue.

        ``present`` are the stored closed open times from ``scope.read_from``, ascending;
        ``queued`` the spans of active jobs of the market. ``record`` false: a look without
        consequences (new losses are not filed).
        """
        coin, interval = market
        if look.startup and present and not look.live_fetches_start:
            # The newest stored candles were the live ones when the last run stopped: it may have
            # closed them before their last trades arrived. (Not the ones this run stored since.)
            before = present if look.started_ms is None else [t for t in present if t < look.started_ms]
            self._suspects.setdefault(market, set()).update(before[-2:])
        found = self.ledger.assess(
            coin, interval, present, now_ms, grace_ms=look.grace_ms, since=scope.complete_from, record=record
        )
        holes = self._with_suspects(market, found.holes, found.window_first, found.last)
        return found, subtract(interval, holes, normalize(interval, queued))

    def job_holes(self, market: Market, present: Sequence[int], first: int, last: int, now_ms: int) -> list[Span]:
        """What a job over ``[first, last]`` still has to fetch, right before it starts."""
        coin, interval = market
        holes = self._with_suspects(market, find_holes(interval, present, first, last), first, last)
        return self.ledger.unsettled(coin, interval, holes, now_ms)

    def _with_suspects(self, market: Market, holes: list[Span], first: int, last: int) -> list[Span]:
        doubtful = [(t, t) for t in self._suspects.get(market, ()) if first <= t <= last]
        return normalize(market[1], [*holes, *doubtful]) if doubtful else holes

    # -- what happened -----------------------------------------------------------------------

    def suspect(self, markets: Iterable[Market], at_ms: int) -> None:
        """The live feed broke at ``at_ms``: the candles open around then are not trusted."""
        for coin, interval in markets:
            t = open_time(interval, at_ms)
            self._suspects.setdefault((coin, interval), set()).update((grid.prev_open(interval, t), t))

    def fetched(self, market: Market, req: Request, returned: Sequence[int], now_ms: int, *, on_grid: bool) -> None:
        """A request came back with ``returned`` open times: suspects in it are settled; on the
        grid, what it did not return goes to the ledger (off the grid, "not returned" proves nothing)."""
        doubtful = self._suspects.get(market)
        if doubtful:
            doubtful.difference_update([t for t in doubtful if req.first <= t <= req.last])
        if on_grid:
            coin, interval = market
            for hole in req.holes:
                inside = [t for t in returned if hole[0] <= t <= hole[1]]
                self.ledger.record_fetch(coin, interval, hole, inside, now_ms)

    def new_holes(self, market: Market, holes: Sequence[Span]) -> list[Span]:
        """The holes not reported before (they are remembered as reported)."""
        interval = market[1]
        known = self._known.setdefault(market, [])
        new = [h for h in holes if not clip(known, *h)]
        self._known[market] = normalize(interval, [*known, *holes])
        return new

    def repaired(self, market: Market, first: int, last: int) -> list[Span]:
        """Reported holes inside ``[first, last]``, now repaired (and forgotten)."""
        known = self._known.get(market, [])
        hit = clip(known, first, last)
        if hit:
            self._known[market] = subtract(market[1], known, [(first, last)])
        return hit
