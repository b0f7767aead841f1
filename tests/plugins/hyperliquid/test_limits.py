"""The per-IP websocket limit plan, the connect and message gates, and REST weight arithmetic."""

from __future__ import annotations

import pytest

from candlewick.gaps.eta import job_weight, queue_etas
from candlewick.gaps.jobs import Job, JobKind, JobState
from candlewick.model import INTERVALS
from candlewick.plugins.hyperliquid.budget import WeightBudget
from candlewick.plugins.hyperliquid.limits import (
    CONNECTS_BURST,
    CONNECTS_PER_MINUTE,
    MAX_CONNECTS_PER_MINUTE,
    MAX_MESSAGES_PER_MINUTE,
    MESSAGES_BURST,
    MESSAGES_PER_MINUTE,
    place,
    plan,
)
from candlewick.plugins.hyperliquid.weights import available, confirm_all_fits, confirm_weight_per_minute, history_floor
from candlewick.runtime.clock import ManualClock


def _markets(coins: int, intervals: tuple[str, ...] = INTERVALS) -> list[tuple[str, str]]:
    return [(f"C{k}", i) for k in range(coins) for i in intervals]


def test_a_small_config_takes_one_connection() -> None:
    p = plan(_markets(1, ("1m", "1h")))
    assert p.connections == [[("C0", "1m"), ("C0", "1h")]]
    assert not p.unplaced


def test_many_markets_spread_over_at_most_ten_connections_and_1000_subscriptions() -> None:
    p = plan(_markets(240))  # 3360 markets, all native
    assert len(p.connections) == 10
    assert p.subscriptions == 1000
    assert max(len(c) for c in p.connections) == 100
    assert len(p.native) == 1000
    assert len(p.unplaced) == 2360
    assert p.native == _markets(240)[:1000]  # in the order given


def test_derived_markets_need_only_their_coins_1m() -> None:
    """The seam for derived intervals: 240 perps x 14 intervals fit once all but 1m are derived."""
    p = plan(_markets(240), native=lambda m: m[1] == "1m")
    assert p.subscriptions == 240
    assert not p.unplaced
    assert len(p.derived) == 240 * 13
    assert len(p.connections) == 3
    assert {s[1] for c in p.connections for s in c} == {"1m"}


def test_a_new_market_goes_to_the_lightest_connection_then_a_new_one() -> None:
    assert place([40, 10, 70], per_connection=1000) == 1
    assert place([100] * 3, per_connection=1000) == 3
    assert place([100] * 10, per_connection=1000) == 0
    assert place([1000] * 10, per_connection=1000) is None
    assert place([], per_connection=1000) == 0


class _Stopwatch(ManualClock):
    """A clock moved by hand, without sleepers (the gates are only asked ``try_acquire``)."""

    def set(self, t: float) -> None:
        self._now = t


@pytest.mark.parametrize(
    ("rate", "burst", "limit"),
    [
        (CONNECTS_PER_MINUTE, CONNECTS_BURST, MAX_CONNECTS_PER_MINUTE),
        (MESSAGES_PER_MINUTE, MESSAGES_BURST, MAX_MESSAGES_PER_MINUTE),
    ],
)
def test_the_gates_never_pass_more_than_the_limit_in_any_minute(rate: int, burst: int, limit: int) -> None:
    """Callers asking as fast as they can (every 50 ms for 3 min) get at most burst + rate in any 60 s."""
    clock = _Stopwatch(start=0.0)
    gate = WeightBudget(rate, clock, burst=burst, headroom=0)
    times: list[float] = []
    for step in range(3600):
        clock.set(step * 0.05)
        while gate.try_acquire(1):
            times.append(clock.monotonic())
    assert burst + rate <= limit
    counts, lo = [], 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 60:
            lo += 1
        counts.append(hi - lo + 1)
    assert max(counts) <= limit
    assert max(counts) >= burst + rate - 2  # and the gate does not waste what is allowed


def test_history_floor_is_one_request_per_market() -> None:
    assert history_floor([5000, 60, 61, 0]) == 104 + 21 + 22
    assert history_floor([12000]) == 104 + 104 + (20 + 34)  # were a market longer than a page
    now = 1_700_000_000_000
    assert available("1m", 0, now) == 5000
    assert available("1M", 1_682_899_200_000, now) == 7  # May..November 2023
    assert available("1h", now + 3_600_000, now) == 0


def test_confirming_every_close_does_not_scale() -> None:
    """21 weight a minute per 1m market: 60 of them would take the whole 1200."""
    assert confirm_weight_per_minute(["1m"], 10.0) == 21
    assert confirm_weight_per_minute(["1h"], 10.0) == pytest.approx(21 / 60)
    assert confirm_all_fits(["1m", "1h"], 10.0, 1200)
    assert not confirm_all_fits(["1m"] * 15, 10.0, 1200)


def test_queued_jobs_get_an_eta_from_the_weight_ahead() -> None:
    class Pricing:
        page_size, base_weight, items_per_weight = 5000, 20, 60

    def job(id: str, interval: str, horizon: int, state: JobState = JobState.QUEUED) -> Job:
        return Job(id=id, kind=JobKind.REPAIR, coin="BTC", interval=interval, start=0, end=1,
                   state=state, expected=5000, horizon=horizon, priority=1, created=0.0)  # fmt: skip

    jobs = [job("1", "1h", 3_600_000), job("2", "1m", 60_000), job("3", "5m", 300_000, JobState.RUNNING)]
    etas = queue_etas(jobs, Pricing(), 1200)
    assert job_weight(5000, Pricing()) == 104
    assert etas == {"3": 5.2, "2": 10.4, "1": 15.6}
