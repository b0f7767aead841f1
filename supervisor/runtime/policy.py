"""Restart policies: pure decisions, no I/O, no clock of their own.

OTP semantics for the restart type:

- ``permanent``: always restarted, whether it crashed or returned.
- ``transient``: restarted only after a crash; a normal return means done.
- ``temporary``: never restarted.

Backoff is exponential with full jitter (``uniform(0, min(max, initial * factor**n))``); ``n``
resets only after the child stayed up for ``reset_after`` seconds. Restart intensity allows at
most ``max_restarts`` restarts within ``within`` seconds; one more marks the child ``failed``.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field
from enum import StrEnum


class RestartType(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class ChildState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


DEFAULT_BACKOFF_INITIAL = 0.5
DEFAULT_BACKOFF_FACTOR = 2.0
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_RESET_AFTER = 60.0
DEFAULT_MAX_RESTARTS = 10
DEFAULT_WITHIN = 60.0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How one supervised child is restarted."""

    restart: RestartType = RestartType.PERMANENT
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    backoff_max: float = DEFAULT_BACKOFF_MAX
    reset_after: float = DEFAULT_RESET_AFTER
    max_restarts: int = DEFAULT_MAX_RESTARTS
    within: float = DEFAULT_WITHIN
    critical: bool = False

    def should_restart(self, *, crashed: bool) -> bool:
        """Whether a child that exited (crashed or not) is restarted at all."""
        if self.restart is RestartType.PERMANENT:
            return True
        if self.restart is RestartType.TRANSIENT:
            return crashed
        return False


@dataclass(slots=True)
class RestartTracker:
    """Backoff attempt counter and restart-intensity window of one child."""

    policy: RestartPolicy
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0
    _restarts: collections.deque[float] = field(default_factory=collections.deque)

    def child_exited(self, *, up_for: float) -> None:
        """Account an exit after ``up_for`` seconds of uptime (long enough: the backoff starts over)."""
        if up_for >= self.policy.reset_after:
            self.attempt = 0

    def allow_restart(self, now: float) -> bool:
        """Record a restart at ``now``; False when it would exceed the intensity limit."""
        window_start = now - self.policy.within
        while self._restarts and self._restarts[0] <= window_start:
            self._restarts.popleft()
        if len(self._restarts) >= self.policy.max_restarts:
            return False
        self._restarts.append(now)
        return True

    def next_delay(self) -> float:
        """Full-jitter delay before the next start; advances the attempt counter."""
        p = self.policy
        ceiling = min(p.backoff_max, p.backoff_initial * p.backoff_factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        """Forget history (an operator started the child again by hand)."""
        self.attempt = 0
        self._restarts.clear()
