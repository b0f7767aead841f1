"""Restart policies: pure decisions, no I/O, no clock of their own.

OTP semantics for the restart type:

- ``permanent``: always restarted, whether it crashed or returned.
- ``transient``: restarted only after a crash; a normal return means done.
- ``temporary``: never restarted.

Backoff is exponential with full jitter (``uniform(0, min(max, initial * factor**n))``, the
:class:`~candlewick.runtime.backoff.Backoff` rule with ``floor = 0``); ``n`` resets only after
the child stayed up for ``reset_after`` seconds. Restart intensity allows at most
``max_restarts`` restarts within ``within`` seconds; one more marks the child ``failed``.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass
from enum import StrEnum

from candlewick.runtime.backoff import Backoff


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


class RestartTracker:
    """Backoff attempt counter and restart-intensity window of one child."""

    def __init__(self, policy: RestartPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.backoff = Backoff(
            initial=policy.backoff_initial,
            maximum=policy.backoff_max,
            factor=policy.backoff_factor,
            rng=rng or random.Random(),
        )
        self._restarts: collections.deque[float] = collections.deque()

    @property
    def rng(self) -> random.Random:
        """Where the jitter comes from (tests seed it)."""
        return self.backoff.rng

    @rng.setter
    def rng(self, rng: random.Random) -> None:
        self.backoff.rng = rng

    @property
    def attempt(self) -> int:
        """Restarts in a row since the child last stayed up ``reset_after`` seconds."""
        return self.backoff.attempt

    def child_exited(self, *, up_for: float) -> None:
        """Account an exit after ``up_for`` seconds of uptime (long enough: the backoff starts over)."""
        if up_for >= self.policy.reset_after:
            self.backoff.reset()

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
        return self.backoff.next()

    def reset(self) -> None:
        """Forget history (an operator started the child again by hand)."""
        self.backoff.reset()
        self._restarts.clear()
