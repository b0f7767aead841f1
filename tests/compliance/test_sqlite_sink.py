"""Our SQLite sink passes the sink suite; the outage is another process holding the write lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from candlewick.testing.compliance import SinkSuite, StoreOutage


class WriteLock(StoreOutage):
    """Another connection holds SQLite's write lock (as a second process would)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    async def take_away(self) -> None:
        def lock() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN EXCLUSIVE")
            return conn

        self.conn = await anyio.to_thread.run_sync(lock)

    async def bring_back(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None


class TestSqliteSink(SinkSuite):
    plugin = "sqlite"

    @pytest.fixture
    def sink_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "candles.db"), "busy_timeout": 0.2, "reconnect_max": 0.5}

    @pytest.fixture
    def outage(self, sink_options: dict[str, Any]) -> StoreOutage:
        return WriteLock(Path(sink_options["path"]))
