"""Measuring the exchange's clock: bounds from Date headers and candle frames, steps, stale evidence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candlewick.runtime.clock import ManualClock
from candlewick.runtime.exchange_clock import MAX_DRIFT, ExchangeClock, OffsetEstimator
from candlewick.testing import SkewedClock

#: A local wall clock two minutes fast (a NAS without NTP).
AHEAD_MS = 120_000


def date_sample(est: OffsetEstimator, exchange_at_stamp: float, mono_offset: float, sent: float, rtt: float) -> None:
    """A response stamped (whole seconds) at ``exchange_at_stamp``, somewhere inside the round trip."""
    stamp_mono = exchange_at_stamp + mono_offset
    est.http_date(min(sent, stamp_mono), max(sent + rtt, stamp_mono), math.floor(exchange_at_stamp / 1000) * 1000)


def earliest(est: OffsetEstimator, mono: float) -> float:
    """The earliest exchange time the evidence allows (there is some)."""
    value = est.exchange_ms(mono)
    assert value is not None
    return value


def test_without_evidence_the_local_clock_is_all_there_is() -> None:
    """Before any evidence: no estimate, and exchange time is the local wall time."""
    est = OffsetEstimator()
    assert est.estimate(5_000.0, 1_000_000.0) is None
    assert est.exchange_ms(5_000.0) is None
    clock = ExchangeClock(SkewedClock(ManualClock(start=1_800_000_000.0), 120.0))
    assert clock.now_ms() == 1_800_000_120_000  # no evidence: the local wall clock


def test_a_date_header_bounds_the_offset_to_a_second_plus_the_round_trip() -> None:
    """One Date header: the wall offset lies within ±(0.5 s + rtt/2) of the truth, and is stated so."""
    est = OffsetEstimator()
    mono_offset = -1_000_000_000.0  # monotonic = exchange + this
    exchange = 1_800_000_000_400.0  # 0.4 s into a second
    date_sample(est, exchange, mono_offset, sent=exchange + mono_offset - 30, rtt=80)
    mono = exchange + mono_offset + 50
    wall = exchange + 50 + AHEAD_MS
    estimate = est.estimate(mono, wall)
    assert estimate is not None
    assert estimate.evidence == ("http-date",)
    assert estimate.uncertainty_ms is not None
    assert estimate.uncertainty_ms == pytest.approx(500 + 40, abs=1)
    assert abs(estimate.offset_ms - AHEAD_MS) <= estimate.uncertainty_ms
    assert earliest(est, mono) <= exchange + 50
    assert estimate.describe() == f"{estimate.offset_ms / 1000:.1f} s ahead of the exchange (±0.5 s)"


def test_candle_frames_alone_give_an_upper_bound_that_closes_late_never_early() -> None:
    """A frame of candle t proves exchange time >= t: the earliest exchange time never runs ahead."""
    est = OffsetEstimator()
    mono_offset = 5_000.0
    t = 1_800_000_040_000.0
    est.exchange_reached(t + 250 + mono_offset, t)  # the first frame, 250 ms after the candle opened
    mono = t + 10_000 + mono_offset
    # 10 s after the evidence, the drift allowance (200 ppm) has added 2 ms.
    assert earliest(est, mono) == pytest.approx(t + 10_000 - 250 - 2, abs=0.1)
    estimate = est.estimate(mono, t + 10_000 + AHEAD_MS)
    assert estimate is not None
    assert estimate.uncertainty_ms is None  # one-sided
    assert estimate.describe() == "at most 120.3 s ahead of the exchange"
    assert not estimate.beyond(5000)  # not proven
    assert estimate.offset_ms == pytest.approx(AHEAD_MS + 250 + 2, abs=0.1)


def test_both_kinds_together_are_tighter_than_either() -> None:
    """A prompt candle frame tightens the Date header's upper side."""
    est = OffsetEstimator()
    exchange = 1_800_000_059_900.0
    date_sample(est, exchange, 0.0, sent=exchange - 20, rtt=40)
    assert est.estimate(exchange, exchange) is not None
    before = est.bounds(exchange + 200)
    est.exchange_reached(exchange + 150, 1_800_000_060_000.0)  # the next minute's first frame, 50 ms in
    after = est.bounds(exchange + 200)
    assert after[1] < before[1]
    assert after[0] == before[0]
    estimate = est.estimate(exchange + 200, exchange + 200)
    assert estimate is not None
    assert estimate.evidence == ("candles", "http-date")


