"""Reconnect backoff: exponential with jitter, reset after a success."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays uniform in ``[c/2, c]``, ``c = min(maximum, initial * factor**n)`` for the n-th retry in a row."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        ceiling = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget failures (after a success)."""
        self.attempt = 0
