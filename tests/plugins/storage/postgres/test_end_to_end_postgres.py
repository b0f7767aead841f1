"""``candlewick run`` (TimescaleDB sink) against the faulty fake exchange, its database refusing connections a while."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from candlewick.model import Candle

from ..end_to_end import run_and_compare
from .conftest import psql
from .streams import stored

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]


async def test_every_closed_candle_is_stored_exactly(pg_dsn: str, pg_database: str, tmp_path: Path) -> None:
    """Faulty exchange and a 4 s database outage (connections refused, backends terminated): no loss."""

    async def rows() -> dict[tuple[str, str, int], Candle]:
        try:
            return await stored(pg_dsn)
        except Exception:  # the table may not exist yet
            return {}

    async def outage() -> None:
        psql(f"ALTER DATABASE {pg_database} ALLOW_CONNECTIONS false")
        try:
            psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{pg_database}' AND application_name LIKE 'candlewick:%'"
            )
            await anyio.sleep(4)
        finally:
            psql(f"ALTER DATABASE {pg_database} ALLOW_CONNECTIONS true")

    sink = f'[sink]\nuse = "timescaledb"\n[sink.timescaledb]\ndsn = "{pg_dsn}"\nreconnect_max = 1.0'
    compared, live = await run_and_compare(tmp_path, sink, rows, outage)
    assert compared > 100
    assert live >= 1
    log = (tmp_path / "daemon.log").read_text()
    assert "lost the connection" in log
    assert "spool drained" in log
