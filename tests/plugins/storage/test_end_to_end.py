"""``candlewick run`` (SQLite sink) against the fake exchange with faults on and the database locked for a while."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio
import pytest

from candlewick.model import Candle
from candlewick.plugins._storage.rows import candle_from_row

from .end_to_end import run_and_compare

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_every_closed_candle_is_stored_exactly(tmp_path: Path) -> None:
    """Faulty exchange (duplicates, reordering, garbage, drops, 429/500) and a 4 s database lock: no loss."""
    db = tmp_path / "candles.db"

    def read() -> dict[tuple[str, str, int], Candle]:
        if not db.exists():
            return {}
        conn = sqlite3.connect(db, timeout=5)
        try:
            out = conn.execute(
                'SELECT "time", coin, "interval", open, high, low, close, volume, trades, closed FROM candles'
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            conn.close()
        return {c.key: c for c in (candle_from_row(*r) for r in out)}

    async def rows() -> dict[tuple[str, str, int], Candle]:
        return await anyio.to_thread.run_sync(read)

    async def lock_for_a_while() -> None:
        def hold() -> None:
            conn = sqlite3.connect(db, isolation_level=None, timeout=10)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                time.sleep(4)
                conn.execute("ROLLBACK")
            finally:
                conn.close()

        await anyio.to_thread.run_sync(hold)

    compared, live = await run_and_compare(
        tmp_path, f'[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "{db}"\nbusy_timeout = 0.2', rows, lock_for_a_while
    )
    assert compared > 100
    assert live >= 1
    assert "spool drained" in (tmp_path / "daemon.log").read_text()
