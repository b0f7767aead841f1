"""Backfill jobs and the coverage ledger inside a running daemon against the fake exchange."""

from __future__ import annotations

import anyio
import pytest

from candlewick.model import MINUTE_MS, open_time
from candlewick.runtime import names
from candlewick.testing import FakeExchange

from .conftest import Rig, repair_of, seed

pytestmark = pytest.mark.anyio


def jobs_in(daemon_jobs: list[dict[str, object]], *states: str) -> list[dict[str, object]]:
    return [j for j in daemon_jobs if j["state"] in states]


async def test_gap_older_than_the_window_is_a_permanent_loss(rig: Rig) -> None:
    """What left the exchange's window before repair is counted and reported, never filled in.

    On this clock the window slides a minute a second: a minute that leaves it between the
    check and the fetch is counted by the next check, so the test waits until every missing
    minute is accounted for, and until the newest closes are confirmed, before comparing.
    """
    async with FakeExchange(seed=5, clock=rig.clock, retention=15, push_interval=6.0) as exchange:
        rig = Rig(exchange, rig.clock, rig.tmp)
        now = exchange.now_ms()
        block_end = open_time("1m", now) - 25 * MINUTE_MS
        await seed(rig, "BTC", "1m", block_end - 5 * MINUTE_MS, block_end)

        def after() -> list[int]:
            return [r[0] for r in rig.stored("BTC", "1m") if r[0] > block_end]

        def unaccounted() -> float:
            times = after()
            missing = (times[0] - block_end) // MINUTE_MS - 1 if times else 0
            return missing - metrics.value(names.PERMANENT_LOSSES, coin="BTC", interval="1m")

        def complete() -> bool:
            times = after()
            return bool(times) and rig.stored("BTC", "1m")[-len(times) :] == rig.truth("BTC", "1m", times[0], times[-1])

        async with rig.daemon(rig.settings(repair={"window": 15})) as daemon:
            metrics = daemon.telemetry.metrics
            await rig.wait_until(lambda: metrics.total(names.GAPS_REPAIRED) >= 1)
            assert after(), "the repairable part was fetched"
            await rig.wait_until(lambda: unaccounted() == 0)  # every missing minute is counted as lost
            await rig.wait_until(complete)  # nothing was invented for the lost span; after it, all is there
            lost = metrics.value(names.PERMANENT_LOSSES, coin="BTC", interval="1m")
            events = [e for e in daemon.telemetry.events.recent(500) if e.kind == names.EV_GAP_LOST]
        assert lost >= 5
        assert 1 <= len(events) <= 2  # a second one only for a minute that left during the repair
        assert sum(e.data["candles"] for e in events) == lost


async def test_no_trade_minutes_are_not_requested_forever(rig: Rig) -> None:
    """Minutes without trades are fetched at most twice (once more for late rows), then remembered."""
    rig.exchange.model.sparse.add("kPEPE")
    # The live source's REST confirmation of closed candles also sends candleSnapshot requests;
    # switched off here so the count below is gap repair's alone.
    live = {"coins": ["kPEPE"], "backfill_on_start": "30m", "confirm_closed": False}
    repair = {"check_every": 10.0, "recheck_after": 60.0, "late_window": 120.0, "startup_delay": 2.0}
    async with rig.daemon(rig.settings(live=live, repair=repair)) as daemon:
        engine = repair_of(daemon).engine
        await rig.wait_until(lambda: repair_of(daemon).engine is not None)
        engine = repair_of(daemon).engine
        assert engine is not None
        await rig.sleep(5 * 60)  # the start-up check, its re-checks, a few periodic checks
        stats = rig.exchange.stats
        before = stats.rest_by_type.get("candleSnapshot", 0)
        start_ms = rig.exchange.now_ms()
        await rig.sleep(5 * 60)  # thirty more checks
        end_ms = rig.exchange.now_ms()
        requests = stats.rest_by_type.get("candleSnapshot", 0) - before
        first = open_time("1m", start_ms) - 4 * MINUTE_MS  # re-checks of earlier empty minutes land here too
        fresh_empty = [
            t for t in range(first, open_time("1m", end_ms), MINUTE_MS)
            if rig.exchange.model.candle("kPEPE", "1m", t) is None
        ]  # fmt: skip
        assert requests <= 2 * len(fresh_empty) + 2, (requests, fresh_empty)
        cov = engine.ledger.market("kPEPE", "1m")
        assert cov.empty, "old no-trade minutes are confirmed empty"
        truth = {c.open_time for c in rig.exchange.truth("kPEPE", "1m", cov.empty[0][0], cov.empty[-1][1])}
        assert all(t not in truth for a, b in cov.empty for t in range(a, b + 1, MINUTE_MS))


