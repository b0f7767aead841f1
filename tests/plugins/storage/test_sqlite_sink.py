"""The SQLite sink against real SQLite files: the sink contract, WAL, locking, reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from candlewick.errors import SinkUnavailable
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink

from .contract import BumpSchema, NewSink, SinkContract, running
from .helpers import candle, sqlite_sink

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "candles.db"


@pytest.fixture
def new_sink(db_path: Path) -> NewSink:
    return lambda: sqlite_sink(db_path)


@pytest.fixture
def bump_schema(db_path: Path) -> BumpSchema:
    async def bump(version: int) -> None:
        with sqlite3.connect(db_path) as conn:
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 0)", (version,))
        conn.close()

    return bump


class TestSqliteSink(SinkContract):
    pass


async def test_database_is_in_wal_mode_with_the_contract_schema(db_path: Path) -> None:
    """The file uses WAL; columns have the documented names and storage types."""
    async with running(sqlite_sink(db_path)) as sink:
        await sink.write([candle(0, closed=True)])
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(candles)")]
        assert cols == [
            ("time", "INTEGER"), ("coin", "TEXT"), ("interval", "TEXT"), ("open", "TEXT"), ("high", "TEXT"),
            ("low", "TEXT"), ("close", "TEXT"), ("volume", "TEXT"), ("trades", "INTEGER"), ("closed", "INTEGER"),
            ("updated_at", "INTEGER"), ("derived", "INTEGER"),
        ]  # fmt: skip
        row = conn.execute("SELECT time, typeof(open), closed FROM candles").fetchone()
        assert row == (candle(0).open_time, "text", 1)
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,), (2,)]
    finally:
        conn.close()


async def test_relative_path_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``path = "candlewick.db"`` means ./candlewick.db of the directory the daemon starts in."""
    monkeypatch.chdir(tmp_path)
    assert SqliteConfig().resolved_path() == tmp_path / "candlewick.db"


async def test_locked_database_makes_writes_unavailable_then_recovers(db_path: Path) -> None:
    """Another process holding the write lock past busy_timeout: SinkUnavailable, then success."""
    async with running(sqlite_sink(db_path, busy_timeout=0.05)) as sink:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(SinkUnavailable, match="locked"):
                await sink.write([candle(0)])
        finally:
            other.execute("ROLLBACK")
            other.close()
        await sink.write([candle(0)])
        assert await sink.recent("BTC", "1m", 1) == [candle(0)]


async def test_reads_run_beside_a_long_write(db_path: Path) -> None:
    """WAL: a reader sees committed rows while a big batch is being written."""
    async with running(sqlite_sink(db_path)) as sink:
        await sink.write([candle(0, closed=True)])
        async with anyio.create_task_group() as tg:
            tg.start_soon(sink.write, [candle(i, coin=f"C{i % 50}") for i in range(20_000)])
            assert await sink.recent("BTC", "1m", 1) == [candle(0, closed=True)]
        assert len(await sink.recent("C7", "1m", 1000)) == 400


async def test_a_broken_file_is_reported_and_reopened(db_path: Path) -> None:
    """A database that fails to open is retried with backoff instead of crashing the daemon."""
    db_path.write_bytes(b"this is not a database" * 100)
    sink = sqlite_sink(db_path)
    assert isinstance(sink, SqliteSink)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run)
        await anyio.sleep(0.2)
        with pytest.raises(SinkUnavailable):
            await sink.write([candle(0)])
        db_path.unlink()
        with anyio.fail_after(5):
            while True:
                try:
                    await sink.write([candle(0)])
                    break
                except SinkUnavailable:
                    await anyio.sleep(0.05)
        tg.cancel_scope.cancel()


async def test_a_version_1_database_gains_the_derived_column_and_keeps_its_rows(db_path: Path) -> None:
    """Migration 2 adds ``derived`` (false for every stored row) and leaves the rows as they were."""
    from candlewick.plugins.sqlite import schema

    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT, applied_at INT)")
    conn.execute(schema.MIGRATIONS[0].statements[0])
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'candles table', 0)")
    c = candle(0, trades=3, closed=True)
    conn.execute(
        "INSERT INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (c.open_time, c.coin, c.interval, c.open, c.high, c.low, c.close, c.volume, c.trades, 1, 0),
    )
    conn.commit()
    conn.close()
    async with running(sqlite_sink(db_path)) as sink:
        assert await sink.recent("BTC", "1m", 5) == [c]
