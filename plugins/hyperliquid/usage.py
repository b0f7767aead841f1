"""How much of each per-IP limit the source uses now, as metrics (``stats`` reads them) and a dict."""

from __future__ import annotations

from typing import Any, Protocol

from candlewick.plugins.hyperliquid.budget import WeightBudget
from candlewick.plugins.hyperliquid.limits import (
    MAX_CONNECTIONS,
    MAX_CONNECTS_PER_MINUTE,
    MAX_MESSAGES_PER_MINUTE,
    MAX_SUBSCRIPTIONS,
)
from candlewick.runtime import names
from candlewick.runtime.telemetry import Telemetry

__all__ = ["LimitUsage"]


class _Link(Protocol):
    @property
    def connected(self) -> bool: ...
    @property
    def subs(self) -> Any: ...


class Links(Protocol):
    @property
    def links(self) -> list[Any]: ...
    @property
    def messages(self) -> WeightBudget: ...
    @property
    def connects(self) -> WeightBudget: ...


class LimitUsage:
    """Gauges of one source's connections, subscriptions, connects and messages (label ``source``)."""

    def __init__(self, name: str, source: Links, telemetry: Telemetry) -> None:
        self.source = source
        m = telemetry.metrics
        label = {"source": name}
        m.gauge(names.WS_CONNECTIONS, "Open websocket connections (limit 10 per IP)", ("source",)).set_function(
            self.connections, **label
        )
        m.gauge(names.WS_SUBSCRIPTIONS, "Candle subscriptions (limit 1000 per IP)", ("source",)).set_function(
            self.subscriptions, **label
        )
        m.gauge(
            names.WS_CONNECTS_LAST_MINUTE, "Websocket connects in the last 60 s (limit 30 per IP)", ("source",)
        ).set_function(source.connects.used_last_minute, **label)
        m.gauge(
            names.WS_MESSAGES_LAST_MINUTE, "Websocket messages sent in the last 60 s (limit 2000 per IP)", ("source",)
        ).set_function(source.messages.used_last_minute, **label)

    def connections(self) -> float:
        return float(sum(1 for link in self.source.links if link.connected))

    def subscriptions(self) -> float:
        return float(sum(len(link.subs) for link in self.source.links))

    def snapshot(self) -> dict[str, Any]:
        """Each limit as ``[used, allowed]``."""
        s = self.source
        return {
            "connections": [int(self.connections()), MAX_CONNECTIONS],
            "subscriptions": [int(self.subscriptions()), MAX_SUBSCRIPTIONS],
            "connects_last_minute": [round(s.connects.used_last_minute()), MAX_CONNECTS_PER_MINUTE],
            "messages_last_minute": [round(s.messages.used_last_minute()), MAX_MESSAGES_PER_MINUTE],
        }
