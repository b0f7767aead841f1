"""SQLite schema, its migrations and the upsert statement (see :mod:`candlewick.plugins._storage.rows`).

``time`` is the open time in ms since the epoch (UTC); prices and volume are TEXT holding the
decimal strings exactly as sent; ``closed`` is 0/1; ``updated_at`` is ms since the epoch;
``derived`` (0/1, migration 2) marks a candle folded from 1m candles rather than received.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from candlewick.plugins._storage.migrations import Migration, plan

__all__ = ["MIGRATIONS", "UPSERT", "decimal_cmp", "migrate", "prepare"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "candles table",
        (
            """
            CREATE TABLE candles (
                "time"      INTEGER NOT NULL,
                coin        TEXT    NOT NULL,
                "interval"  TEXT    NOT NULL,
                open        TEXT    NOT NULL,
                high        TEXT    NOT NULL,
                low         TEXT    NOT NULL,
                close       TEXT    NOT NULL,
                volume      TEXT    NOT NULL,
                trades      INTEGER NOT NULL,
                closed      INTEGER NOT NULL CHECK (closed IN (0, 1)),
                updated_at  INTEGER NOT NULL,
                PRIMARY KEY (coin, "interval", "time")
            ) WITHOUT ROWID
            """,
        ),
    ),
    Migration(
        2,
        "candles.derived: candles folded from 1m candles",
        ("ALTER TABLE candles ADD COLUMN derived INTEGER NOT NULL DEFAULT 0 CHECK (derived IN (0, 1))",),
    ),
)

#: The values of a row differ from the stored ones (decimals compared as numbers).
_DIFFERS = """(excluded.trades <> candles.trades
        OR candlewick_decimal_cmp(excluded.open, candles.open) <> 0
        OR candlewick_decimal_cmp(excluded.high, candles.high) <> 0
        OR candlewick_decimal_cmp(excluded.low, candles.low) <> 0
        OR candlewick_decimal_cmp(excluded.close, candles.close) <> 0
        OR candlewick_decimal_cmp(excluded.volume, candles.volume) <> 0)"""

#: The upsert: the WHERE clause is the never-backwards rule of ``_storage.rows``.
UPSERT = f"""
INSERT INTO candles ("time", coin, "interval", open, high, low, close, volume, trades, closed, derived, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (coin, "interval", "time") DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, trades = excluded.trades, closed = excluded.closed,
    derived = excluded.derived, updated_at = excluded.updated_at
WHERE CASE
    WHEN excluded.closed AND candles.closed AND excluded.derived <> candles.derived
        THEN NOT excluded.derived AND {_DIFFERS}
    ELSE (excluded.closed AND NOT candles.closed)
        OR (excluded.closed = candles.closed
            AND (excluded.trades > candles.trades
                 OR (excluded.trades = candles.trades
                     AND candlewick_decimal_cmp(excluded.volume, candles.volume) >= 0)))
END
"""

_CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
)
"""


def decimal_cmp(a: str, b: str) -> int:
    """-1, 0 or 1 comparing two decimal strings exactly (TEXT columns compare as text otherwise)."""
    x, y = Decimal(a), Decimal(b)
    return (x > y) - (x < y)


def prepare(conn: sqlite3.Connection, *, busy_timeout: float, synchronous: str) -> None:
    """Per-connection setup: WAL, sync level, lock wait, the decimal comparison function."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the database to WAL mode (journal_mode is {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.create_function("candlewick_decimal_cmp", 2, decimal_cmp, deterministic=True)


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied schema version (0 for a new database)."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not exists:
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, now_ms: int, database: str) -> list[int]:
    """Apply the missing migrations in one transaction; returns the versions applied."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE_VERSIONS)
        steps = plan(current_version(conn), MIGRATIONS, database=database)
        for step in steps:
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, now_ms),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [s.version for s in steps]
