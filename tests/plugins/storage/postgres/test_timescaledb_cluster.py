"""TimescaleDB for real, on clusters of the suite's own: what the sink says where TimescaleDB is
installed, preloaded or not; then, preloaded, the hypertable, chunks, compression, policies and
upserts into compressed chunks.

Where TimescaleDB is not installed for the machine's PostgreSQL 15, this whole module is skipped
once, with the reason :func:`conftest.require_timescaledb` gives.
"""

from __future__ import annotations

import random
import time
from urllib.parse import urlsplit

import pytest

from candlewick.model import Candle
from candlewick.plugin import Sink

from ..contract import BumpSchema, NewSink, SinkContract, running
from ..helpers import T0, candle
from .conftest import Cluster, psql, require_timescaledb, says_once, timescale_offer, timescale_sink
from .streams import final_versions, market_stream, stored

require_timescaledb(module=True)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

HOUR_MS = 3_600_000


def tsql(dsn: str, sql: str) -> str:
    """Run one statement on the database of ``dsn`` (a TimescaleDB cluster's)."""
    url = urlsplit(dsn)
    return psql(sql, database=url.path.lstrip("/"), port=url.port or 5432)


def policies(dsn: str) -> list[str]:
    """The policy jobs of ``candles`` with their interval, as ``proc|compress_after|drop_after``."""
    rows = tsql(
        dsn,
        "SELECT proc_name, config->>'compress_after', config->>'drop_after' FROM timescaledb_information.jobs "
        "WHERE hypertable_name = 'candles' ORDER BY proc_name",
    )
    return rows.splitlines()


def run_policy(dsn: str, kind: str) -> None:
    """Run the ``kind`` (compression, retention) policy of ``candles`` now, in the foreground."""
    job = tsql(
        dsn,
        "SELECT job_id FROM timescaledb_information.jobs "
        f"WHERE hypertable_name = 'candles' AND proc_name = 'policy_{kind}'",
    )
    assert job, f"no {kind} policy on candles"
    tsql(dsn, f"CALL run_job({job})")


def chunks(dsn: str) -> tuple[int, int]:
    """How many chunks ``candles`` has, and how many of them are compressed."""
    total, compressed = tsql(
        dsn,
        "SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'candles'",
    ).split("|")
    return int(total), int(compressed)


