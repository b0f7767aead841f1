"""The live source's derived intervals: the fold of 1m candles, reconciled with the exchange's.

:class:`DerivedFeed` sits in the source's candle path. Every candle the source emits passes
:meth:`DerivedFeed.offer`; 1m versions of a coin with derived intervals yield the derived
versions (:mod:`~candlewick.plugins.hyperliquid.derive`), which the source emits like any other
candle, marked ``derived``. Its task (:meth:`DerivedFeed.run`) fetches each derived market's
start-up history natively (the 1m window is only 3.5 days, so history never comes from 1m
candles), then runs a reconciliation round every ``reconcile_every`` seconds:

- every derived market with closed candles at least ``reconcile_delay`` old gets **one**
  ``candleSnapshot`` request covering all of them (so a round costs 20 weight plus 1 per 60
  candles per market, however many candles closed), at gap-repair priority and only while
  the REST budget is over half full: live catch-ups and repairs come first;
- an exchange candle that differs from the derived one (or a derived candle the exchange does
  not have) is a mismatch: counted (``candlewick_derived_mismatches_total``), logged, and the
  exchange's candle is emitted so the sink replaces the derived row (the upsert lets a native
  closed row replace a derived one that differs, never the other way);
- buckets the 1m history did not cover (the week or month running at start-up) are fetched
  the same way and stored as the exchange sent them;
- after ``derive_fallback_after`` mismatches in a row, the market is subscribed natively
  (while the per-IP subscription limit allows), with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from candlewick.model import Candle, close_time
from candlewick.plugins.hyperliquid.budget import Priority
from candlewick.plugins.hyperliquid.derive import Deriver
from candlewick.plugins.hyperliquid.rest import RestError
from candlewick.runtime import names

if TYPE_CHECKING:
    from candlewick.plugins.hyperliquid.source import HyperliquidSource

__all__ = ["MAX_PENDING", "DerivedFeed"]

log = logging.getLogger(__name__)

Market = tuple[str, str]
#: Closed derived candles per market awaiting reconciliation (older ones are left unchecked).
MAX_PENDING = 5000
#: Reconciliation waits while less than this share of the REST burst is available.
RECONCILE_MIN_BUDGET = 0.5


class DerivedFeed:
    """Derived markets of one source: folding, reconciliation, fallback."""

    def __init__(self, source: HyperliquidSource) -> None:
        self.source = source
        cfg = source.config
        self.deriver = Deriver(int(cfg.close_grace * 1000))
        #: Per market, open time -> the closed derived candle to compare (``None``: fetch to fill).
        self.pending: dict[Market, dict[int, Candle | None]] = {}
        self.streak: dict[Market, int] = {}
        self.fallbacks: list[Market] = []
        #: Derived candles compared with the exchange's, and those that differed.
        self.checked = 0
        self.mismatches = 0
        #: Derived markets whose start-up history is fetched when :meth:`run` starts.
        self._history: list[Market] = []
        self._running = False
        #: Coins whose 1m catch-up after a reconnect runs.
        self._catching_up: set[str] = set()
        m = source.ctx.telemetry.metrics
        labels = ("source", "coin", "interval")
        self._derived = m.gauge(names.DERIVED, "1 while the market is derived from 1m candles", labels)
        self._checked = m.counter(names.DERIVED_CHECKED, "Derived candles compared with the exchange's", labels)
        self._mismatches = m.counter(
            names.DERIVED_MISMATCHES, "Derived candles that differed from the exchange's", labels
        )
        self._last_frame = m.gauge(names.LAST_FRAME, "Wall time of the last frame", labels)

    def follow(self, market: Market) -> None:
        """Derive ``market`` from its coin's 1m candles (before the coin's feed starts, or from now)."""
        self.deriver.follow(*market)
        self._derived.set(1, source=self.source.name, coin=market[0], interval=market[1])
        if not self._running:
            self._history.append(market)

    def start_history(self, markets: list[Market]) -> None:
        """Fetch the start-up history of markets derived while running (native, as always)."""
        if self._running:
            self.source.start_soon(self._fetch_history, markets)

    async def _fetch_history(self, markets: list[Market]) -> None:
        for market in markets:
            if not self.derives(market):
                continue  # removed meanwhile
            try:
                await self.source.catch_up(market, since=None)
            except RestError as exc:  # gap repair keeps the history complete from here
                log.warning("%s: start-up history of %s/%s failed: %s", self.source.name, *market, exc)

    def derives(self, market: Market) -> bool:
        return self.deriver.derives(*market)

    # -- the candle path -------------------------------------------------------------------

    @contextmanager
    def catching_up(self, market: Market, *, first: bool, start: int | None, now: int) -> Iterator[None]:
        """Around a REST catch-up of ``market`` from ``start``: the first one of a coin's 1m starts
        its fold (history covers minutes from ``start``); a reconnect's holds the coin's derived
        closes until it is over, since a newer live minute is no evidence while older ones may come."""
        coin, interval = market
        if interval != "1m" or (not first and start is None):
            yield
        elif first:
            self.deriver.start(coin, cover_from=now if start is None else start, live_from=now)
            yield
        else:
            self._catching_up.add(coin)
            self.deriver.hold(coin)
            try:
                yield
            finally:
                self._catching_up.discard(coin)
                self.deriver.hold(coin, False)

    def history(self, market: Market, page: list[Candle]) -> list[Candle]:
        """What to keep of a native history page: a derived market's open candle is derived live."""
        return [c for c in page if c.closed] if self.derives(market) else page

    def offer_all(self, candles: list[Candle]) -> list[Candle]:
        """Derived versions following from emitted candles (closes are queued for reconciliation).

        A derived market is as fresh as its 1m feed: its last-frame time (health, lag) follows.
        """
        if not self.deriver.coins:
            return []  # nothing is derived: no 1m candle yields anything
        offer = self.deriver.offer
        out = self._queue([d for c in candles if c.interval == "1m" and not c.derived for d in offer(c)])
        if out:
            now_s, name, last_frame = self.source.ctx.clock.time(), self.source.name, self._last_frame
            for d in out:
                last_frame.set(now_s, source=name, coin=d.coin, interval=d.interval)
        return out

    def tick(self, now_ms: int, *, disconnected: Iterable[Market] = ()) -> list[Candle]:
        """Clock closes of coins whose 1m feed is connected and not catching up."""
        held = {c for c, i in disconnected if i == "1m"} | self._catching_up
        return self._queue(self.deriver.tick(now_ms, hold=held))

    def _queue(self, out: list[Candle]) -> list[Candle]:
        for candle in out:
            if candle.closed:
                pending = self.pending.setdefault(candle.market, {})
                if len(pending) < MAX_PENDING:
                    pending[candle.open_time] = candle
        for coin, interval, t in self.deriver.take_unfilled():
            self.pending.setdefault((coin, interval), {})[t] = None
        return out

    # -- the task ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Start-up history of the derived markets (native), then reconciliation rounds forever."""
        self._running = True
        try:
            history, self._history = self._history, []
            await self._fetch_history(history)
            while True:
                await self.source.ctx.clock.sleep(self.source.config.reconcile_every)
                await self.reconcile()
        finally:
            self._running = False

    async def reconcile(self) -> None:
        """One round: one request per market covering every closed candle due, oldest markets first."""
        src, cfg = self.source, self.source.config
        rest = src.rest
        if rest is None:
            return
        delay_ms = int(cfg.reconcile_delay * 1000)
        for market in sorted(self.pending, key=lambda m: min(self.pending[m], default=0)):  # oldest first
            pending = self.pending[market]
            due = sorted(t for t in pending if close_time(market[1], t) + delay_ms <= src.now_ms())
            if not due:
                continue
            if not src.budget.has_share(RECONCILE_MIN_BUDGET):
                return  # the budget is busy: next round
            try:
                natives = await rest.fetch_range(*market, due[0], due[-1], priority=Priority.REPAIR)
            except RestError as exc:
                log.warning("%s: reconciling %s/%s failed: %s", src.name, *market, exc)
                continue
            src.grid.observe_many(natives)
            by_time = {c.open_time: c for c in natives if c.closed}
            out = [self._compare(market, pending.pop(t), by_time.get(t)) for t in due]
            await src.emit([c for c in out if c is not None])
            if not pending:
                self.pending.pop(market, None)
            await self._maybe_fall_back(market)

    def _compare(self, market: Market, derived: Candle | None, native: Candle | None) -> Candle | None:
        """The exchange's candle to store, if any; counts the comparison."""
        if derived is None:
            return native  # a bucket the 1m history did not cover: the exchange's candle as it is
        source, (coin, interval) = self.source.name, market
        self._checked.inc(source=source, coin=coin, interval=interval)
        self.checked += 1
        if native is not None and native.same_values(derived):
            self.streak[market] = 0
            return None
        self._mismatches.inc(source=source, coin=coin, interval=interval)
        self.mismatches += 1
        self.streak[market] = self.streak.get(market, 0) + 1
        log.warning(
            "%s: derived %s/%s candle at %d differs from the exchange's: %s instead of %s",
            self.source.name, *market, derived.open_time, _ohlcvn(derived),
            "nothing" if native is None else _ohlcvn(native),
        )  # fmt: skip
        return native

    async def _maybe_fall_back(self, market: Market) -> None:
        after = self.source.config.derive_fallback_after
        if not after or self.streak.get(market, 0) < after or not self.derives(market):
            return
        coin, interval = market
        following = self.source.following
        if following.subscriptions() >= following.limit:
            log.warning(
                "%s: derived %s/%s keeps differing from the exchange's candles, but the subscription limit "
                "is reached: it stays derived and reconciled",
                self.source.name, coin, interval,
            )  # fmt: skip
            self.streak[market] = 0
            return
        log.warning(
            "%s: derived %s/%s differed from the exchange's candles %d times in a row: subscribing it natively",
            self.source.name, coin, interval, self.streak[market],
        )  # fmt: skip
        self.deriver.unfollow(coin, interval)
        self.fallbacks.append(market)
        self._derived.set(0, source=self.source.name, coin=coin, interval=interval)
        await following.subscribe_native(market)

    def forget(self, market: Market) -> None:
        """The market is no longer followed."""
        if self.derives(market):
            self._derived.set(0, source=self.source.name, coin=market[0], interval=market[1])
        self.deriver.unfollow(*market)
        if market in self._history:
            self._history.remove(market)
        self.pending.pop(market, None)
        self.streak.pop(market, None)

    def describe(self) -> dict[str, Any]:
        """Derived markets, pending reconciliations and fallbacks, for ``status``."""
        return {
            "markets": sorted(f"{c}/{i}" for c, intervals in self.deriver.wanted.items() for i in intervals),
            "pending_reconciliation": sum(len(p) for p in self.pending.values()),
            "late_minutes": sum(d.late for d in self.deriver.coins.values()),
            "fell_back": [f"{c}/{i}" for c, i in self.fallbacks],
        }


def _ohlcvn(c: Candle) -> str:
    return f"o={c.open} h={c.high} l={c.low} c={c.close} v={c.volume} n={c.trades}"
