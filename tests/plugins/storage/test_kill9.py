"""kill -9 of a daemon with data in the spool (SQLite sink locked), restart: nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from candlewick.plugins._storage.rows import candle_from_row

from .feed_plugin import expected_rows
from .killing import kill9, spooled_candles, start_daemon, stop, wait_for

COUNT = 400


def settings(tmp: Path, count: int) -> dict[str, object]:
    return {
        "sources": {"feed": {"count": count}},
        "sink": {"use": "sqlite", "sqlite": {"path": str(tmp / "c.db"), "busy_timeout": 0.05, "reconnect_max": 0.2}},
        "buffer": {"use": "memory", "memory": {"flush_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.2}},
        "spool": {"dir": str(tmp / "spool")},
        "daemon": {"data_dir": str(tmp / "data"), "shutdown_timeout": 10},
    }


def rows(db: Path) -> dict[tuple[str, str, int], object]:
    conn = sqlite3.connect(db)
    try:
        out = conn.execute(
            'SELECT "time", coin, "interval", open, high, low, close, volume, trades, closed FROM candles'
        ).fetchall()
    finally:
        conn.close()
    return {c.key: c for c in (candle_from_row(*r) for r in out)}


def test_kill9_with_a_full_spool_then_restart_loses_nothing(tmp_path: Path) -> None:
    """Everything the killed daemon had spooled is in the database after the next start."""
    db, log = tmp_path / "c.db", tmp_path / "daemon.log"
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # the sink cannot even open the file: every batch spools
    first = start_daemon(settings(tmp_path, COUNT), log)
    try:
        wait_for(lambda: spooled_candles(tmp_path / "spool") >= COUNT, first, log)
    finally:
        kill9(first) if first.poll() is None else None
        locker.execute("ROLLBACK")
        locker.close()
    assert spooled_candles(tmp_path / "spool") >= COUNT
    second = start_daemon(settings(tmp_path, 0), log)
    try:
        wait_for(lambda: db.exists() and _count(db) == COUNT and spooled_candles(tmp_path / "spool") == 0, second, log)
    finally:
        stop(second, log)
    assert rows(db) == expected_rows(COUNT)
    assert "replaying them" in log.read_text()


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(db, timeout=0.1)
        try:
            return int(conn.execute("SELECT count(*) FROM candles WHERE closed = 1").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return -1
