"""The coverage ledger: holes to repair, confirmed-empty spans, late re-checks, permanent losses."""

from __future__ import annotations

from candlewick.gaps import grid
from candlewick.gaps.ledger import Ledger
from candlewick.model import MINUTE_MS, open_time

M = MINUTE_MS
NOW = 1_700_000_000_000 + 30_000  # half a minute into a candle
CUR = open_time("1m", NOW)


def t(i: int) -> int:
    """The open time ``i`` minutes before the current candle."""
    return CUR - i * M


def test_holes_from_the_oldest_stored_candle_to_the_newest_closed() -> None:
    """A hole in the middle and one at the tail (a restart) are both found; the open candle is not."""
    ledger = Ledger(window=5000)
    present = [t(i) for i in range(30, 9, -1) if i not in (20, 19, 18)]  # t(30)..t(10), holes at 20..18
    found = ledger.assess("BTC", "1m", present, NOW)
    assert found.holes == [(t(20), t(18)), (t(9), t(1))]
    assert found.lost == []
    assert found.missing == 12


def test_no_stored_candle_means_no_hole_unless_a_start_is_wanted() -> None:
    """An empty market has no holes of its own; ``since`` (backfill_on_start) makes one."""
    ledger = Ledger(window=5000)
    assert ledger.assess("BTC", "1m", [], NOW).holes == []
    assert ledger.assess("BTC", "1m", [], NOW, since=t(5)).holes == [(t(5), t(1))]


def test_hole_past_the_window_is_lost_once() -> None:
    """The part of a hole older than the window is reported lost, once; the rest is repairable."""
    ledger = Ledger(window=100)
    window_first = grid.window_start("1m", NOW, 100)
    assert window_first == t(99)
    present = [t(150), t(149), *[t(i) for i in range(50, 0, -1)]]
    found = ledger.assess("BTC", "1m", present, NOW)
    assert found.lost == [(t(148), t(100))]
    assert found.holes == [(t(99), t(51))]
    again = ledger.assess("BTC", "1m", present, NOW)
    assert again.lost == []
    assert ledger.lost_total("BTC", "1m") == 49


def test_old_empty_spans_are_confirmed_and_skipped() -> None:
    """Minutes the exchange returned nothing for, long closed, are confirmed empty and not asked again."""
    ledger = Ledger(window=5000, late_ms=15 * M)
    present = [t(i) for i in range(60, 0, -1) if i not in (40, 39)]
    assert ledger.assess("BTC", "1m", present, NOW).holes == [(t(40), t(39))]
    confirmed = ledger.record_fetch("BTC", "1m", (t(40), t(39)), [], NOW)
    assert confirmed == [(t(40), t(39))]
    assert ledger.assess("BTC", "1m", present, NOW).holes == []


def test_recent_empty_spans_are_rechecked_once_then_confirmed() -> None:
    """A recent empty minute may get a late flat row: it waits, is fetched once more, then confirmed."""
    ledger = Ledger(window=5000, late_ms=15 * M, recheck_ms=3 * M)
    present = [t(i) for i in range(10, -5, -1) if i != 3]  # later checks see the newer candles stored
    assert ledger.assess("BTC", "1m", present, NOW).holes == [(t(3), t(3))]
    assert ledger.record_fetch("BTC", "1m", (t(3), t(3)), [], NOW) == []
    assert ledger.assess("BTC", "1m", present, NOW + M).holes == []  # waiting for its re-check
    assert ledger.next_recheck() == NOW + 3 * M
    later = NOW + 3 * M
    assert ledger.assess("BTC", "1m", present, later).holes == [(t(3), t(3))]
    assert ledger.record_fetch("BTC", "1m", (t(3), t(3)), [], later) == [(t(3), t(3))]
    assert ledger.assess("BTC", "1m", present, later).holes == []
    assert ledger.next_recheck() is None


def test_a_late_row_clears_the_tentative_entry() -> None:
    """When the re-check returns the candle, nothing is confirmed empty."""
    ledger = Ledger(window=5000, late_ms=15 * M, recheck_ms=3 * M)
    ledger.record_fetch("BTC", "1m", (t(3), t(3)), [], NOW)
    assert ledger.record_fetch("BTC", "1m", (t(3), t(3)), [t(3)], NOW + 3 * M) == []
    assert ledger.market("BTC", "1m").tentative == []
    assert ledger.market("BTC", "1m").empty == []


def test_empty_spans_older_than_any_check_are_forgotten() -> None:
    """The ledger does not grow forever: empty spans no check can reach are dropped."""
    ledger = Ledger(window=100, late_ms=0)
    ledger.record_fetch("BTC", "1m", (t(500), t(499)), [], NOW)
    ledger.record_fetch("BTC", "1m", (t(50), t(50)), [], NOW)
    assert ledger.forget_before("BTC", "1m", ledger.check_start("1m", NOW))
    assert ledger.market("BTC", "1m").empty == [(t(50), t(50))]
    assert not ledger.forget_before("BTC", "1m", ledger.check_start("1m", NOW))


def test_a_span_still_running_is_never_filed_empty() -> None:
    """A request planned past the exchange's time (a host clock ahead) files only the candles closed by then."""
    ledger = Ledger(window=5000, late_ms=0, recheck_ms=3 * M)
    span = (t(5), t(-20))  # five closed minutes, the open one, twenty still to come
    assert ledger.record_fetch("BTC", "1m", span, [], NOW) == [(t(5), t(1))]
    cov = ledger.market("BTC", "1m")
    assert cov.empty == [(t(5), t(1))]
    assert cov.tentative == []
    ledger = Ledger(window=5000, late_ms=15 * M, recheck_ms=3 * M)
    ledger.record_fetch("BTC", "1m", span, [], NOW)
    assert [s for s, _ in ledger.market("BTC", "1m").tentative] == [(t(5), t(1))]
