"""Our TimescaleDB sink passes the sink suite on the machine's PostgreSQL.

The outage: the test database stops accepting connections and its sessions are terminated,
as when an administrator or a failover cuts them; then it accepts connections again.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from candlewick.testing.compliance import SinkSuite, StoreOutage
from tests.plugins.storage.postgres.conftest import SERVER, pg_database, psql

__all__ = ["pg_database"]

pytestmark = pytest.mark.postgres


class Terminated(StoreOutage):
    """No connections to the database, and the open ones terminated; then back."""

    def __init__(self, database: str) -> None:
        self.database = database

    async def take_away(self) -> None:
        def cut() -> None:
            psql(f"ALTER DATABASE {self.database} ALLOW_CONNECTIONS false")
            psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.database}'")

        await anyio.to_thread.run_sync(cut)

    async def bring_back(self) -> None:
        await anyio.to_thread.run_sync(psql, f"ALTER DATABASE {self.database} ALLOW_CONNECTIONS true")


class TestTimescaleSink(SinkSuite):
    plugin = "timescaledb"

    @pytest.fixture
    def sink_options(self, pg_database: str) -> dict[str, Any]:
        psql("DROP TABLE IF EXISTS candles, schema_migrations", database=pg_database)
        return {"dsn": f"{SERVER}/{pg_database}", "reconnect_max": 0.5, "connect_timeout": 2}

    @pytest.fixture
    def outage(self, pg_database: str) -> StoreOutage:
        return Terminated(pg_database)


@pytest.fixture
def anyio_backend() -> str:
    """The sink declares asyncio only (asyncpg); the suite would report trio as not applicable."""
    return "asyncio"
