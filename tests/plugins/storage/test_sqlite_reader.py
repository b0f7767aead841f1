"""The SQLite read side on real files: the reader contract, read-only connections, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from candlewick.errors import SinkUnavailable
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.reading import FOREVER

from .contract import NewSink, running
from .helpers import candle, sqlite_sink
from .reading_contract import ReaderContract

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "candles.db"


@pytest.fixture
def new_sink(db_path: Path) -> NewSink:
    return lambda: sqlite_sink(db_path)


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    return tmp_path


class TestSqliteReader(ReaderContract):
    pass


async def test_the_reader_never_writes_and_never_creates_the_file(db_path: Path) -> None:
    reader = SqliteReader(db_path)
    with pytest.raises(SinkUnavailable, match="unable to open") as err:
        await reader.newest("BTC", "1m", 1)
    assert "does not exist" in (err.value.hint or "")
    assert not db_path.exists()
    sqlite3.connect(db_path).close()  # an empty database: no table yet
    with pytest.raises(SinkUnavailable, match="no such table") as err:
        await reader.markets()
    assert "start the daemon once" in (err.value.hint or "")
    async with running(sqlite_sink(db_path)) as sink:
        await sink.write([candle(0)])
        assert [c.open_time for c in await reader.newest("BTC", "1m", 1)] == [candle(0).open_time]  # reopened
        conn = reader._conn
        assert conn is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM candles")
    await reader.aclose()


async def test_the_reader_answers_while_another_process_holds_the_write_lock(db_path: Path) -> None:
    async with running(sqlite_sink(db_path)) as sink:
        await sink.write([candle(0, closed=True)])
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM candles")  # uncommitted: readers still see the row (WAL)
        try:
            async with SqliteReader(db_path, busy_timeout=0.05) as reader:
                page = await reader.candles("BTC", "1m", 0, FOREVER, 10)
            assert [c.open_time for c in page.candles] == [candle(0).open_time]
        finally:
            other.execute("ROLLBACK")
            other.close()
