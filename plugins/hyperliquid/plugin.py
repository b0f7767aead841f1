"""Registers the ``hyperliquid`` source (entry point ``hyperliquid`` in pyproject.toml).

Restart policy: ``temporary``. The source heals itself: every connection reconnects forever
with backoff and jitter, REST calls retry, and even an unexpected error inside a connection
only ends that connection. What escapes :meth:`HyperliquidSource.run` is therefore something
retrying cannot fix (an unknown coin: :class:`~candlewick.errors.SourceError` with close
matches), so the component is marked ``failed`` with that message instead of looping on it.
``[restart.hyperliquid]`` can still override the policy.

Its companion ``hyperliquid-backfill`` (gap repair, :mod:`candlewick.plugins.hyperliquid.backfill.plugin`)
is built beside it wherever it is configured.
"""

from __future__ import annotations

from candlewick.plugin import ComponentSpec, hookimpl
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.source import HyperliquidSource
from candlewick.runtime.policy import RestartPolicy, RestartType

__all__ = ["SPEC", "candlewick_register_sources"]

SPEC = ComponentSpec(
    name="hyperliquid",
    kind="source",
    factory=HyperliquidSource,
    config_model=HyperliquidConfig,
    backends=frozenset({"asyncio", "trio"}),
    restart=RestartPolicy(restart=RestartType.TEMPORARY),
    description="Hyperliquid candles: live websocket plus REST history",
    companions=("hyperliquid-backfill",),
)


@hookimpl
def candlewick_register_sources() -> list[ComponentSpec]:
    """The Hyperliquid live source."""
    return [SPEC]