async def test_installed_but_not_preloaded_is_said_once_with_the_fix(
    unloaded_timescale_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Installed but not in shared_preload_libraries: a plain table, a warning saying how to fix it,
    and no CREATE EXTENSION (it would be FATAL and end the connection)."""
    cluster = unloaded_timescale_cluster
    assert timescale_offer(cluster.port) == "installed"
    await says_once(cluster.dsn, "installed", caplog)
    assert psql("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'", port=cluster.port) == "0"


async def test_a_preloaded_timescaledb_is_said_once(
    timescale_cluster: Cluster, tsdb_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Preloaded: ``candles`` becomes a hypertable and the sink says so, with its settings."""
    assert timescale_offer(timescale_cluster.port) == "preloaded"
    await says_once(tsdb_dsn, "preloaded", caplog)


class TestTimescaleSinkOnHypertable(SinkContract):
    """The whole sink contract, with ``candles`` a hypertable."""

    @pytest.fixture
    def new_sink(self, tsdb_dsn: str) -> NewSink:
        def build() -> Sink:
            return timescale_sink(tsdb_dsn)

        return build

    @pytest.fixture
    def bump_schema(self, tsdb_dsn: str) -> BumpSchema:
        async def bump(version: int) -> None:
            sql = f"INSERT INTO schema_migrations (version, description) VALUES ({version}, 'from the future')"
            tsql(tsdb_dsn, sql)

        return bump


async def test_candles_is_a_hypertable_on_time_with_the_configured_chunk_width(tsdb_dsn: str) -> None:
    """One chunk per hour of candles at a 1-hour width; a new width applies to the chunks to come."""
    history = [candle(i, closed=True) for i in range(0, 180, 7)]
    async with running(timescale_sink(tsdb_dsn, chunk_time_interval="1 hour")) as sink:
        await sink.write(history)
        assert sink.describe()["hypertable"] is True
    dims = "SELECT column_name, time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'candles'"
    assert tsql(tsdb_dsn, dims) == "time|01:00:00"
    assert chunks(tsdb_dsn) == (len({c.open_time // HOUR_MS for c in history}), 0)
    async with running(timescale_sink(tsdb_dsn, chunk_time_interval="1 day")):
        pass
    assert tsql(tsdb_dsn, dims) == "time|1 day"
    assert await stored(tsdb_dsn) == {c.key: c for c in history}


async def test_compression_settings_and_policies_follow_the_configuration(tsdb_dsn: str) -> None:
    """Segments by market, ordered by time; each policy exists once with the configured interval,
    is replaced when the setting changes and removed when it is switched off."""
    async with running(timescale_sink(tsdb_dsn, compress_after="7 days", retention="10 years")):
        pass
    settings = tsql(
        tsdb_dsn,
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings WHERE hypertable_name = 'candles' ORDER BY attname",
    )
    assert settings.splitlines() == ["coin|1||", "interval|2||", "time||1|t"]
    assert policies(tsdb_dsn) == ["policy_compression|7 days|", "policy_retention||10 years"]
    async with running(timescale_sink(tsdb_dsn, compress_after="30 days", retention="5 years")):
        pass
    assert policies(tsdb_dsn) == ["policy_compression|30 days|", "policy_retention||5 years"]
    async with running(timescale_sink(tsdb_dsn, compress_after="30 days", retention="5 years")):
        pass
    assert policies(tsdb_dsn) == ["policy_compression|30 days|", "policy_retention||5 years"]
    async with running(timescale_sink(tsdb_dsn)):
        pass
    assert policies(tsdb_dsn) == []


async def test_the_retention_policy_drops_only_chunks_past_it(tsdb_dsn: str) -> None:
    """Run for real, the retention policy drops the old hours and keeps the recent one."""
    recent = (int(time.time() * 1000) - T0) // 60_000 - 90  # an hour and a half ago
    old = [candle(i, closed=True) for i in range(0, 120, 5)]
    kept = [candle(recent + i, closed=True) for i in range(3)]
    async with running(timescale_sink(tsdb_dsn, chunk_time_interval="1 hour", retention="365 days")) as sink:
        await sink.write(old + kept)
    run_policy(tsdb_dsn, "retention")
    assert await stored(tsdb_dsn) == {c.key: c for c in kept}


async def test_a_backfill_into_fully_compressed_chunks_ends_exact(tsdb_dsn: str) -> None:
    """Live-like versions land, the compression policy compresses every chunk, then a backfill (COPY
    batches and unnest batches, shuffled, with stale and duplicate versions) upserts into them: the
    table ends with exactly the final version of every candle."""
    stream = market_stream(markets=4, minutes=240, updates=3)
    first = [c for c in stream if not c.closed and c.open_time % (2 * 60_000) == 0]
    backfill = list(stream)
    random.Random(17).shuffle(backfill)
    async with running(timescale_sink(tsdb_dsn, chunk_time_interval="1 hour", compress_after="1 day")) as sink:
        await sink.write(first)
        run_policy(tsdb_dsn, "compression")
        total, compressed = chunks(tsdb_dsn)
        assert total == compressed == len({c.open_time // HOUR_MS for c in stream})
        big, small = backfill[:2500], backfill[2500:]
        await sink.write(big)  # COPY + upsert (at least copy_min_rows rows)
        for k in range(0, len(small), 200):
            await sink.write(small[k : k + 200])  # unnest
    expected = final_versions(first + backfill)
    assert await stored(tsdb_dsn) == expected
    assert sum(c.closed for c in expected.values()) == len(expected) == 4 * 240


@pytest.mark.parametrize("copy_min_rows", [1, 1000], ids=["copy", "unnest"])
async def test_closed_rows_in_a_compressed_chunk_never_go_backwards(tsdb_dsn: str, copy_min_rows: int) -> None:
    """Inside a compressed chunk: an open version never overwrites a closed row, a closed one with
    less does not either; a better closed one and a closed one over an open row do."""
    options = {"chunk_time_interval": "1 hour", "compress_after": "1 day", "copy_min_rows": copy_min_rows}
    async with running(timescale_sink(tsdb_dsn, **options)) as sink:
        await sink.write([candle(0, trades=5, closed=True), candle(1, trades=5, closed=True), candle(2, trades=3)])
        run_policy(tsdb_dsn, "compression")
        assert chunks(tsdb_dsn) == (1, 1)
        await sink.write([candle(0, trades=9), candle(1, trades=4, closed=True), candle(2, trades=2)])
        assert await stored(tsdb_dsn) == by_key(
            candle(0, trades=5, closed=True), candle(1, trades=5, closed=True), candle(2, trades=3)
        )
        await sink.write([candle(1, trades=7, closed=True), candle(2, trades=1, closed=True)])
    assert await stored(tsdb_dsn) == by_key(
        candle(0, trades=5, closed=True), candle(1, trades=7, closed=True), candle(2, trades=1, closed=True)
    )


def by_key(*candles: Candle) -> dict[tuple[str, str, int], Candle]:
    return {c.key: c for c in candles}
