"""Hyperliquid's per-IP websocket limits, and the plan that keeps them. Pure: no I/O.

The exchange allows per IP (reference §1.9): 10 websocket connections, 30 new connections a
minute, 1000 subscriptions in total, 2000 messages sent a minute (subscribes, unsubscribes,
pings). Two token buckets (:class:`~candlewick.plugins.hyperliquid.budget.WeightBudget`) gate
what the daemon sends. A bucket refilling ``rate`` a minute and holding ``burst`` lets through
at most ``burst + rate`` in any 60 s, however the requests bunch up, so:

- connects: ``CONNECTS_BURST + CONNECTS_PER_MINUTE = 10 + 18 = 28 <= 30``;
- messages: ``MESSAGES_BURST + MESSAGES_PER_MINUTE = 900 + 1000 = 1900 <= 2000``
  (one connection resubscribing its 100 markets takes 100; 10 connections pinging every 20 s
  take 30 a minute).

:func:`plan` spreads markets over connections: the subscriptions are the markets subscribed
natively plus, for a market derived from 1m candles, that coin's ``1m`` (the caller's
``native`` function decides per market; by default every market is native). At most
``max_subscriptions`` are placed, in the order given; the rest are reported as ``unplaced``.
Connections carry at most ``per_connection`` each and at least enough to fill them evenly up to
:data:`SPREAD` per connection, so a dropped connection costs a small resubscribe.
:func:`place` picks the connection a market added later goes to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CONNECTS_BURST",
    "CONNECTS_PER_MINUTE",
    "MAX_CONNECTIONS",
    "MAX_CONNECTS_PER_MINUTE",
    "MAX_MESSAGES_PER_MINUTE",
    "MAX_SUBSCRIPTIONS",
    "MESSAGES_BURST",
    "MESSAGES_PER_MINUTE",
    "SPREAD",
    "Plan",
    "place",
    "plan",
]

Market = tuple[str, str]

#: The exchange's limits per IP.
MAX_CONNECTIONS = 10
MAX_CONNECTS_PER_MINUTE = 30
MAX_SUBSCRIPTIONS = 1000
MAX_MESSAGES_PER_MINUTE = 2000
#: What the daemon allows itself (burst + rate stays under each per-minute limit).
CONNECTS_PER_MINUTE = 18
CONNECTS_BURST = 10
MESSAGES_PER_MINUTE = 1000
MESSAGES_BURST = 900
#: Subscriptions per connection the plan aims at before it packs connections fuller.
SPREAD = 100
#: The interval derived markets are built from.
BASE_INTERVAL = "1m"


def always_native(market: Market) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Plan:
    """Markets by how they are followed, and the subscriptions of each connection."""

    native: list[Market] = field(default_factory=list)
    derived: list[Market] = field(default_factory=list)
    connections: list[list[Market]] = field(default_factory=list)
    #: Markets that did not fit within the subscription limit (not followed).
    unplaced: list[Market] = field(default_factory=list)

    @property
    def subscriptions(self) -> int:
        return sum(len(c) for c in self.connections)


def connections_for(subscriptions: int, *, per_connection: int, max_connections: int = MAX_CONNECTIONS) -> int:
    """How many connections carry ``subscriptions``: filled evenly up to :data:`SPREAD`, then fuller."""
    if subscriptions <= 0:
        return 0
    spread = math.ceil(subscriptions / min(SPREAD, per_connection))
    return max(1, min(max_connections, max(spread, math.ceil(subscriptions / per_connection))))


def plan(
    markets: Sequence[Market],
    *,
    native: Callable[[Market], bool] = always_native,
    per_connection: int = MAX_SUBSCRIPTIONS,
    max_subscriptions: int = MAX_SUBSCRIPTIONS,
    max_connections: int = MAX_CONNECTIONS,
) -> Plan:
    """Which subscriptions carry ``markets``, spread over connections, within the limits."""
    capacity = min(max_subscriptions, per_connection * max_connections)
    subs: dict[Market, None] = {}
    out = Plan()
    for market in markets:
        is_native = native(market) or market[1] == BASE_INTERVAL
        need = [market] if is_native else [(market[0], BASE_INTERVAL)]
        fresh = [s for s in need if s not in subs]
        if len(subs) + len(fresh) > capacity:
            out.unplaced.append(market)
            continue
        subs.update(dict.fromkeys(fresh))
        (out.native if is_native else out.derived).append(market)
    count = connections_for(len(subs), per_connection=per_connection, max_connections=max_connections)
    ordered = list(subs)
    for k in range(count):
        out.connections.append(ordered[k::count])
    return out


def place(loads: Sequence[int], *, per_connection: int, max_connections: int = MAX_CONNECTIONS) -> int | None:
    """Where one more subscription goes: the least loaded connection under :data:`SPREAD`, else a
    new one (``len(loads)``) while allowed, else the least loaded with room; ``None`` if all are full."""
    spread = min(SPREAD, per_connection)
    light = [k for k, n in enumerate(loads) if n < spread]
    if light:
        return min(light, key=lambda k: loads[k])
    if len(loads) < max_connections:
        return len(loads)
    roomy = [k for k, n in enumerate(loads) if n < per_connection]
    return min(roomy, key=lambda k: loads[k]) if roomy else None
