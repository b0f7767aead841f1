"""Registers ``hyperliquid-backfill``: gap repair and backfill jobs beside the live source.

The ``hyperliquid`` spec names it as its companion, so the daemon builds it beside that source
(:mod:`candlewick.runtime.builder`); ``[sources.hyperliquid-backfill]`` tunes it
(:class:`candlewick.gaps.component.GapRepairConfig`). Restart policy: permanent,
so a crash (say, an unreadable state file that was fixed) is retried with backoff.
"""

from __future__ import annotations

from typing import Any

from candlewick.gaps.component import GapRepair, GapRepairConfig
from candlewick.plugin import ComponentContext, ComponentSpec, hookimpl
from candlewick.plugins.hyperliquid.backfill.history import HyperliquidHistory

__all__ = ["SPEC", "candlewick_register_sources"]


def build(ctx: ComponentContext[Any]) -> GapRepair:
    """The companion of the ``hyperliquid`` source."""
    return GapRepair(ctx, HyperliquidHistory(ctx, source="hyperliquid"))


SPEC = ComponentSpec(
    name="hyperliquid-backfill",
    kind="source",
    factory=build,
    config_model=GapRepairConfig,
    description="Hyperliquid gap repair and backfill jobs over REST",
)


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    """Gap repair for the Hyperliquid source."""
    return [SPEC]
