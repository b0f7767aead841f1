"""The TimescaleDB/PostgreSQL sink against the real server: contract, schema, paths, outages."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import Sink
from candlewick.plugins.memory_buffer import spool_format as fmt
from candlewick.plugins.timescaledb import schema
from candlewick.runtime import names
from tests.polling import wait_until

from ..contract import NewSink, SinkContract, running
from ..helpers import Pipeline, candle
from .conftest import Cluster, psql, says_once, timescale_offer, timescale_sink
from .streams import final_versions, market_stream, stored

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class TestTimescaleSink(SinkContract):
    """Default paths: unnest for live-sized batches."""


class TestTimescaleSinkCopyPath(SinkContract):
    """Every batch through COPY into the staging table, then the upsert."""

    @pytest.fixture
    def new_sink(self, pg_dsn: str) -> NewSink:
        def build() -> Sink:
            return timescale_sink(pg_dsn, copy_min_rows=1)

        return build


async def test_schema_matches_the_public_contract(pg_dsn: str, pg_database: str) -> None:
    """Column names and types of ``candles`` and its primary key are exactly the documented ones."""
    async with running(timescale_sink(pg_dsn)):
        pass
    cols = psql(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_name = 'candles'",
        database=pg_database,
    )
    assert cols == (
        "time timestamp with time zone, coin text, interval text, open numeric, high numeric, low numeric, "
        "close numeric, volume numeric, trades integer, closed boolean, updated_at timestamp with time zone, "
        "derived boolean"
    )
    pk = psql(
        "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'candles'::regclass AND i.indisprimary",
        database=pg_database,
    )
    assert pk == "coin,interval,time"
    assert (
        psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations", database=pg_database)
        == "1,2"
    )


async def test_time_is_the_open_time_in_utc(pg_dsn: str, pg_database: str) -> None:
    """``time`` holds the candle's open time exactly (ms precision, UTC)."""
    c = candle(0, closed=True)
    async with running(timescale_sink(pg_dsn)) as sink:
        await sink.write([c])
    got = psql("SELECT (extract(epoch FROM time) * 1000)::bigint, open::text FROM candles", database=pg_database)
    assert got == f"{c.open_time}|{c.open}"


async def test_the_sink_says_once_what_this_server_offers(pg_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    """The machine's server, in whichever state it is: without timescaledb, with it installed but
    not preloaded, or preloading it."""
    await says_once(pg_dsn, timescale_offer(), caplog)


def test_timescale_statements_are_idempotent_and_optional() -> None:
    """Compression and retention are off unless configured; every statement is safe to repeat."""
    plain = schema.timescale_statements(chunk_time_interval="30 days", compress_after=None, retention=None)
    assert not any("add_compression_policy" in s or "add_retention_policy" in s for s in plain)
    full = schema.timescale_statements(chunk_time_interval="7 days", compress_after="90 days", retention="5 years")
    assert any("add_compression_policy('candles', INTERVAL '90 days', if_not_exists => TRUE)" in s for s in full)
    assert any("add_retention_policy('candles', INTERVAL '5 years', if_not_exists => TRUE)" in s for s in full)
    assert all(
        "IF NOT EXISTS" in s or "if_not_exists" in s or "if_exists" in s or "ALTER TABLE" in s
        or s.startswith("SELECT set_chunk_time_interval('candles', INTERVAL '7 days')")
        for s in full
    )  # fmt: skip


def test_changed_settings_replace_the_existing_policies() -> None:
    """``if_not_exists`` keeps an old policy, so one with another interval is removed first; the chunk
    width is set on every start (create_hypertable keeps the old one)."""
    full = schema.timescale_statements(chunk_time_interval="7 days", compress_after="90 days", retention="5 years")
    for kind, key, value in (("compression", "compress_after", "90 days"), ("retention", "drop_after", "5 years")):
        [drop] = [s for s in full if f"remove_{kind}_policy" in s]
        assert f"proc_name = 'policy_{kind}'" in drop
        assert f"(config->>'{key}')::interval::text IS DISTINCT FROM (INTERVAL '{value}')::text" in drop
        assert full.index(drop) < next(i for i, s in enumerate(full) if f"add_{kind}_policy" in s)
    assert "SELECT set_chunk_time_interval('candles', INTERVAL '7 days')" in full


def test_the_preload_of_timescaledb_is_read_from_the_setting() -> None:
    """CREATE EXTENSION without the preload is FATAL (it ends the connection), so it is checked first."""
    assert schema.preloads_timescaledb("timescaledb") is True
    assert schema.preloads_timescaledb('pg_stat_statements, "$libdir/timescaledb.so"') is True
    assert schema.preloads_timescaledb("pg_stat_statements,timescaledb_toolkit") is False
    assert schema.preloads_timescaledb("") is False
    assert schema.preloads_timescaledb(None) is None  # not readable by this account: try, as before


async def test_concurrent_starts_migrate_once(pg_dsn: str, pg_database: str) -> None:
    """Two sinks starting at once on a new database: the advisory lock lets one migrate."""
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(_start_stop, timescale_sink(pg_dsn))
    assert psql("SELECT count(*) FROM schema_migrations", database=pg_database) == "2"


async def _start_stop(sink: Sink) -> None:
    async with running(sink):
        pass


async def feed(p: Pipeline, stream: list[Candle], *, per_tick: int = 50) -> None:
    for k in range(0, len(stream), per_tick):
        for c in stream[k : k + per_tick]:
            await p.send.send(c)
        await anyio.sleep(0.01)


async def test_terminated_backends_mid_stream_lose_nothing(pg_dsn: str, pg_database: str, tmp_path: Path) -> None:
    """pg_terminate_backend on every connection, repeatedly, while candles stream: all arrive exactly."""
    stream = market_stream(markets=20, minutes=12, updates=5)
    p = Pipeline(timescale_sink(pg_dsn), tmp_path / "spool", flush_interval=0.05, retry_initial=0.05, retry_max=0.2)
    kills = 0
    async with p.running():
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed, p, stream)
            for _ in range(15):
                await anyio.sleep(0.1)
                kills += int(psql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    f"WHERE datname = '{pg_database}' AND pid <> pg_backend_pid() "
                    "AND application_name LIKE 'candlewick:%'"
                ) or 0)  # fmt: skip
        await wait_until(lambda: p.buffer.depth() == 0 and p.metric(names.SPOOL_BATCHES) == 0, timeout=30)
    assert kills > 0
    expected = final_versions(stream)
    assert await stored(pg_dsn) == expected
    assert sum(c.closed for c in expected.values()) == 20 * 12


