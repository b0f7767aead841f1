"""The coalescing buffer with its spool, over the real SQLite sink, on asyncio and trio."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from candlewick.plugins.memory_buffer.spool import Spool
from candlewick.runtime import names
from candlewick.runtime.clock import ManualClock
from tests.polling import wait_until

from .helpers import Pipeline, candle, sqlite_sink

pytestmark = pytest.mark.anyio


def rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute('SELECT coin, "time", trades, closed, volume FROM candles ORDER BY coin, "time"').fetchall()
    finally:
        conn.close()


def written(p: Pipeline) -> float:
    return p.metric(names.ROWS_WRITTEN, sink="sqlite")


async def test_updates_of_a_candle_collapse_into_one_row_write(tmp_path: Path) -> None:
    """500 in-progress updates of 5 candles within a window cost 5 row writes."""
    clock = ManualClock()
    p = Pipeline(sqlite_sink(tmp_path / "c.db", clock=clock), tmp_path / "spool", clock=clock, flush_interval=1.0)
    async with p.running():
        for n in range(1, 101):
            for i in range(5):
                await p.send.send(candle(i, trades=n))
        await wait_until(lambda: p.buffer.depth() == 5)
        await clock.advance(0.9)
        assert written(p) == 0
        await clock.advance(0.2)
        await wait_until(lambda: written(p) == 5)
        assert p.metric(names.COALESCED) == 495
    assert rows(tmp_path / "c.db") == [("BTC", candle(i).open_time, 100, 0, "100.00012340") for i in range(5)]


async def test_closed_candles_flush_without_waiting_for_the_interval(tmp_path: Path) -> None:
    """A closed candle is written close_delay after it arrives, long before flush_interval."""
    clock = ManualClock()
    p = Pipeline(
        sqlite_sink(tmp_path / "c.db", clock=clock),
        tmp_path / "spool",
        clock=clock,
        flush_interval=60,
        close_delay=0.05,
    )
    async with p.running():
        await p.send.send(candle(0, trades=3, closed=True))
        await wait_until(lambda: p.buffer.depth() == 1)
        await clock.advance(0.06)
        await wait_until(lambda: written(p) == 1)


async def test_a_full_batch_is_written_at_once(tmp_path: Path) -> None:
    """max_batch distinct candles trigger a write without any clock movement."""
    clock = ManualClock()
    p = Pipeline(
        sqlite_sink(tmp_path / "c.db", clock=clock), tmp_path / "spool", clock=clock, flush_interval=60, max_batch=50
    )
    async with p.running():
        for i in range(120):
            await p.send.send(candle(i))
        await wait_until(lambda: written(p) == 100 and p.buffer.depth() == 20)
        await anyio.sleep(0.05)
        assert written(p) == 100  # the remainder waits for its interval


async def test_end_of_input_flushes_everything_and_returns(tmp_path: Path) -> None:
    """When the inbox ends the buffer writes what it holds and run() returns (the shutdown drain)."""
    p = Pipeline(sqlite_sink(tmp_path / "c.db"), tmp_path / "spool", flush_interval=3600)
    async with p.running():
        for i in range(300):
            await p.send.send(candle(i, trades=2, closed=i % 2 == 0))
    assert p.buffer_done.is_set()
    assert len(rows(tmp_path / "c.db")) == 300


async def test_locked_sink_spools_then_replays_in_order(tmp_path: Path) -> None:
    """Sink refuses (locked database): batches go to disk; once it is free they all arrive."""
    db = tmp_path / "c.db"
    p = Pipeline(sqlite_sink(db, busy_timeout=0.02), tmp_path / "spool", flush_interval=0.02, retry_initial=0.05)
    async with p.running():
        await p.send.send(candle(0, trades=1))
        await wait_until(lambda: written(p) == 1)
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            for step in range(1, 6):
                for i in range(40):
                    await p.send.send(candle(i, trades=step, closed=step == 5))
                await anyio.sleep(0.05)
            await wait_until(lambda: p.metric(names.SPOOL_BATCHES) >= 2 and p.buffer.depth() == 0)
            assert p.metric(names.SPOOL_BYTES) > 0
            assert any("spooling batches" in m for m in p.events(names.EV_SPOOL))
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await wait_until(lambda: any("spool drained" in m for m in p.events(names.EV_SPOOL)))
        assert p.metric(names.SPOOL_BATCHES) == 0
    assert rows(db) == [("BTC", candle(i).open_time, 5, 1, "5.00012340") for i in range(40)]
    assert list((tmp_path / "spool").glob("seg-*")) == []


async def test_full_memory_and_full_spool_push_back_on_sources_and_lose_nothing(tmp_path: Path) -> None:
    """Sink down, spool capped: the buffer stops reading, the inbox fills, nothing is dropped."""
    db = tmp_path / "c.db"
    p = Pipeline(
        sqlite_sink(db, busy_timeout=0.01),
        tmp_path / "spool",
        queue_size=10,
        spool={"max_bytes": 4000},
        flush_interval=0.01,
        max_batch=10,
        max_pending=20,
        retry_initial=0.02,
        retry_max=0.05,
    )
    async with p.running():
        await p.send.send(candle(0, coin="WARMUP"))
        await wait_until(lambda: written(p) == 1)
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        sent = 0
        try:
            while sent < 5000:
                with anyio.move_on_after(1.0) as blocked:
                    await p.send.send(candle(sent, closed=True))
                if blocked.cancelled_caught:
                    break
                sent += 1
            assert any("spool full" in m for m in p.events(names.EV_SPOOL))
            assert 20 <= p.buffer.depth() <= 30  # max_pending, plus the batch the writer holds
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        blocked_at = sent
        assert blocked_at < 5000  # backpressure reached the sender
        await wait_until(lambda: p.metric(names.SPOOL_BATCHES) == 0 and p.buffer.depth() == 0)
    assert len(rows(db)) == blocked_at + 1


async def test_stopping_mid_flight_saves_memory_to_the_spool(tmp_path: Path) -> None:
    """Cancelled while holding candles (sink down): they are spooled and the next run writes them."""
    db = tmp_path / "c.db"
    p = Pipeline(sqlite_sink(db, busy_timeout=0.01), tmp_path / "spool", flush_interval=3600)
    async with anyio.create_task_group() as tg:
        await tg.start(p.buffer.run)  # the sink is not running: it refuses writes
        for i in range(25):
            await p.send.send(candle(i, trades=4))
        await wait_until(lambda: p.buffer.depth() == 25)
        tg.cancel_scope.cancel()
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    await spool.open(lambda: 0.0)
    assert spool.batches == 1
    await spool.close()
    async with p.running():
        await wait_until(lambda: p.metric(names.SPOOL_BATCHES) == 0 and written(p) == 25)
    assert len(rows(db)) == 25


async def test_damaged_spool_from_a_crash_is_reported_and_the_rest_replayed(tmp_path: Path) -> None:
    """At start a torn tail is skipped with an event and a warning, never a crash loop."""
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    await spool.open(lambda: 0.0)
    await spool.append([candle(0, closed=True)], created_ms=1, now=0.0)
    await spool.append([candle(1, closed=True)], created_ms=2, now=0.0)
    await spool.close()
    [segment] = (tmp_path / "spool").glob("seg-*")
    segment.write_bytes(segment.read_bytes()[:-3])
    p = Pipeline(sqlite_sink(tmp_path / "c.db"), tmp_path / "spool")
    async with p.running():
        await wait_until(lambda: p.metric(names.SPOOL_BATCHES) == 0 and written(p) == 1)
        assert any("damaged bytes" in m for m in p.events(names.EV_SPOOL))
    assert [r[1] for r in rows(tmp_path / "c.db")] == [candle(0).open_time]


async def test_buffer_stats_are_published(tmp_path: Path) -> None:
    """Depth, capacity and spool gauges read live values from the one registry."""
    clock = ManualClock()
    p = Pipeline(
        sqlite_sink(tmp_path / "c.db", clock=clock), tmp_path / "spool", clock=clock, max_pending=777, max_batch=100
    )
    async with p.running():
        for i in range(3):
            await p.send.send(candle(i))
        await wait_until(lambda: p.metric(names.BUFFER_DEPTH) == 3)
        assert p.metric(names.BUFFER_CAPACITY) == 777
        assert p.metric(names.SPOOL_BATCHES) == 0
        assert p.metric(names.SPOOL_OLDEST_AGE) == 0
        assert p.buffer.describe()["pending"] == 3
