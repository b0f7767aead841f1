"""Gap repair inside a running daemon: the fake exchange, a fast clock and a real SQLite sink."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from candlewick.model import MINUTE_MS, open_time
from candlewick.runtime import names
from candlewick.testing import FakeExchange

from .conftest import Rig, repair_of, seed

if TYPE_CHECKING:
    from anyio.abc import ByteStream

    from candlewick.testing._http import HttpRequest

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


class WsOutageExchange(FakeExchange):
    """The fake exchange with a switch refusing websocket handshakes while REST keeps answering."""

    ws_down = False

    async def _serve_ws(self, stream: ByteStream, req: HttpRequest) -> None:
        if self.ws_down:
            await stream.aclose()
            return
        await super()._serve_ws(stream, req)


async def test_candles_closing_during_a_websocket_outage_are_fetched_before_it_ends(rig: Rig) -> None:
    """While the websocket is down but REST answers, gap repair keeps the database complete."""
    async with WsOutageExchange(seed=5, clock=rig.clock, push_interval=6.0) as exchange:
        rig = Rig(exchange, rig.clock, rig.tmp)
        async with rig.daemon(rig.settings(repair={})) as daemon:
            await rig.wait_until(lambda: len(rig.stored("BTC", "1m")) >= 2)
            first = rig.stored("BTC", "1m")[0][0]
            exchange.ws_down = True
            exchange.drop_connections()
            down_at = exchange.now_ms()
            await rig.sleep(4 * 60)
            last = open_time("1m", exchange.now_ms()) - MINUTE_MS
            assert last >= down_at + 2 * MINUTE_MS
            await rig.wait_until(lambda: complete(rig, "BTC", "1m", first, last - MINUTE_MS), timeout=5)
            assert exchange.ws_down, "repaired while the websocket was still refused"
            found = [e for e in daemon.telemetry.events.recent(500) if e.kind == names.EV_GAP_FOUND]
            assert any(e.data["reason"] == "outage" for e in found)
            exchange.ws_down = False


async def test_a_hole_near_its_horizon_is_repaired_first_with_a_warning(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """A hole about to leave the window jumps ahead of a user's backfill, and the log says so."""
    async with FakeExchange(seed=5, clock=rig.clock, retention=40, push_interval=6.0) as exchange:
        rig = Rig(exchange, rig.clock, rig.tmp)
        now = exchange.now_ms()
        old = open_time("1m", now) - 36 * MINUTE_MS
        await seed(rig, "BTC", "1m", old, old)
        repair = {"window": 40, "horizon_warning": 600.0, "startup_delay": 30.0}
        live = {"rest_weight_per_minute": 60, "backfill_on_start": "none"}
        with caplog.at_level(logging.WARNING, logger="candlewick.gaps.engine"):
            async with rig.daemon(rig.settings(live=live, repair=repair)) as daemon:
                component = repair_of(daemon)
                await rig.wait_until(lambda: component.engine is not None)
                await component.backfill_start("BTC", ["5m", "15m", "1h", "4h"], None)
                await rig.wait_until(lambda: any(j["kind"] == "repair" for j in component.backfill_list()), timeout=10)
                await rig.wait_until(
                    lambda: all(j["state"] == "done" for j in component.backfill_list() if j["kind"] == "repair"),
                    timeout=20,
                )
                jobs = component.backfill_list()
        repair_job = next(j for j in jobs if j["kind"] == "repair")
        assert repair_job["priority"] == 0
        user_done_before = [j for j in jobs if j["kind"] == "user" and j["state"] == "done"]
        assert len(user_done_before) < 4, "the urgent repair did not wait for every user job"
        assert any("leaves the exchange's window" in r.getMessage() for r in caplog.records)
        assert complete(rig, "BTC", "1m", old, repair_job["end"])


async def test_an_outage_that_begins_before_the_start_check_is_still_followed(rig: Rig) -> None:
    """The start-up check does not cancel the outage checks a disconnect during ``startup_delay`` asked for."""
    async with WsOutageExchange(seed=5, clock=rig.clock, push_interval=6.0) as exchange:
        rig = Rig(exchange, rig.clock, rig.tmp)
        repair = {"startup_delay": 120.0, "check_every": 3600.0}
        started = exchange.now_ms()
        async with rig.daemon(rig.settings(live={"backfill_on_start": "10m"}, repair=repair)) as daemon:
            await rig.wait_until(lambda: len(rig.stored("BTC", "1m")) >= 2)
            first = rig.stored("BTC", "1m")[0][0]
            exchange.ws_down = True
            exchange.drop_connections()
            down_at = exchange.now_ms()
            assert down_at < started + 120_000, "the outage must begin before the start-up check"
            await rig.sleep(5 * 60)
            last = open_time("1m", exchange.now_ms()) - MINUTE_MS
            assert last >= down_at + 2 * MINUTE_MS
            await rig.wait_until(lambda: complete(rig, "BTC", "1m", first, last - MINUTE_MS), timeout=5)
            assert exchange.ws_down, "repaired while the websocket was still refused"
            events = daemon.telemetry.events.recent(500)
            found = [e for e in events if e.kind == names.EV_GAP_FOUND and e.data["reason"] == "outage"]
            assert found, "no outage check ran"
            exchange.ws_down = False


async def test_a_daemon_started_during_an_outage_keeps_the_database_complete(rig: Rig) -> None:
    """The live source never connects; its first failure is announced and gap repair follows the outage."""
    async with WsOutageExchange(seed=5, clock=rig.clock, push_interval=6.0) as exchange:
        rig = Rig(exchange, rig.clock, rig.tmp)
        exchange.ws_down = True
        started = exchange.now_ms()
        async with rig.daemon(rig.settings(repair={"check_every": 3600.0})) as daemon:
            await rig.sleep(4 * 60)
            first = open_time("1m", started) + MINUTE_MS
            last = open_time("1m", exchange.now_ms()) - 2 * MINUTE_MS
            await rig.wait_until(lambda: complete(rig, "BTC", "1m", first, last), timeout=5)
            assert len(rig.stored("BTC", "1m")) >= 2
            assert exchange.ws_down
            assert exchange.stats.ws_connections == 0
            events = daemon.telemetry.events.recent(500)
            told = [e for e in events if e.kind == names.EV_DISCONNECTED and e.source == "hyperliquid"]
            assert len(told) == 1
            assert "cannot connect" in told[0].message
            exchange.ws_down = False


async def test_start_up_history_the_live_source_is_fetching_is_not_requested_again(rig: Rig) -> None:
    """The live source connects before the start-up check; no check then asks for the history it is still fetching."""
    # Three pages of about 104 weight against 240 weight/min: the history takes about a minute,
    # long after the start-up check (5 s) and the connect's settle time (5 s). The periodic
    # check is moved out of the way: it is not what this test is about.
    # The pages are decoded and stored while the clock runs 60x: a generous pong timeout (2 real
    # seconds) keeps a loaded machine's late pong from dropping the connection, which would start
    # the history over and is not what this test is about.
    live = {
        "intervals": ["1m", "5m", "15m"],
        "backfill_on_start": "max",
        "rest_weight_per_minute": 240,
        "pong_timeout": 120.0,
    }
    async with rig.daemon(rig.settings(live=live, repair={"check_every": 3600.0})) as daemon:
        await rig.wait_until(lambda: all(len(rig.stored("BTC", i)) >= 4000 for i in ("1m", "5m", "15m")))
        await rig.sleep(30)
        jobs = repair_of(daemon).backfill_list()
        assert not [j for j in jobs if j["expected"] > 100], jobs
