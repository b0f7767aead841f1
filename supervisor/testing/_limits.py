"""The per-IP websocket limits the fake exchange enforces, as Hyperliquid documents them. No I/O.

Every client of the fake is on loopback, so all of them share one IP's limits: 10 open
connections, 30 new connections a minute, 1000 subscriptions in total, 2000 messages a minute
(reference §1.9). How the real exchange refuses an 11th connection is not documented; the fake
answers the upgrade with HTTP 429 (body ``Too many connections``). Over-limit subscriptions and
messages get the documented ``error`` strings. Each refusal is counted in
:attr:`IpLimits.violations`, so a test can assert a client never tried.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["MESSAGES_ERROR", "SUBSCRIPTIONS_ERROR", "IpLimits"]

SUBSCRIPTIONS_ERROR = "Cannot subscribe to more than 1000 channels."
MESSAGES_ERROR = "Cannot send more than 2000 messages per minute."
WINDOW = 60.0


def _within(times: deque[float], now: float, limit: int) -> bool:
    while times and times[0] <= now - WINDOW:
        times.popleft()
    if len(times) >= limit:
        return False
    times.append(now)
    return True


@dataclass
class IpLimits:
    """Counts one IP's connections, connects, subscriptions and messages; ``enforce`` off only counts."""

    subscriptions: Callable[[], int]
    connections: Callable[[], int]
    enforce: bool = True
    max_connections: int = 10
    max_connects_per_minute: int = 30
    max_subscriptions: int = 1000
    max_messages_per_minute: int = 2000
    violations: dict[str, int] = field(default_factory=dict)
    #: The most ever seen at once / within a minute, per limit.
    peaks: dict[str, int] = field(default_factory=dict)
    _connects: deque[float] = field(default_factory=deque)
    _messages: deque[float] = field(default_factory=deque)

    def _violate(self, what: str) -> bool:
        self.violations[what] = self.violations.get(what, 0) + 1
        return not self.enforce

    def _peak(self, what: str, value: int) -> None:
        self.peaks[what] = max(self.peaks.get(what, 0), value)

    def connect(self, now: float) -> bool:
        """A websocket upgrade arrives: may it open?"""
        ok = _within(self._connects, now, self.max_connects_per_minute)
        self._peak("connects_per_minute", len(self._connects))
        if not ok and not self._violate("connects_per_minute"):
            return False
        if self.connections() >= self.max_connections and not self._violate("connections"):
            return False
        self._peak("connections", self.connections() + 1)
        return True

    def message(self, now: float) -> bool:
        """A message arrives: is it within 2000 a minute?"""
        ok = _within(self._messages, now, self.max_messages_per_minute)
        self._peak("messages_per_minute", len(self._messages))
        return ok or self._violate("messages_per_minute")

    def subscribe(self) -> bool:
        """A subscribe of a new channel: is there room under 1000?"""
        if self.subscriptions() >= self.max_subscriptions and not self._violate("subscriptions"):
            return False
        self._peak("subscriptions", self.subscriptions() + 1)
        return True