async def test_server_stopped_and_started_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    """A whole cluster going down (pg_ctl stop) mid-stream: batches spool, replay after pg_ctl start."""
    stream = market_stream(markets=10, minutes=9, updates=4)
    third = len(stream) // 3
    p = Pipeline(
        timescale_sink(cluster.dsn), tmp_path / "spool", flush_interval=0.05, retry_initial=0.05, retry_max=0.3
    )
    async with p.running():
        await feed(p, stream[:third])
        await wait_until(lambda: p.buffer.depth() == 0)
        await anyio.to_thread.run_sync(cluster.stop)
        await feed(p, stream[third : 2 * third])
        await wait_until(lambda: p.metric(names.SPOOL_BATCHES) > 0 and p.buffer.depth() == 0, timeout=30)
        assert p.sink.describe()["connected"] is False
        await anyio.to_thread.run_sync(cluster.start)
        await feed(p, stream[2 * third :])
        await wait_until(lambda: p.buffer.depth() == 0 and p.metric(names.SPOOL_BATCHES) == 0, timeout=60)
        assert any(e.kind == names.EV_DISCONNECTED for e in p.telemetry.events.recent(500))
    assert await stored(cluster.dsn) == final_versions(stream)


async def test_only_the_candles_the_database_rejects_are_set_aside(
    pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch failing with a data error (numeric overflow): its good candles are written, the bad one
    goes to rejected/ with the reason, is reported once, and later batches still land."""
    poison = Candle("BTC", "1m", candle(0).open_time, candle(0).close_time, "1", "1", "1", "1", "1e999999", 1, True)
    p = Pipeline(
        timescale_sink(pg_dsn), tmp_path / "spool", flush_interval=0.02, close_delay=0.5, retry_initial=0.02,
        reject_after=2,
    )  # fmt: skip
    async with p.running():
        for c in [candle(i, closed=True) for i in range(1, 6)] + [poison] + [candle(i, closed=True) for i in (6, 7)]:
            await p.send.send(c)
        await wait_until(lambda: any("set aside" in m for m in p.events(names.EV_SPOOL)))
        await p.send.send(candle(8, closed=True))
        await wait_until(lambda: p.metric(names.SPOOL_BATCHES) == 0 and p.buffer.depth() == 0)
    [rejected] = list((tmp_path / "spool" / "rejected").glob("*.cwbatch"))
    assert fmt.decode_batch(rejected.read_bytes()) == [poison]
    reason = (rejected.parent / (rejected.name + ".reason")).read_text()
    assert "1 of its 8 candles are refused on their own; last error: NumericValueOutOfRangeError" in reason
    assert sorted(c.open_time for c in (await stored(pg_dsn)).values()) == [candle(i).open_time for i in range(1, 9)]
    assert [r.levelname for r in caplog.records if "set aside" in r.getMessage()] == ["ERROR"]


async def test_a_read_only_database_keeps_batches_instead_of_rejecting_them(pg_dsn: str, pg_database: str) -> None:
    """Server-state errors (here: read-only transactions) mean SinkUnavailable, never a bad batch."""
    async with running(timescale_sink(pg_dsn)) as sink:
        psql(f"ALTER DATABASE {pg_database} SET default_transaction_read_only = on")
        try:
            psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{pg_database}' AND application_name LIKE 'candlewick:%'"
            )
            with pytest.raises(SinkUnavailable, match="ReadOnlySQLTransactionError"):
                await sink.write([candle(0)])
        finally:
            psql(f"ALTER DATABASE {pg_database} RESET default_transaction_read_only")
