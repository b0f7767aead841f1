"""Gap repair with the host clock running ahead of the exchange: nothing open is missing, nothing running is empty."""

from __future__ import annotations

import pytest

from candlewick.gaps import grid
from candlewick.model import MINUTE_MS, open_time
from candlewick.runtime import names
from candlewick.testing import SkewedClock

from .conftest import Rig, repair_of, seed

pytestmark = pytest.mark.anyio

#: The host clock's lead: past gap repair's 15 min "recent" window, so a running span would count as old.
AHEAD = 20 * 60.0


async def test_a_host_clock_ahead_files_no_running_span_empty_and_closes_nothing_early(rig: Rig) -> None:
    """A hole up to now is repaired exactly; no empty span or closed row lies past the exchange's time."""
    now = rig.exchange.now_ms()
    first = open_time("1m", now) - 40 * MINUTE_MS
    await seed(rig, "BTC", "1m", first, open_time("1m", now) - 15 * MINUTE_MS)
    host = SkewedClock(rig.clock, AHEAD)
    async with rig.daemon(rig.settings(repair={}), clock=host) as daemon:
        repair = repair_of(daemon)

        def repaired() -> bool:
            last = open_time("1m", rig.exchange.now_ms()) - 2 * MINUTE_MS
            rows = [r for r in rig.stored("BTC", "1m") if r[0] <= last]
            return rows == rig.truth("BTC", "1m", first, last)

        await rig.wait_until(repaired, timeout=30)
        await rig.wait_until(lambda: any(j["state"] == "done" for j in repair.backfill_list()))
        exchange_now = rig.exchange.now_ms()
        engine = repair.engine
        assert engine is not None
        coverage = engine.ledger.market("BTC", "1m")
        newest_closed = grid.newest_closed("1m", exchange_now)
        assert all(b <= newest_closed for _, b in coverage.empty), coverage.empty
        assert all(b <= newest_closed for (_, b), _ in coverage.tentative), coverage.tentative
        stored = [r[0] for r in rig.stored("BTC", "1m")]
        assert max(stored) <= newest_closed
        offset = daemon.telemetry.metrics.value(names.CLOCK_OFFSET, source="hyperliquid")
        assert offset == pytest.approx(AHEAD, abs=1.0)
        assert daemon.telemetry.metrics.total(names.PERMANENT_LOSSES) == 0