async def test_a_429_storm_slows_jobs_down_but_they_finish(rig: Rig) -> None:
    """Rate-limited requests are retried with backoff; every job still completes exactly."""
    async with rig.daemon(rig.settings(repair={"detect": False})) as daemon:
        repair = repair_of(daemon)
        await rig.wait_until(lambda: repair.engine is not None)
        rig.exchange.faults.rate_limit_requests = 12
        jobs = await repair.backfill_start("BTC", ["5m", "15m", "1h"], 2)
        ids = {j["id"] for j in jobs}
        await rig.wait_until(
            lambda: all(j["state"] == "done" for j in repair.backfill_list() if j["id"] in ids), timeout=60
        )
        assert rig.exchange.stats.rate_limited >= 12
        for job in jobs:
            interval = str(job["interval"])
            rows = [r for r in rig.stored("BTC", interval) if job["start"] <= r[0] <= job["end"]]
            assert rows == rig.truth("BTC", interval, int(job["start"]), int(job["end"]))
            assert len(rows) > 0


async def test_cancel_stops_queued_and_running_jobs(rig: Rig) -> None:
    """A queued job is cancelled at once, a running one between requests; unknown ids are refused."""
    live = {"rest_weight_per_minute": 30}  # one request every 40 s of clock: jobs stay busy
    async with rig.daemon(rig.settings(live=live, repair={"detect": False})) as daemon:
        repair = repair_of(daemon)
        await rig.wait_until(lambda: repair.engine is not None)
        jobs = await repair.backfill_start("BTC", ["1m", "5m", "15m"], None)
        await rig.wait_until(lambda: any(j["state"] == "running" for j in repair.backfill_list()))
        running = next(j for j in repair.backfill_list() if j["state"] == "running")
        queued = next(j for j in repair.backfill_list() if j["state"] == "queued")
        assert (await repair.backfill_cancel(str(queued["id"])))["state"] == "cancelled"
        assert (await repair.backfill_cancel(str(running["id"])))["state"] == "cancelled"
        with pytest.raises(LookupError):
            await repair.backfill_cancel("9999")
        states = {j["id"]: j["state"] for j in repair.backfill_list()}
        assert states[queued["id"]] == "cancelled"
        assert states[running["id"]] == "cancelled"
        assert len(jobs) == 3


async def test_pending_jobs_survive_a_restart(rig: Rig) -> None:
    """Jobs still queued at shutdown are loaded and finished by the next daemon."""
    slow = {"rest_weight_per_minute": 30}
    settings = rig.settings(live=slow, repair={"detect": False})
    async with rig.daemon(settings) as daemon:
        repair = repair_of(daemon)
        await rig.wait_until(lambda: repair.engine is not None)
        jobs = await repair.backfill_start("BTC", ["1h", "4h", "1d"], 3)
    ids = {str(j["id"]) for j in jobs}
    async with rig.daemon(rig.settings(repair={"detect": False})) as daemon:
        repair = repair_of(daemon)
        await rig.wait_until(lambda: repair.engine is not None)
        assert ids <= {str(j["id"]) for j in repair.backfill_list()}
        await rig.wait_until(
            lambda: all(j["state"] == "done" for j in repair.backfill_list() if j["id"] in ids), timeout=60
        )
        for job in repair.backfill_list():
            if job["id"] in ids:
                interval = str(job["interval"])
                rows = [r for r in rig.stored("BTC", interval) if job["start"] <= r[0] <= job["end"]]
                assert rows == rig.truth("BTC", interval, job["start"], job["end"])


async def test_jobs_report_progress_in_the_control_contract_shape(rig: Rig) -> None:
    """Job dicts carry the contract's keys; every state change and progress goes out as an event."""
    contract = {"id", "kind", "coin", "interval", "start", "end", "state", "fetched", "expected", "eta", "error"}
    async with rig.daemon(rig.settings(repair={"detect": False})) as daemon:
        repair = repair_of(daemon)
        await rig.wait_until(lambda: repair.engine is not None)
        with daemon.telemetry.events.subscribe() as sub:
            (job,) = await repair.backfill_start("BTC", ["15m"], 20)
            await rig.wait_until(lambda: repair.backfill_list()[0]["state"] == "done", timeout=20)
            done = repair.backfill_list()[0]
            events = []
            while True:
                try:
                    events.append(sub.receive.receive_nowait())
                except anyio.WouldBlock:
                    break
    assert contract <= set(job)
    assert job["kind"] == "user"
    assert done["fetched"] == done["expected"]
    assert 20 * 96 - 1 <= done["fetched"] <= 20 * 96  # twenty days of 15m candles, the newest closed one last
    assert done["eta"] is None
    states = [e.data["job"]["state"] for e in events if e.kind == names.EV_JOB]
    assert states[0] == "queued"
    assert "running" in states
    assert states[-1] == "done"
    assert daemon.telemetry.metrics.value(names.BACKFILL_CANDLES, coin="BTC", interval="15m") == done["fetched"]