@given(
    true_offset=st.floats(-86_400_000, 86_400_000),
    events=st.lists(
        st.tuples(
            st.sampled_from(["date", "frame"]),
            st.floats(0, 600_000),  # when, ms after the previous event
            st.floats(0, 5_000),  # round trip, or how long after a candle opened its frame came
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_earliest_exchange_time_never_runs_ahead_of_the_truth(
    true_offset: float, events: list[tuple[str, float, float]]
) -> None:
    """Whatever the evidence, the time used to close candles is never later than the exchange's."""
    est = OffsetEstimator()
    exchange = 1_800_000_000_000.0
    mono_offset = 3_000_000.0  # monotonic = exchange + this
    for kind, gap, delay in events:
        exchange += gap
        mono = exchange + mono_offset
        if kind == "date":
            date_sample(est, exchange - delay / 2, mono_offset, sent=mono - delay, rtt=delay)
        else:
            opened = exchange - delay
            est.exchange_reached(mono, math.floor(opened / 60_000) * 60_000)
        wall = exchange + true_offset
        assert earliest(est, mono) <= exchange + 1e-3
        estimate = est.estimate(mono, wall)
        assert estimate is not None
        if estimate.uncertainty_ms is not None:
            assert abs(estimate.offset_ms - true_offset) <= estimate.uncertainty_ms + 1e-3


def test_old_evidence_widens_with_the_drift_allowance() -> None:
    """An hour-old Date header allows the clocks to have drifted apart by MAX_DRIFT since."""
    est = OffsetEstimator()
    date_sample(est, 1_800_000_000_000.0, 0.0, sent=1_800_000_000_000.0, rtt=0)
    low, high = est.bounds(1_800_000_000_000.0)
    later = est.bounds(1_800_000_000_000.0 + 3_600_000)
    assert later[0] == pytest.approx(low - 3_600_000 * MAX_DRIFT)
    assert later[1] == pytest.approx(high + 3_600_000 * MAX_DRIFT)


def test_contradicting_evidence_replaces_the_stale_side() -> None:
    """After the host slept (monotonic paused), new samples win over the old ones they contradict."""
    est = OffsetEstimator()
    exchange = 1_800_000_000_000.0
    date_sample(est, exchange, 0.0, sent=exchange, rtt=20)
    exchange += 3_600_000  # an hour passes on the exchange, only a minute on the paused monotonic clock
    mono_offset = -3_540_000.0
    date_sample(est, exchange, mono_offset, sent=exchange + mono_offset, rtt=20)
    assert est.conflicts == 1
    mono = exchange + mono_offset
    assert earliest(est, mono) <= exchange
    assert earliest(est, mono) >= exchange - 1100
    low, high = est.bounds(mono)
    assert low <= mono_offset <= high


def test_a_frame_from_the_future_cannot_pull_exchange_time_past_the_date_headers() -> None:
    """A lone candle "an hour ahead" (bad input) moves the earliest exchange time at most to the Date bound."""
    est = OffsetEstimator()
    exchange = 1_800_000_000_000.0
    date_sample(est, exchange, 0.0, sent=exchange - 20, rtt=40)
    low, _ = est.bounds(exchange)
    est.exchange_reached(exchange, exchange + 3_600_000)
    assert est.conflicts == 1
    assert earliest(est, exchange) == pytest.approx(exchange - low)
    assert earliest(est, exchange) <= exchange + 1000 + 40  # the Date header's second and round trip, no more
    assert est.bounds(exchange)[0] == low  # the Date evidence stands


def test_a_wall_clock_step_changes_the_offset_at_once_and_exchange_time_not_at_all() -> None:
    """NTP stepping the host clock (either way): exchange time goes on, the offset follows the step."""
    base = ManualClock(start=1_800_000_000.0)
    host = SkewedClock(base, AHEAD_MS / 1000)
    clock = ExchangeClock(host)
    assert clock.step() is None  # the first look only notes the clocks
    clock.estimator.http_date(base.monotonic() * 1000, base.monotonic() * 1000 + 10, base.time() * 1000)
    before = clock.now_ms()
    estimate = clock.estimate()
    assert estimate is not None
    assert abs(estimate.offset_ms - AHEAD_MS) <= 1010
    for jump in (-AHEAD_MS / 1000, 300.0, -300.0):
        host.step(jump)
        assert clock.step() == pytest.approx(jump)
        assert clock.step() is None
        assert clock.now_ms() == before
        after = clock.estimate()
        assert after is not None
        assert after.offset_ms == pytest.approx(estimate.offset_ms + (host.offset * 1000 - AHEAD_MS))
    assert clock.time() == pytest.approx(before / 1000, abs=1e-3)
    assert clock.monotonic() == base.monotonic()
