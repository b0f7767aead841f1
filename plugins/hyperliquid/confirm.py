"""Confirming closed candles over REST, where the websocket's own evidence does not suffice.

The last update of a candle before its end can be missed, so a close may be confirmed with a
``candleSnapshot`` (the exchange's final version wins). That costs about 21 weight per market and
round (:mod:`~candlewick.plugins.hyperliquid.weights`), which cannot scale to hundreds of
markets, so ``confirm_closed`` decides (see the config):

- *every* close is confirmed (``true``, or ``auto`` while the cost fits a quarter of the budget);
- otherwise (``evidence``, or ``auto`` above that size) only closes without evidence: a candle
  closed by the next candle's frame on a connection up since before it opened is evidenced; one
  closed by the clock (a stall, a quiet market, a missed successor), touched by a late frame, or
  closed around a disconnect is not. After a disconnect gap repair re-fetches the candles that
  were open then (its *suspects*), so the two together leave no close unchecked.

One request per market covers every pending candle; it runs at gap-repair priority and waits
while the REST budget is low.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from candlewick.model import Candle
from candlewick.plugins.hyperliquid.budget import Priority, WeightBudget
from candlewick.plugins.hyperliquid.rest import HyperliquidRest, RestError
from candlewick.plugins.hyperliquid.weights import confirm_all_fits, confirm_weight_per_minute
from candlewick.runtime.clock import Clock

__all__ = ["Confirmer"]

log = logging.getLogger("candlewick.plugins.hyperliquid.source")

Market = tuple[str, str]
#: Candles per market remembered for confirmation (older ones are left to gap repair).
MAX_UNCONFIRMED = 1000
#: Confirmations wait while less than this share of the REST burst is available.
CONFIRM_MIN_BUDGET = 0.5


class Host(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def rest(self) -> HyperliquidRest | None: ...
    @property
    def budget(self) -> WeightBudget: ...

    def markets(self) -> list[Market]: ...

    def now_ms(self) -> int: ...


class Confirmer:
    """Which closes to confirm, and the loop that confirms them."""

    def __init__(self, mode: bool | str, *, delay: float, budget_per_minute: float) -> None:
        self.mode = mode
        self.delay = delay
        self.budget_per_minute = budget_per_minute
        self.enabled = mode is not False
        self.every = mode is True
        #: Closes the websocket evidenced, not confirmed over REST.
        self.trusted = 0
        self.pending: dict[Market, dict[int, int]] = {}

    def size(self, markets: Iterable[Market]) -> None:
        """Decide ``auto`` for this many markets (call when they change)."""
        if self.mode == "auto":
            intervals = [i for _, i in markets]
            every = confirm_all_fits(intervals, self.delay, self.budget_per_minute)
            if every != self.every:
                cost = confirm_weight_per_minute(intervals, self.delay)
                log.info(
                    "confirming %s closes over REST (every close would cost %.0f weight/min of %.0f)",
                    "every" if every else "only unevidenced", cost, self.budget_per_minute,
                )  # fmt: skip
            self.every = every

    def note(self, candle: Candle, *, evidenced: bool) -> None:
        """A candle went downstream; remember it if its close needs a REST confirmation."""
        if not (self.enabled and candle.closed and candle.origin == "live") or candle.derived:
            return
        if evidenced and not self.every:
            self.trusted += 1
            return
        pending = self.pending.setdefault(candle.market, {})
        if len(pending) < MAX_UNCONFIRMED:
            pending[candle.open_time] = candle.close_time

    async def run(self, host: Host, clock: Clock, ingest: Callable[[list[Candle]], Awaitable[None]]) -> None:
        """Every ``delay`` seconds, confirm what is due; the exchange's final version wins if it differs."""
        delay_ms = int(self.delay * 1000)
        while True:
            await clock.sleep(self.delay)
            rest = host.rest
            if rest is None:
                continue
            wanted = set(host.markets())
            for market, pending in list(self.pending.items()):
                if market not in wanted:
                    self.pending.pop(market, None)
                    continue
                now = host.now_ms()
                due = sorted(t for t, close in pending.items() if close + delay_ms <= now)
                if not due:
                    continue
                if not host.budget.has_share(CONFIRM_MIN_BUDGET):
                    break  # the budget is busy: confirm later
                try:
                    candles = await rest.fetch_range(*market, due[0], due[-1], priority=Priority.REPAIR)
                except RestError as exc:
                    log.warning("%s: confirming %s/%s failed: %s", host.name, *market, exc)
                    continue
                for t in due:
                    del pending[t]
                keep = set(due)
                await ingest([c for c in candles if c.open_time in keep and c.closed])
