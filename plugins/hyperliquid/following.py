"""Which markets the live source follows, and how: subscribed on a connection, or derived.

One decision within the per-IP limits, in two steps:

1. :func:`~candlewick.plugins.hyperliquid.derive_plan.plan_intervals` decides which intervals
   are derived from 1m candles, for the coins resolved at start (``derive``, plus the shortest
   intervals while coins x native intervals exceed the subscription limit; the start-up log
   says which);
2. :func:`~candlewick.plugins.hyperliquid.limits.plan` places the native subscriptions (a
   derived market needs its coin's ``1m``) on at most 10 connections; what does not fit even so
   is reported and not followed.

Markets added later (``markets.add``, a new listing of a market set) follow the same plan: an
interval the plan derives is derived; a native one goes where
:func:`~candlewick.plugins.hyperliquid.limits.place` says, and when every subscription is taken
an interval other than ``1m`` of a coin whose 1m is subscribed is derived instead, with a warning.
A market removed (by hand, or a delisting) is unsubscribed and its derivation dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from candlewick.errors import SourceError
from candlewick.plugins.hyperliquid.derive_plan import PlanError, plan_intervals, subscription_limit
from candlewick.plugins.hyperliquid.limits import BASE_INTERVAL, MAX_CONNECTIONS, MAX_SUBSCRIPTIONS, place, plan
from candlewick.plugins.hyperliquid.link import Link

if TYPE_CHECKING:
    from candlewick.plugins.hyperliquid.source import HyperliquidSource

__all__ = ["Following"]

log = logging.getLogger("candlewick.plugins.hyperliquid.source")

Market = tuple[str, str]


class Following:
    """The followed markets of one source, the intervals derived, and their connections."""

    def __init__(self, source: HyperliquidSource) -> None:
        self.source = source
        self.wanted: list[Market] = source.config.markets()
        #: Intervals the plan derives (decided again when the coins are resolved).
        self.derived_intervals: tuple[str, ...] = ()

    @property
    def limit(self) -> int:
        return subscription_limit(self.source.config.max_subscriptions_per_connection)

    def subscriptions(self) -> int:
        return sum(len(link.subs) for link in self.source.links)

    def native(self) -> list[Market]:
        derives = self.source.derived.derives
        return [m for m in self.wanted if not derives(m)]

    def resolve(self, coins: list[str]) -> None:
        """The coins resolved at start: plan the intervals, derive, spread the rest over connections."""
        src, cfg = self.source, self.source.config
        self.derived_intervals = self._plan_intervals(len(coins))
        self.wanted = [(c, i) for c in coins for i in cfg.intervals]
        for market in self.wanted:
            if market[1] in self.derived_intervals:
                src.derived.follow(market)
        p = plan(self.wanted, native=lambda m: not src.derived.derives(m),
                 per_connection=cfg.max_subscriptions_per_connection)  # fmt: skip
        if p.unplaced:
            shown = ", ".join(f"{c}/{i}" for c, i in p.unplaced[:10])
            log.error(
                "%s: %d markets exceed Hyperliquid's per-IP limit of %d subscriptions and are not followed "
                "(%s%s); split them over daemons with shard = \"k/n\"",
                src.name, len(p.unplaced), MAX_SUBSCRIPTIONS, shown, ", ..." if len(p.unplaced) > 10 else "",
            )  # fmt: skip
            dropped = set(p.unplaced)
            for market in dropped:
                src.derived.forget(market)
            self.wanted = [m for m in self.wanted if m not in dropped]
        src.links = [Link(src, k, subs) for k, subs in enumerate(p.connections)]
        src.confirmer.size(self.native())

    def _plan_intervals(self, coins: int) -> tuple[str, ...]:
        src, cfg = self.source, self.source.config
        try:
            split = plan_intervals(coins, cfg.intervals, cfg.derive, limit=self.limit)
        except PlanError as exc:
            log.error("%s: %s", src.name, exc)
            return tuple(i for i in cfg.intervals if i != BASE_INTERVAL) if BASE_INTERVAL in cfg.intervals else ()
        if split.forced:
            log.warning("%s: %s", src.name, split.explain(coins))
        return split.derived

    async def add(self, market: Market) -> None:
        """Follow one more market, derived or natively, within the limits (:class:`SourceError` if not)."""
        src = self.source
        if market in self.wanted:
            return
        coin, interval = market
        base = (coin, BASE_INTERVAL)
        can_derive = interval != BASE_INTERVAL and base in self.wanted and not src.derived.derives(base)
        derive = can_derive and interval in self.derived_intervals
        if not derive and self.subscriptions() < self.limit:
            await self.subscribe_native(market, check_only=True)
        elif not derive and can_derive:
            derive = True
            log.warning(
                "%s: every one of the %d subscriptions is taken: deriving %s/%s from 1m candles instead",
                src.name, self.limit, coin, interval,
            )  # fmt: skip
        elif not derive:
            raise SourceError(
                f"cannot follow {coin}/{interval}: Hyperliquid allows {MAX_SUBSCRIPTIONS} subscriptions per IP",
                hint="remove a market first, or derive its interval (derive = [...])",
            )
        self.wanted.append(market)
        src.confirmer.size(self.native())
        if derive:
            src.derived.follow(market)
            src.derived.start_history([market])
        else:
            await self.subscribe_native(market)

    async def subscribe_native(self, market: Market, *, check_only: bool = False) -> None:
        """Subscribe a followed market on the connection :func:`place` picks (``check_only``: only
        check that one can take it)."""
        src = self.source
        per = src.config.max_subscriptions_per_connection
        k = place([len(lk.subs) for lk in src.links], per_connection=per) if src.running else 0
        if k is None:
            raise SourceError(f"cannot open more than {MAX_CONNECTIONS} websocket connections per IP")
        if check_only or not src.running:
            return
        if k == len(src.links):
            link = Link(src, k, [market])
            src.links.append(link)
            src.start_soon(link.run)
            return
        await src.links[k].add(market)

    async def remove(self, market: Market) -> None:
        """Stop following a market (its history stays)."""
        src = self.source
        if market not in self.wanted:
            raise SourceError(f"{src.name} does not follow {market[0]}/{market[1]}")
        self.wanted.remove(market)
        src.derived.forget(market)
        src.confirmer.size(self.native())
        for link in src.links:
            if market in link.subs:
                await link.remove(market)
        src.tracker.forget(*market)
        src.grid.forget(*market)
