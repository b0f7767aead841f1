"""Pure rendering: formats, sparklines, badges (symbol and word, not colour alone)."""

from __future__ import annotations

import pytest
from rich.text import Text

from candlewick.tui import view
from candlewick.tui.state import DashboardState, Job, MarketView, detached
from tests.tui.sample import NOW, sample_state


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0:00:00"), (12, "0:00:12"), (3725, "1:02:05"), (3 * 86400 + 4 * 3600 + 12 * 60, "3d 04:12")],
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert view.fmt_duration(seconds) == text


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (950, "950"), (1234, "1.2k"), (3_400_000, "3.4M"), (2.5, "2.5")])
def test_fmt_count(n: float, text: str) -> None:
    assert view.fmt_count(n) == text


@pytest.mark.parametrize(("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")])
def test_fmt_bytes(n: int, text: str) -> None:
    assert view.fmt_bytes(n) == text


@pytest.mark.parametrize(("lag", "text"), [(None, "-"), (0.24, "0.2 s"), (75, "75 s"), (600, "10 m"), (7300, "2 h")])
def test_fmt_lag(lag: float | None, text: str) -> None:
    assert view.fmt_lag(lag) == text


def test_candle_time_today_and_other_days() -> None:
    today = int(NOW * 1000) - 60_000
    assert view.fmt_candle_time(today, NOW) == "12:13"
    assert view.fmt_candle_time(today - 86_400_000, NOW) == "11-27 12:13"
    assert view.fmt_candle_time(None, NOW) == "-"


def test_sparkline_scales_from_zero() -> None:
    """A steady rate is a full bar, a stall is the floor; jitter stays small."""
    assert view.sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▂▃▄▅▅▆▇█"
    assert view.sparkline([5, 5, 5], width=4) == " ███"
    assert view.sparkline([10, 9.8, 10.1, 0], width=4) == "███▁"
    assert view.sparkline([0, 0], width=2) == "▁▁"
    assert view.sparkline([], width=3) == "   "
    assert len(view.sparkline(list(range(40)))) == 8


def test_bar_is_clamped() -> None:
    assert view.bar(0.5, 4) == "██░░"
    assert view.bar(2.0, 3) == "███"
    assert view.bar(-1.0, 2) == "░░"


@pytest.mark.parametrize("state", ["starting", "running", "backing_off", "stopping", "stopped", "failed"])
def test_every_state_has_a_symbol_and_its_word(state: str) -> None:
    """Colour is never the only carrier: the badge has a symbol and the state's name."""
    badge = view.state_badge(state)
    symbol, word = badge.plain.split(" ", 1)
    assert word == state
    assert symbol in "◌●◐◑○✖"


def test_unknown_state_is_still_readable() -> None:
    assert view.state_badge("weird").plain == "? weird"
    assert view.health_badge("").plain == "? unknown"


def test_header_shows_version_uptime_health_socket() -> None:
    text = view.header(sample_state("/run/candlewick/control.sock")).plain
    assert text == " candlewick 0.1.0 · up 3d 04:12 · ◐ degraded · control.sock"
    down = view.header(detached(DashboardState(socket="/x/control.sock"), "gone")).plain
    assert "✖ detached" in down


def test_stalled_market_is_flagged_in_words() -> None:
    market = MarketView("BTC", "1m", lag=90.0)
    assert view.lag_text(market).plain == "⚠ 90 s"


def test_market_cells_show_rate_gaps_and_losses() -> None:
    market = MarketView("ETH", "1m", last_candle_time=None, gaps_found=3, gaps_repaired=1, permanent_losses=2)
    cells = view.market_cells(market, (1.0, 2.0, 14.2), NOW)
    plain = [c.plain if isinstance(c, Text) else c for c in cells]
    assert plain[0:3] == ["ETH", "1m", "-"]
    assert plain[4].endswith("14.2")
    assert plain[6] == "1 ⟳2"
    assert plain[7] == "2"


def test_derived_markets_are_marked_with_their_mismatches() -> None:
    """A derived market shows ∂ beside its interval, and ≠n once n of its candles differed from the exchange's."""
    derived = MarketView("ETH", "5m", derived=True, derived_checked=7, derived_mismatches=2)
    cell = view.market_cells(derived, (), NOW)[1]
    assert isinstance(cell, Text)
    assert cell.plain == "5m ∂ ≠2"
    assert view.market_cells(MarketView("ETH", "5m"), (), NOW)[1] == "5m"
    assert view.detail_line(derived, NOW).plain.endswith(" · derived: 7 checked, 2 differed")
    fell_back = MarketView("ETH", "5m", derived_checked=7, derived_mismatches=3)
    assert view.detail_line(fell_back, NOW).plain.endswith(" · native (was derived): 7 checked, 3 differed")


def test_gauges_line_fits_80_columns() -> None:
    text = view.gauges(sample_state())
    assert text.plain == " buffer ░░░░ 12/5000 · spool 0 B · sink 12 rows/s · REST █░░░ 240/1200/min"
    assert text.cell_len <= 80


def test_job_cells_progress_and_eta() -> None:
    running = Job("7", kind="repair", coin="ETH", interval="1m", state="running", fetched=1, expected=4, eta=125)
    cells = [c.plain if isinstance(c, Text) else c for c in view.job_cells(running)]
    assert cells == ["#7", "repair", "ETH 1m", "█░░░░  25%", "2m05"]
    unknown = Job("8", state="running")
    assert [c.plain if isinstance(c, Text) else c for c in view.job_cells(unknown)][3] == "running"


def test_header_warns_when_stats_stop() -> None:
    from dataclasses import replace

    text = view.header(replace(sample_state(), silent_for=7.4)).plain
    assert text.endswith("◐ degraded · ⚠ no stats for 7 s · control.sock")


def test_header_shows_a_clock_off_the_exchange() -> None:
    """Past the daemon's max_clock_offset a warning; a notable offset within it is dim; a small one is not shown."""
    from dataclasses import replace

    from candlewick.tui.state import with_stats

    state = sample_state()
    assert state.stats is not None
    now = state.stats.time

    def header_with(offset_ms: float, ok: bool) -> Text:
        raw = {"time": now, "clock_offset_ms": offset_ms, "clock": {"offset_ms": offset_ms, "ok": ok}}
        return view.header(with_stats(replace(state, stats=None), raw))

    far = header_with(120_300, False)
    assert far.plain.endswith("◐ degraded · ⚠ clock +120.3 s · control.sock")
    assert any(span.style == "bold yellow" for span in far.spans)
    assert header_with(-2_500, True).plain.endswith("◐ degraded · clock -2.5 s · control.sock")
    assert header_with(300, True).plain.endswith("◐ degraded · control.sock")


def test_event_line_names_its_source_once() -> None:
    """A message that starts with its source is not printed as 'sqlite sqlite running'."""
    from candlewick.tui.state import Event as StateEvent
    from candlewick.tui.view import event_text

    event = StateEvent.parse({"seq": 1, "time": 0.0, "kind": "state", "source": "sqlite", "message": "sqlite running"})
    assert event_text(event).plain.endswith(" sqlite running")
    assert "sqlite sqlite" not in event_text(event).plain
