"""The view-model: folding daemon answers into the dashboard state, tolerant of odd input."""

from __future__ import annotations

from candlewick.tui import state as st
from tests.tui.sample import NOW, RATES, events, jobs, sample_state, stats, status


def test_status_fills_daemon_and_components() -> None:
    """status gives the daemon facts and one view per component, with the last error's message."""
    state = st.with_status(st.DashboardState(socket="s"), status())
    assert state.daemon.version == "0.1.0"
    assert state.health == "healthy"
    assert [c.name for c in state.components] == ["hyperliquid", "memory", "timescaledb", "control"]
    sink = state.component("timescaledb")
    assert sink is not None
    assert (sink.state, sink.restarts, sink.last_error, sink.active) == ("backing_off", 5, "connection refused", True)


def test_health_lists_failing_checks() -> None:
    """health replaces the status' health word and keeps what is failing."""
    state = st.with_health(
        st.DashboardState(socket="s"),
        {"status": "degraded", "checks": [{"name": "sink", "ok": False, "detail": "down"}, {"name": "x", "ok": True}]},
    )
    assert state.health == "degraded"
    assert state.health_detail == ("sink: down",)
    assert state.health_checks == (("sink", False, "down"), ("x", True, ""))


def test_frames_per_second_from_consecutive_samples() -> None:
    """frames/s is the frame difference over the time difference; history is capped."""
    state = sample_state()
    assert state.rates[("BTC", "1m")] == tuple(float(r) for r in RATES[("BTC", "1m")])
    for i in range(st.RATE_HISTORY + 5):
        counts = dict.fromkeys(RATES, 10000 + i * 3)
        state = st.with_stats(state, stats(NOW + 100 + i, counts))
    assert len(state.rates[("BTC", "1m")]) == st.RATE_HISTORY
    assert state.rates[("BTC", "1m")][-1] == 3.0


def test_rates_of_removed_markets_are_dropped() -> None:
    state = sample_state()
    state = st.with_stats(state, stats(NOW + 1, {("BTC", "1m"): 5000}))
    assert set(state.rates) == {("BTC", "1m")}


def test_a_counter_reset_does_not_give_negative_rates() -> None:
    """After a daemon restart the counters start again from 0: the rate is 0, not negative."""
    state = sample_state()
    state = st.with_stats(state, stats(NOW + 1, dict.fromkeys(RATES, 0)))
    assert state.rates[("BTC", "1m")][-1] == 0.0
    assert state.sink_rate is not None
    assert state.sink_rate >= 0


def test_uptime_advances_with_the_stats_clock() -> None:
    state = sample_state()
    before = state.uptime
    assert before is not None
    state = st.with_stats(state, stats(NOW + 60, dict.fromkeys(RATES, 2000)))
    assert state.uptime == before + 60


def test_jobs_running_first() -> None:
    state = st.with_jobs(st.DashboardState(socket="s"), {"jobs": list(reversed(jobs()["jobs"]))})
    assert [j.id for j in state.jobs] == ["7", "6"]
    running = state.job("7")
    assert running is not None
    assert running.progress == 0.8
    assert running.ref == 7
    done = state.job("6")
    assert done is not None
    assert (done.finished, done.progress) == (True, 1.0)


def test_events_replayed_on_reattach_are_not_shown_twice() -> None:
    state = st.with_events(st.DashboardState(socket="s"), events())
    state = st.with_events(state, events())
    assert [e.seq for e in state.events] == [1, 2, 3]


def test_events_history_is_bounded() -> None:
    raws = [{"seq": i, "time": float(i), "kind": "state", "source": "x", "message": "m"} for i in range(500)]
    state = st.with_events(st.DashboardState(socket="s"), raws)
    assert len(state.events) == st.EVENT_HISTORY
    assert state.events[-1].seq == 499


def test_garbage_fields_show_as_unknown_not_crash() -> None:
    """A newer or broken daemon may send odd types; the dashboard shows defaults."""
    state = st.with_status(
        st.DashboardState(socket="s"),
        {"daemon": "nope", "components": [{"name": "a", "restarts": "many", "uptime": True, "last_error": 3}, 7]},
    )
    assert state.components == (st.ComponentView(name="a"),)
    state = st.with_stats(state, {"time": "x", "buffer": [], "markets": [{"coin": "BTC", "lag": "slow"}, None]})
    assert state.stats is not None
    assert state.stats.markets[0].lag is None
    assert state.stats.markets[0].interval == "?"


def test_candles_parse_sorted_and_skip_broken() -> None:
    result = {
        "candles": [
            {"time": 2, "open": "2", "high": "3", "low": "1", "close": "2.5", "volume": "1", "closed": False},
            {"time": 1, "open": "1", "high": "2", "low": "0.5", "close": "2", "volume": "1", "closed": True},
            {"time": 3, "open": "x"},
        ]
    }
    bars = st.parse_candles(result)
    assert [b.time for b in bars] == [1, 2]
    assert bars[1] == st.CandleBar(2, 2.0, 3.0, 1.0, 2.5, 1.0, False)


def test_link_transitions_keep_the_last_numbers() -> None:
    """Detached keeps the last picture (shown with the reason); attached clears the reason."""
    state = sample_state()
    down = st.detached(state, "gone")
    assert (down.link, down.link_error, down.stats) == ("detached", "gone", state.stats)
    up = st.attached(down)
    assert (up.link, up.link_error) == ("attached", "")


def test_silence_is_noted_only_when_attached_and_long() -> None:
    """No stats for a while is shown; a new sample, a short gap or a detached link clear it."""
    state = sample_state()
    assert st.with_silence(state, 1.0) is state
    quiet = st.with_silence(state, 7.0)
    assert quiet.silent_for == 7.0
    assert st.with_stats(quiet, stats(NOW + 5, dict.fromkeys(RATES, 3000))).silent_for is None
    assert st.with_silence(st.detached(state, "gone"), 60.0).silent_for is None
