"""The one backoff rule: exponential ceiling, ``uniform(floor * c, c)``, reset after success."""

from __future__ import annotations

import random

import pytest

from candlewick.runtime.backoff import Backoff
from candlewick.runtime.policy import RestartPolicy, RestartTracker


class Extremes(random.Random):
    """Returns the low or the high end of every ``uniform`` draw."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def test_ceilings_grow_by_factor_up_to_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, factor=3.0, rng=Extremes(high=True))
    assert [backoff.next() for _ in range(5)] == [1.0, 3.0, 9.0, 10.0, 10.0]
    assert backoff.attempt == 5


def test_full_jitter_reaches_zero_and_floor_keeps_a_share() -> None:
    assert Backoff(initial=4.0, rng=Extremes(high=False)).next() == 0.0
    assert Backoff(initial=4.0, floor=0.5, rng=Extremes(high=False)).next() == 2.0


def test_delays_stay_within_the_rule() -> None:
    backoff = Backoff(initial=0.5, maximum=8.0, floor=0.25, rng=random.Random(7))
    for n in range(12):
        ceiling = min(8.0, 0.5 * 2**n)
        delay = backoff.next()
        assert 0.25 * ceiling <= delay <= ceiling


def test_cap_lowers_one_ceiling_but_the_exponent_still_grows() -> None:
    backoff = Backoff(initial=2.0, maximum=60.0, floor=0.5, rng=Extremes(high=True))
    assert backoff.next(cap=1.0) == 1.0
    assert backoff.next(cap=1.0) == 1.0
    assert backoff.next() == 8.0


def test_reset_starts_over() -> None:
    backoff = Backoff(initial=1.0, rng=Extremes(high=True))
    backoff.next()
    backoff.next()
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next() == 1.0


@pytest.mark.parametrize("floor", [-0.1, 1.5])
def test_floor_outside_zero_one_is_refused(floor: float) -> None:
    with pytest.raises(ValueError, match="floor"):
        Backoff(floor=floor)


def test_restart_tracker_uses_full_jitter() -> None:
    policy = RestartPolicy(backoff_initial=0.5, backoff_factor=2.0, backoff_max=30.0)
    low = RestartTracker(policy, rng=Extremes(high=False))
    high = RestartTracker(policy, rng=Extremes(high=True))
    assert [low.next_delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [high.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    high.child_exited(up_for=policy.reset_after)
    assert high.attempt == 0
