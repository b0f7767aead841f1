"""Gap repair with the TimescaleDB/PostgreSQL sink (a throwaway database on the local server)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from candlewick.model import MINUTE_MS, open_time
from candlewick.runtime import names

from .conftest import Rig, repair_of

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def anyio_backend() -> str:
    """asyncpg runs on asyncio only."""
    return "asyncio"


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own, dropped afterwards."""
    name = f"candlewick_test_{secrets.token_hex(4)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def stored(database: str) -> list[tuple[Any, ...]]:
    out = psql(
        "SELECT (extract(epoch FROM time) * 1000)::bigint, open::text, high::text, low::text, close::text,"
        " volume::text, trades FROM candles WHERE coin='BTC' AND interval='1m' AND closed ORDER BY time",
        database,
    )
    rows = []
    for line in out.splitlines():
        t, o, h, lo, c, v, n = line.split("|")
        rows.append((int(t), o, h, lo, c, v, int(n)))
    return rows


def table_exists(database: str) -> bool:
    return psql("SELECT to_regclass('candles') IS NOT NULL", database) == "t"


async def test_restart_over_a_gap_repairs_it_in_postgres(rig: Rig, database: str) -> None:
    """The same repair path against the PostgreSQL sink: the gap is filled exactly."""
    sink = {"use": "timescaledb", "timescaledb": {"dsn": f"{SERVER}/{database}"}}
    settings = rig.settings(repair={}, sink=sink)
    async with rig.daemon(settings):
        await rig.wait_until(lambda: table_exists(database) and len(stored(database)) >= 2)
    first = stored(database)[0][0]
    await rig.sleep(5 * 60)
    async with rig.daemon(settings) as daemon:
        last = open_time("1m", rig.exchange.now_ms()) - 2 * MINUTE_MS

        def complete() -> bool:
            rows = [r for r in stored(database) if first <= r[0] <= last]
            return rows == rig.truth("BTC", "1m", first, last)

        await rig.wait_until(complete, timeout=30)
        metrics = daemon.telemetry.metrics
        await rig.wait_until(lambda: metrics.value(names.GAPS_REPAIRED, coin="BTC", interval="1m") >= 1)
        assert any(j["kind"] == "repair" and j["state"] == "done" for j in repair_of(daemon).backfill_list())
