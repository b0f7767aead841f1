"""Which intervals are subscribed natively and which are derived from 1m candles. Pure.

:func:`plan_intervals` keeps the intervals the configuration derives (``derive``) derived and,
when coins x native intervals would exceed the per-IP subscription limit, derives more of them,
shortest first (their candles close soonest, so reconciliation learns about them soonest), until
the subscriptions fit. ``1m`` is always native: it is what the others are folded from.

This decides *which intervals* are derived; :func:`candlewick.plugins.hyperliquid.limits.plan`
then places the native subscriptions on connections (its ``native`` function is this plan's
answer per market), and :func:`~candlewick.plugins.hyperliquid.limits.place` places the ones
added later. The limits themselves live in :mod:`~candlewick.plugins.hyperliquid.limits`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from candlewick.model import INTERVALS
from candlewick.plugins.hyperliquid.limits import MAX_CONNECTIONS, MAX_SUBSCRIPTIONS

__all__ = ["IntervalPlan", "PlanError", "plan_intervals", "subscription_limit"]


class PlanError(ValueError):
    """No split of native and derived intervals fits the limits."""


@dataclass(frozen=True, slots=True)
class IntervalPlan:
    """The split of one configuration's intervals."""

    native: tuple[str, ...]
    derived: tuple[str, ...]
    #: Derived only because the limits demanded it (the configuration did not ask).
    forced: tuple[str, ...]
    #: Native subscriptions the plan needs (coins x native intervals).
    subscriptions: int
    limit: int

    def explain(self, coins: int) -> str:
        """One sentence for the start-up log when derivation was forced."""
        wanted = coins * (len(self.native) + len(self.forced))
        return (
            f"{coins} coins x {len(self.native) + len(self.forced)} subscribed intervals would need {wanted} "
            f"subscriptions, over the limit of {self.limit} per IP: deriving {', '.join(self.forced)} from 1m "
            f"candles instead ({self.subscriptions} subscriptions)"
        )


def subscription_limit(per_connection: int, *, connections: int = MAX_CONNECTIONS) -> int:
    """Subscriptions one IP may hold: the per-IP cap, or fewer if connections x per-connection is smaller."""
    return min(MAX_SUBSCRIPTIONS, connections * per_connection)


def plan_intervals(coins: int, intervals: Sequence[str], derive: Iterable[str], *, limit: int) -> IntervalPlan:
    """Split ``intervals`` for ``coins`` coins so at most ``limit`` subscriptions are native.

    Raises :class:`PlanError` when even 1m alone does not fit, or when derivation is needed
    but 1m is not among the intervals.
    """
    derived = [i for i in intervals if i in set(derive) and i != "1m"]
    native = [i for i in intervals if i not in derived]
    forced: list[str] = []
    for candidate in sorted(native, key=INTERVALS.index):
        if coins * len(native) <= limit:
            break
        if candidate == "1m":
            continue
        native.remove(candidate)
        forced.append(candidate)
    if coins * len(native) > limit:
        raise PlanError(
            f"{coins} coins need {coins * len(native)} subscriptions even with every interval but 1m derived; "
            f"one IP may hold {limit}: follow fewer coins here and share the rest with another host"
        )
    if (derived or forced) and "1m" not in intervals:
        raise PlanError(
            f'derived intervals ({", ".join(derived + forced)}) are folded from 1m candles: add "1m" to intervals'
        )
    return IntervalPlan(
        native=tuple(native),
        derived=tuple(i for i in intervals if i in derived or i in forced),
        forced=tuple(forced),
        subscriptions=coins * len(native),
        limit=limit,
    )
