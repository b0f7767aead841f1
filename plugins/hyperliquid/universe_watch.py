"""The thin async shell around :mod:`~candlewick.plugins.hyperliquid.universe`: ask, resolve, follow.

:class:`UniverseWatch` asks the exchange for the metadata ``coins`` needs (``meta`` of the main
dex and of each HIP-3 dex named, ``spotMeta``, ``perpDexs`` when a ``DEX:*`` set is used; 20
weight each, from the source's one REST budget), resolves the sets, keeps this daemon's shard
(:mod:`~candlewick.plugins.hyperliquid.shard`), and every ``universe_refresh`` seconds looks
again: a new listing is added and a coin gone from the resolution for two looks in a row is
retired, each interval of it through the source's ``add_market``/``remove_market`` (the path
``markets.add``/``markets.remove`` take). Retired markets keep their history. A coin the
operator removed by hand is not added back until it leaves the resolution and comes back.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from candlewick.errors import CandlewickError, SourceError
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.rest import HyperliquidRest, RestError, RestUnavailable
from candlewick.plugins.hyperliquid.universe import (
    MarketSet,
    Metadata,
    Resolution,
    Retirement,
    dexes_of,
    parse_spec,
    resolve,
)
from candlewick.runtime.backoff import Backoff
from candlewick.runtime.clock import Clock

__all__ = ["UniverseWatch", "fetch_metadata", "preview"]

log = logging.getLogger("candlewick.plugins.hyperliquid.source")


class Follower(Protocol):
    """What the watch needs from its source."""

    @property
    def name(self) -> str: ...

    async def add_market(self, coin: str, interval: str) -> None: ...

    async def remove_market(self, coin: str, interval: str) -> None: ...

    def markets(self) -> list[tuple[str, str]]: ...


async def fetch_metadata(rest: HyperliquidRest, specs: list[str], *, refresh: bool = False) -> Metadata:
    """The metadata ``specs`` need, asked of the exchange (``refresh``: not from the cache)."""
    parsed = [parse_spec(s) for s in specs]
    dexes = dexes_of(specs)
    metas: dict[str, dict[str, Any]] = {"": await rest.meta(refresh=refresh)}
    for dex in dexes:
        metas[dex] = await rest.meta(dex, refresh=refresh)
    wants_spot = any(
        (isinstance(p, MarketSet) and p.kind == "spot") or (isinstance(p, str) and ("/" in p or p.startswith("@")))
        for p in parsed
    )
    spot = await rest.spot_meta(refresh=refresh) if wants_spot else None
    perp_dexs = None
    if any(isinstance(p, MarketSet) and p.dex for p in parsed):
        answer = await rest.info({"type": "perpDexs"})
        perp_dexs = answer if isinstance(answer, list) else None
    return Metadata.from_answers(metas, spot, perp_dexs)


class UniverseWatch:
    """Resolves ``coins`` at start and follows listings and delistings afterwards."""

    def __init__(self, config: HyperliquidConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.shard = config.shard_of()
        #: The last resolution (``None`` before the first).
        self.resolution: Resolution | None = None
        #: The coins of this shard in the last resolution.
        self.coins: list[str] = []
        self.retirement = Retirement()
        self.refreshed_at: float | None = None

    def describe(self) -> dict[str, Any] | None:
        """What the sets resolve to now (``markets.list`` and ``status`` show it); ``None`` without sets or shard."""
        r = self.resolution
        if not self.config.has_sets() and self.shard.count == 1:
            return None
        return {
            "specs": list(self.config.coins),
            "shard": self.shard.spec,
            "coins": len(self.coins),
            "sets": {} if r is None else {spec: len(members) for spec, members in r.sets.items()},
            "delisted_named": [] if r is None else r.delisted,
            "refreshed_at": self.refreshed_at,
        }

    def _take(self, resolution: Resolution) -> list[str]:
        if resolution.unknown_dexes:
            raise SourceError(
                f"coins names HIP-3 dexes the exchange does not list: {', '.join(resolution.unknown_dexes)}",
                hint="see perpDexs for the dex names; write a set as 'DEX:*'",
            )
        self.resolution = resolution
        self.refreshed_at = self.clock.time()
        return self.shard.share(resolution.coins)

    async def first(self, rest: HyperliquidRest, *, name: str) -> list[str]:
        """This shard's coins now; named coins checked (``validate_coins``: an unknown one raises
        :class:`SourceError`); retried while the exchange cannot be reached."""
        cfg = self.config
        backoff = Backoff(initial=cfg.reconnect_initial, maximum=cfg.reconnect_max, floor=0.5)
        while True:
            try:
                if cfg.validate_coins and cfg.named_coins():
                    await rest.check_coins(cfg.named_coins())
                if not cfg.has_sets():
                    self.coins = self.shard.share(cfg.named_coins())
                    return list(self.coins)
                meta = await fetch_metadata(rest, cfg.coins)
                break
            except RestUnavailable as exc:
                delay = backoff.next()
                log.warning("%s: cannot resolve coins yet (%s); retry in %.1fs", name, exc, delay)
                await self.clock.sleep(delay)
        self.coins = self._take(resolve(cfg.coins, meta))
        for coin in self.resolution.delisted if self.resolution else ():
            log.warning("%s: %s is delisted on the exchange; no candle will come", name, coin)
        return list(self.coins)

    async def run(self, rest: HyperliquidRest, source: Follower) -> None:
        """Look again every ``universe_refresh`` seconds, forever (named coins only: never)."""
        if not self.config.has_sets():
            return
        while True:
            await self.clock.sleep(self.config.universe_refresh)
            try:
                await self.refresh(rest, source)
            except (RestError, CandlewickError) as exc:
                log.warning("%s: universe refresh failed (%s); next look in %gs", source.name, exc,
                            self.config.universe_refresh)  # fmt: skip

    async def refresh(self, rest: HyperliquidRest, source: Follower) -> tuple[list[str], list[str]]:
        """One look: add new coins, retire the ones gone twice; returns ``(added, retired)``."""
        meta = await fetch_metadata(rest, self.config.coins, refresh=True)
        now = self._take(resolve(self.config.coins, meta))
        added, retired = self.retirement.step(self.coins, now)
        self.coins = [c for c in self.coins if c not in retired] + added
        intervals = sorted(self.config.intervals, key=lambda i: i != "1m")  # derived ones need 1m first
        for coin in retired:
            followed = set(source.markets())
            for interval in intervals:
                if (coin, interval) in followed:
                    await source.remove_market(coin, interval)
            log.info("%s: %s retired (delisted or gone); its history stays", source.name, coin)
        for coin in added:
            try:
                for interval in intervals:
                    await source.add_market(coin, interval)
            except SourceError as exc:
                log.error("%s: cannot follow the new listing %s: %s", source.name, coin, exc)
                continue
            log.info("%s: %s listed; following %s", source.name, coin, ", ".join(intervals))
        return added, retired


async def preview(config: HyperliquidConfig, clock: Clock) -> dict[str, Any]:
    """What ``coins`` resolves to now, asked of ``rest_url`` (``check-config`` prints it)."""
    from candlewick.plugins.hyperliquid.budget import WeightBudget

    async with HyperliquidRest.from_config(config, budget=WeightBudget(config.rest_weight_per_minute, clock),
                                           clock=clock) as rest:  # fmt: skip
        meta = await fetch_metadata(rest, config.coins)
    resolution = resolve(config.coins, meta)
    shard = config.shard_of()
    mine = shard.share(resolution.coins)
    return {
        "sets": {spec: len(members) for spec, members in resolution.sets.items()},
        "coins": len(resolution.coins),
        "shard": shard.spec,
        "shard_coins": len(mine),
        "markets": len(mine) * len(config.intervals),
        "delisted_named": resolution.delisted,
        "unknown_dexes": resolution.unknown_dexes,
        "first": mine[:20],
    }
