"""Gap repair inside a running daemon: the fake exchange, a fast clock and a real SQLite sink."""

from __future__ import annotations

import pytest

from candlewick.model import MINUTE_MS, open_time
from candlewick.runtime import names

from .conftest import Rig, repair_of

pytestmark = pytest.mark.anyio


def complete(rig: Rig, coin: str, interval: str, start: int, end: int) -> bool:
    """Every closed candle the exchange has in [start, end] is stored, exactly."""
    rows = [r for r in rig.stored(coin, interval) if start <= r[0] <= end]
    return rows == rig.truth(coin, interval, start, end)


async def test_restart_over_a_gap_repairs_it(rig: Rig) -> None:
    """Candles missed while the daemon was down are fetched by gap repair after the restart."""
    settings = rig.settings(repair={})
    async with rig.daemon(settings):
        await rig.wait_until(lambda: len(rig.stored("BTC", "1m")) >= 2)
    first = rig.stored("BTC", "1m")[0][0]
    down_since = rig.stored("BTC", "1m")[-1][0]
    await rig.sleep(5 * 60)  # five candles pass while nothing runs
    async with rig.daemon(settings) as daemon:
        now = rig.exchange.now_ms()
        last = open_time("1m", now) - 2 * MINUTE_MS
        assert last >= down_since + 3 * MINUTE_MS
        await rig.wait_until(lambda: complete(rig, "BTC", "1m", first, last), timeout=30)
        telemetry = daemon.telemetry
        assert telemetry.metrics.value(names.GAPS_FOUND, coin="BTC", interval="1m") >= 1
        await rig.wait_until(lambda: telemetry.metrics.value(names.GAPS_REPAIRED, coin="BTC", interval="1m") >= 1)
        jobs = repair_of(daemon).backfill_list()
        assert any(j["kind"] == "repair" and j["state"] == "done" and j["fetched"] >= 4 for j in jobs)
    assert telemetry.metrics.total(names.PERMANENT_LOSSES) == 0


async def test_websocket_outage_is_repaired_exactly(rig: Rig) -> None:
    """After an outage of several candles the database equals the exchange's truth, without extra candles."""
    async with rig.daemon(rig.settings(repair={})) as daemon:
        await rig.wait_until(lambda: len(rig.stored("BTC", "1m")) >= 2)
        first = rig.stored("BTC", "1m")[0][0]
        rig.exchange.faults.refuse_connections = True
        rig.exchange.drop_connections()
        await rig.sleep(4 * 60)
        rig.exchange.faults.refuse_connections = False
        back = rig.exchange.now_ms()
        last = open_time("1m", back) - MINUTE_MS
        await rig.wait_until(lambda: complete(rig, "BTC", "1m", first, last), timeout=30)
        stored = [r[0] for r in rig.stored("BTC", "1m") if r[0] <= last]
        assert stored == sorted(set(stored))
        assert stored[-1] == last
        assert daemon.telemetry.metrics.total(names.PERMANENT_LOSSES) == 0
