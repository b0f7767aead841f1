"""kill -9 of a daemon spooling for an unreachable PostgreSQL, restart against the server: nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..feed_plugin import expected_rows
from ..killing import kill9, spooled_candles, start_daemon, stop, wait_for
from .conftest import free_port, psql
from .streams import stored

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

COUNT = 300


def settings(tmp: Path, dsn: str, count: int) -> dict[str, object]:
    return {
        "sources": {"feed": {"count": count}},
        "sink": {"use": "timescaledb", "timescaledb": {"dsn": dsn, "connect_timeout": 1, "reconnect_max": 0.3}},
        "buffer": {"use": "memory", "memory": {"flush_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.2}},
        "spool": {"dir": str(tmp / "spool")},
        "daemon": {"data_dir": str(tmp / "data"), "shutdown_timeout": 10},
    }


def closed_rows(database: str) -> int:
    try:
        return int(psql("SELECT count(*) FROM candles WHERE closed", database=database))
    except RuntimeError:  # the table does not exist yet
        return -1


async def test_kill9_while_the_server_is_unreachable_then_restart(
    pg_dsn: str, pg_database: str, tmp_path: Path
) -> None:
    """Batches spooled while PostgreSQL was unreachable survive kill -9 and land after restart."""
    log = tmp_path / "daemon.log"
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    first = start_daemon(settings(tmp_path, nowhere, COUNT), log)
    try:
        wait_for(lambda: spooled_candles(tmp_path / "spool") >= COUNT, first, log)
    finally:
        if first.poll() is None:
            kill9(first)
    second = start_daemon(settings(tmp_path, pg_dsn, 0), log)
    try:
        wait_for(lambda: closed_rows(pg_database) == COUNT and spooled_candles(tmp_path / "spool") == 0, second, log)
    finally:
        stop(second, log)
    assert await stored(pg_dsn) == expected_rows(COUNT)
