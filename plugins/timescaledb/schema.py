"""PostgreSQL schema, its migrations, the TimescaleDB DDL and the read statements.

``candles``: ``time`` timestamptz (open time), ``coin``/``interval`` text, ``open .. volume``
numeric (exact, as sent), ``trades`` integer, ``closed`` boolean, ``updated_at`` timestamptz,
``derived`` boolean (migration 2: folded from 1m candles rather than received);
primary key ``(coin, interval, time)``. Times cross the wire as bigint ms and are converted
in SQL, so nothing rounds through floats.
"""

from __future__ import annotations

import logging
from typing import Any

from candlewick.plugins._storage.migrations import Migration, plan

__all__ = ["MIGRATIONS", "OPEN_TIMES", "RECENT", "migrate", "preloads_timescaledb", "timescale_statements"]

log = logging.getLogger(__name__)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "candles table",
        (
            """
            CREATE TABLE candles (
                "time"      timestamptz NOT NULL,
                coin        text        NOT NULL,
                "interval"  text        NOT NULL,
                open        numeric     NOT NULL,
                high        numeric     NOT NULL,
                low         numeric     NOT NULL,
                close       numeric     NOT NULL,
                volume      numeric     NOT NULL,
                trades      integer     NOT NULL,
                closed      boolean     NOT NULL,
                updated_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (coin, "interval", "time")
            )
            """,
        ),
    ),
    Migration(
        2,
        "candles.derived: candles folded from 1m candles",
        ("ALTER TABLE candles ADD COLUMN IF NOT EXISTS derived boolean NOT NULL DEFAULT false",),
    ),
)

MS = "timestamptz 'epoch' + {} * interval '1 millisecond'"
TO_MS = """(extract(epoch FROM "time") * 1000)::bigint"""

RECENT = f"""
SELECT {TO_MS}, coin, "interval", open::text, high::text, low::text, close::text, volume::text, trades, closed,
    derived
FROM candles WHERE coin = $1 AND "interval" = $2 ORDER BY "time" DESC LIMIT $3
"""

OPEN_TIMES = f"""
SELECT {TO_MS} FROM candles
WHERE coin = $1 AND "interval" = $2 AND closed
  AND "time" BETWEEN {MS.format("$3::bigint")} AND {MS.format("$4::bigint")}
ORDER BY "time"
"""

_CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
#: Serialises migrations of daemons starting at once against the same database.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('candlewick.schema'))"


async def current_version(conn: Any) -> int:
    """The highest applied schema version (0 for a new database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def migrate(conn: Any, *, database: str) -> list[int]:
    """Apply the missing migrations in one transaction; returns the versions applied."""
    async with conn.transaction():
        await conn.execute(_LOCK)
        await conn.execute(_CREATE_VERSIONS)
        steps = plan(await current_version(conn), MIGRATIONS, database=database)
        for step in steps:
            for statement in step.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", step.version, step.description
            )
    return [s.version for s in steps]


def timescale_statements(*, chunk_time_interval: str, compress_after: str | None, retention: str | None) -> list[str]:
    """The idempotent TimescaleDB DDL: hypertable, then the optional compression and retention."""

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def drop_if_changed(kind: str, key: str, value: str) -> str:
        # ``add_*_policy(if_not_exists => TRUE)`` keeps an existing policy whatever its interval
        # (the server only says so in a notice), so a changed setting replaces the policy first.
        return (
            f"SELECT remove_{kind}_policy('candles', if_exists => TRUE) FROM timescaledb_information.jobs "
            f"WHERE hypertable_name = 'candles' AND proc_name = 'policy_{kind}' "
            f"AND (config->>'{key}')::interval::text IS DISTINCT FROM (INTERVAL {lit(value)})::text"
        )

    chunk = f"INTERVAL {lit(chunk_time_interval)}"
    out = [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        f"SELECT create_hypertable('candles', 'time', chunk_time_interval => {chunk}, "
        "if_not_exists => TRUE, migrate_data => TRUE)",
        # create_hypertable(if_not_exists) keeps the old width; this sets it for chunks to come
        f"SELECT set_chunk_time_interval('candles', {chunk})",
    ]
    if compress_after is not None:
        out += [
            "ALTER TABLE candles SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'coin, \"interval\"', timescaledb.compress_orderby = '\"time\"')",
            drop_if_changed("compression", "compress_after", compress_after),
            f"SELECT add_compression_policy('candles', INTERVAL {lit(compress_after)}, if_not_exists => TRUE)",
        ]
    else:
        out.append("SELECT remove_compression_policy('candles', if_exists => TRUE)")
    if retention is not None:
        out += [
            drop_if_changed("retention", "drop_after", retention),
            f"SELECT add_retention_policy('candles', INTERVAL {lit(retention)}, if_not_exists => TRUE)",
        ]
    else:
        out.append("SELECT remove_retention_policy('candles', if_exists => TRUE)")
    return out


#: Hidden (no row) from accounts that may not read it; ``preloads_timescaledb`` then says None.
_PRELOADS = "SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'"


def preloads_timescaledb(setting: str | None) -> bool | None:
    """Whether a ``shared_preload_libraries`` value names timescaledb (None: not readable)."""
    if setting is None:
        return None
    names = {item.strip().strip('"').rsplit("/", 1)[-1].removesuffix(".so") for item in setting.split(",")}
    return "timescaledb" in names


async def timescale_preloaded(conn: Any) -> bool | None:
    """Whether the server preloads timescaledb; None when this account may not see the setting.

    Without the preload, ``CREATE EXTENSION timescaledb`` fails with FATAL, which ends the
    connection: it must not be tried then, or every reconnect meets the same end.
    """
    return preloads_timescaledb(await conn.fetchval(_PRELOADS))


async def timescale_available(conn: Any) -> bool:
    """True when the server can load the ``timescaledb`` extension."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"))


async def is_hypertable(conn: Any) -> bool:
    """True when ``candles`` is a TimescaleDB hypertable (False without the extension)."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"):
        return False
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'candles')"
        )
    )


async def apply_timescale(conn: Any, statements: list[str]) -> None:
    """Run the TimescaleDB DDL in one transaction."""
    async with conn.transaction():
        await conn.execute(_LOCK)
        for statement in statements:
            await conn.execute(statement)
