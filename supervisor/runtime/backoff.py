"""The one retry backoff of candlewick: exponential ceiling, jittered delay, reset after success.

The rule, everywhere a retry waits (restarts, reconnects, REST retries, sink reconnects,
buffer write retries): before retry ``n`` (0 for the first in a row) the ceiling is
``c = min(maximum, initial * factor**n)``, optionally capped lower for one retry, and the
delay is ``uniform(floor * c, c)``.

``floor = 0`` (the default) is full jitter, ``uniform(0, c)``: spread retries of many clients
the most (restarts, websocket reconnects). A caller that must not retry sooner than half the
ceiling (a REST retry after a 5xx, a database reconnect) passes ``floor=0.5``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """Delays ``uniform(floor * c, c)`` with ``c = min(maximum, initial * factor**attempt)``."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    #: Share of the ceiling the delay never goes under (0: full jitter).
    floor: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    #: Retries in a row so far (the exponent of the next ceiling).
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"floor must be within [0, 1], not {self.floor}")

    def ceiling(self) -> float:
        """The largest delay the next retry may wait."""
        return min(self.maximum, self.initial * self.factor**self.attempt)

    def next(self, *, cap: float | None = None) -> float:
        """The delay before the next retry (at most ``cap`` when given); advances the attempt counter."""
        ceiling = self.ceiling()
        if cap is not None:
            ceiling = min(ceiling, cap)
        self.attempt += 1
        return self.rng.uniform(self.floor * ceiling, ceiling)

    def reset(self) -> None:
        """Forget the failures in a row (after a success, or a long enough healthy run)."""
        self.attempt = 0
