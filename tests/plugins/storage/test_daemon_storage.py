"""Sink and buffer inside the real daemon: the default wiring, draining at shutdown, a schema from the future."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from candlewick.config import Settings
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.spool import Spool
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.policy import ChildState

from . import feed_plugin
from .feed_plugin import expected_rows
from .test_kill9 import rows

pytestmark = pytest.mark.anyio


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons built by a test, closed afterwards."""
    made: list[Daemon] = []
    yield made
    for d in made:
        d.close()


def daemon(tmp: Path, count: int, made: list[Daemon]) -> Daemon:
    settings = Settings.model_validate(
        {
            "sources": {"feed": {"count": count}},
            "sink": {"sqlite": {"path": str(tmp / "c.db")}},
            "buffer": {"memory": {"flush_interval": 3600, "close_delay": 3600}},  # held until the shutdown drain
            "spool": {"dir": str(tmp / "spool")},
            "daemon": {"data_dir": str(tmp / "data")},
        }
    )
    d = Daemon(settings, build_plugin_manager(extra=[("feed", feed_plugin)]))
    made.append(d)
    d.build()
    return d


async def test_defaults_wire_the_memory_buffer_to_the_sqlite_sink(tmp_path: Path, daemons: list[Daemon]) -> None:
    """With no [buffer]/[sink] choice the daemon runs the memory buffer in front of the SQLite sink."""
    d = daemon(tmp_path, 0, daemons)
    assert isinstance(d.components["memory"], MemoryBuffer)
    assert isinstance(d.components["sqlite"], SqliteSink)
    assert d.supervisor.child("memory").policy.critical
    assert d.supervisor.child("sqlite").policy.critical


async def test_graceful_shutdown_drains_the_buffer_into_the_sink(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Candles held in memory when shutdown starts are all in the database when run() returns."""
    d = daemon(tmp_path, 200, daemons)
    buffer = d.components["memory"]
    assert isinstance(buffer, MemoryBuffer)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: d.run(signals=False))
        with anyio.fail_after(10):
            while not d.components["sqlite"].describe()["connected"]:  # else the drain would spool
                await anyio.sleep(0.01)
            while buffer.depth() < 200:
                await anyio.sleep(0.01)
        d.request_shutdown("test")
    assert d.exit_code == 0
    assert rows(tmp_path / "c.db") == expected_rows(200)


async def test_schema_from_the_future_stops_the_daemon_at_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    """SchemaTooNew is not retried: the critical sink fails and the daemon exits 1 within seconds."""
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT, applied_at INT)")
    conn.execute("INSERT INTO schema_migrations VALUES (7, 'future', 0)")
    conn.commit()
    conn.close()
    d = daemon(tmp_path, 0, daemons)
    with anyio.fail_after(10):
        code = await d.run(signals=False)
    assert code == 1
    child = d.supervisor.child("sqlite")
    assert child.state is ChildState.FAILED
    assert child.restarts == 0
    assert child.last_error is not None
    assert child.last_error.type == "SchemaTooNew"
    assert "schema version 7" in child.last_error.message


def shared_data_dir_daemon(tmp: Path, db: str, made: list[Daemon]) -> Daemon:
    """A config with its own SQLite file and the data_dir (hence default spool) of every other."""
    settings = Settings.model_validate(
        {
            "sources": {"feed": {"count": 0}},
            "sink": {"sqlite": {"path": str(tmp / db)}},
            "daemon": {"data_dir": str(tmp / "data")},
        }
    )
    d = Daemon(settings, build_plugin_manager(extra=[("feed", feed_plugin)]))
    made.append(d)
    d.build()
    return d


async def test_configs_sharing_a_data_dir_keep_their_spools_apart(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Two configs with different sinks and one data_dir: each sink spools in its own directory."""
    a = shared_data_dir_daemon(tmp_path, "a.db", daemons).components["memory"]
    b = shared_data_dir_daemon(tmp_path, "b.db", daemons).components["memory"]
    again = shared_data_dir_daemon(tmp_path, "a.db", daemons).components["memory"]
    assert isinstance(a, MemoryBuffer)
    assert isinstance(b, MemoryBuffer)
    assert isinstance(again, MemoryBuffer)
    assert a.spool_dir() != b.spool_dir()
    assert a.spool_dir() == again.spool_dir()  # stable across runs: what was spooled is found again
    assert a.spool_dir().parent == b.spool_dir().parent == tmp_path / "data" / "spool"


def stored(db: Path) -> dict[tuple[str, str, int], object]:
    try:
        return rows(db)
    except sqlite3.OperationalError:  # the sink has not created the table yet
        return {}


async def test_an_earlier_versions_spool_is_replayed_after_the_upgrade(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Batches an earlier version left in <data_dir>/spool reach the sink once the new daemon runs."""
    legacy = Spool(tmp_path / "data" / "spool", max_bytes=1 << 30)
    await legacy.open(time.monotonic)
    await legacy.append(feed_plugin.feed_candles(30), created_ms=1, now=0.0)
    await legacy.close()
    d = shared_data_dir_daemon(tmp_path, "c.db", daemons)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: d.run(signals=False))
        with anyio.fail_after(10):
            while len(stored(tmp_path / "c.db")) < 30:
                await anyio.sleep(0.05)
        d.request_shutdown("test")
    assert rows(tmp_path / "c.db") == expected_rows(30)
    assert not list((tmp_path / "data" / "spool").glob("seg-*"))
