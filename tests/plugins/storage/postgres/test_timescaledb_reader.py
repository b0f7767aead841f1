"""The TimescaleDB/PostgreSQL read side on the real server: the reader contract, read_dsn, a read-only role."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import anyio
import asyncpg
import pytest

import candlewick
from candlewick.cli import main
from candlewick.config import Settings
from candlewick.errors import SinkUnavailable
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.reader import TimescaleReader
from candlewick.readers import FOREVER, open_reader

from ..contract import running
from ..helpers import candle
from ..reading_contract import ReaderContract
from .conftest import SERVER, psql, timescale_sink

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def read_role(pg_database: str) -> Iterator[str]:
    """A login role that may only SELECT from candles, as the README sets it up."""
    role = f"candlewick_read_{secrets.token_hex(3)}"
    psql(f"CREATE ROLE {role} LOGIN")
    try:
        yield role
    finally:
        psql(f"DROP OWNED BY {role}", database=pg_database)
        psql(f"DROP ROLE IF EXISTS {role}")


class TestTimescaleReader(ReaderContract):
    pass


async def test_a_read_only_role_reads_through_read_dsn_and_cannot_write(
    pg_dsn: str, pg_database: str, read_role: str
) -> None:
    async with running(timescale_sink(pg_dsn)) as sink:
        await sink.write([candle(0, closed=True), candle(1)])
    psql(f"GRANT SELECT ON candles TO {read_role}", database=pg_database)
    read_dsn = f"postgresql://{read_role}@127.0.0.1:5432/{pg_database}"
    settings = Settings.model_validate(
        {"sources": {}, "sink": {"use": "timescaledb", "timescaledb": {"dsn": pg_dsn, "read_dsn": read_dsn}}}
    )
    reader = open_reader(settings)
    assert isinstance(reader, TimescaleReader)
    async with reader:
        page = await reader.candles("BTC", "1m", 0, FOREVER, 10)
        assert [c.open_time for c in page.candles] == [candle(0).open_time, candle(1).open_time]
        assert reader.target() == pg_dsn  # the writer's database keys the ledger, not the reading role
        pool = reader._pool
        assert pool is not None
        async with pool.acquire() as conn:
            await conn.execute("SET default_transaction_read_only = off")  # the role itself refuses too
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM candles")


async def test_sessions_are_read_only_even_under_the_writers_role(pg_dsn: str) -> None:
    async with running(timescale_sink(pg_dsn)) as sink:
        await sink.write([candle(0, closed=True)])
        reader = sink.reader()
        assert len((await reader.candles("BTC", "1m", 0, FOREVER, 10)).candles) == 1
        pool = getattr(reader, "_pool", None)
        assert pool is not None
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pool.execute("DELETE FROM candles")


async def test_a_role_without_the_grant_gets_a_hint(pg_dsn: str, pg_database: str, read_role: str) -> None:
    async with running(timescale_sink(pg_dsn)) as sink:
        await sink.write([candle(0, closed=True)])
    config = TimescaleConfig(dsn=pg_dsn, read_dsn=f"postgresql://{read_role}@127.0.0.1:5432/{pg_database}")
    async with TimescaleReader(config) as reader:
        with pytest.raises(SinkUnavailable, match="refused the read") as err:
            await reader.markets()
    assert "GRANT SELECT ON candles" in (err.value.hint or "")


async def test_an_unreachable_server_is_unavailable_and_a_missing_table_says_so(pg_dsn: str) -> None:
    config = TimescaleConfig(dsn="postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    async with TimescaleReader(config) as reader:
        with pytest.raises(SinkUnavailable, match="reading from"):
            await reader.newest("BTC", "1m", 1)
    async with TimescaleReader(TimescaleConfig(dsn=pg_dsn)) as reader:
        with pytest.raises(SinkUnavailable, match="no candles table") as err:
            await reader.newest("BTC", "1m", 1)
    assert "start the daemon once" in (err.value.hint or "")
    assert SERVER in pg_dsn


async def test_export_and_the_python_api_read_postgresql_from_the_config(pg_dsn: str, tmp_path: Path) -> None:
    """`candlewick export` and `candlewick.open_store()` with `[sink] use = "timescaledb"`: exact decimals."""
    async with running(timescale_sink(pg_dsn)) as sink:
        await sink.write([candle(i, closed=i < 4, volume="0.00012340") for i in range(5)])
    config = tmp_path / "c.toml"
    config.write_text(f'[sink]\nuse = "timescaledb"\n[sink.timescaledb]\ndsn = "{pg_dsn}"\n')
    out = tmp_path / "btc.csv"
    argv = ["export", "-c", str(config), "--coin", "BTC", "--interval", "1m", "-o", str(out)]
    assert await anyio.to_thread.run_sync(main, argv) == 0  # the command runs its own event loop
    lines = out.read_text().splitlines()
    assert lines[1] == f"{candle(0).open_time},30000.5,30010.25,29990.125,30001.0,0.00012340,1,true"
    assert len(lines) == 6
    assert lines[-1].endswith(",false")

    def api() -> list[str]:
        with candlewick.open_store(config) as store:
            return [c.volume for c in store.candles("BTC", "1m", closed_only=True)]

    assert await anyio.to_thread.run_sync(api) == ["0.00012340"] * 4
