"""The ways a batch of rows can be upserted into ``candles``, measured by
``benchmarks/sink_write_paths.py``.

Every path applies the same never-backwards rule (:data:`ON_CONFLICT`, see
:mod:`candlewick.plugins._storage.rows`) and expects one row per key (``rows_of`` dedupes).
The sink uses :func:`upsert_unnest` for live-sized batches and :func:`upsert_copy` for
backfill-sized ones; :func:`upsert_executemany` is the baseline the benchmark compares against.

Measured on the development machine (rows/s, new rows; shared 2-core VM, so +-20 %): at 100
rows unnest ~43k vs executemany ~22k and copy+upsert ~21k (COPY's extra round trips dominate);
at 1 000 rows copy+upsert ~50k vs unnest ~42k vs executemany ~30k; at 10 000 rows copy+upsert
~57-70k vs unnest ~38-63k vs executemany ~27-41k. Hence the switch at ``copy_min_rows`` = 1 000.
Both paths send decimals as text and let the server parse them, which is why they beat a plain
binary COPY into the bare table (client-side ``Decimal`` encoding) at batch sizes from 1 000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from candlewick.plugins._storage.rows import Row

__all__ = ["ON_CONFLICT", "STAGING_TABLE", "create_staging", "upsert_copy", "upsert_executemany", "upsert_unnest"]

_TARGET = 'INSERT INTO candles ("time", coin, "interval", open, high, low, close, volume, trades, closed, derived)'

#: The never-backwards rule in SQL (between closed rows of different kinds: the exchange's own
#: row wins, and replaces a derived one only when the values differ).
ON_CONFLICT = """
ON CONFLICT (coin, "interval", "time") DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, trades = EXCLUDED.trades, closed = EXCLUDED.closed,
    derived = EXCLUDED.derived, updated_at = now()
WHERE CASE
    WHEN EXCLUDED.closed AND candles.closed AND EXCLUDED.derived <> candles.derived
        THEN NOT EXCLUDED.derived
            AND (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.trades)
            IS DISTINCT FROM (candles.open, candles.high, candles.low, candles.close, candles.volume, candles.trades)
    ELSE (EXCLUDED.closed AND NOT candles.closed)
        OR (EXCLUDED.closed = candles.closed
            AND (EXCLUDED.trades, EXCLUDED.volume) >= (candles.trades, candles.volume))
END
"""

_CONVERT = """timestamptz 'epoch' + {p}t * interval '1 millisecond', {p}coin, {p}iv,
    {p}o::numeric, {p}h::numeric, {p}l::numeric, {p}c::numeric, {p}v::numeric, {p}n, {p}closed, {p}derived"""

EXECUTEMANY = f"""{_TARGET}
SELECT {_CONVERT.format(p="")} FROM (VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text,
    $7::text, $8::text, $9::integer, $10::boolean, $11::boolean)) AS u(t, coin, iv, o, h, l, c, v, n, closed, derived)
{ON_CONFLICT}"""

UNNEST = f"""{_TARGET}
SELECT {_CONVERT.format(p="u.")}
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::integer[], $10::boolean[], $11::boolean[]) AS u(t, coin, iv, o, h, l, c, v, n, closed, derived)
{ON_CONFLICT}"""

#: Per-connection staging table for the COPY path (emptied at every commit).
STAGING_TABLE = "candlewick_staging"
CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} (
    t bigint, coin text, iv text, o text, h text, l text, c text, v text, n integer, closed boolean,
    derived boolean
) ON COMMIT DELETE ROWS
"""
FROM_STAGING = f"""{_TARGET}
SELECT {_CONVERT.format(p="s.")} FROM {STAGING_TABLE} AS s
{ON_CONFLICT}"""


async def create_staging(conn: Any) -> None:
    """Create the COPY staging table on a new connection (used as the pool's ``init``)."""
    await conn.execute(CREATE_STAGING)


async def upsert_executemany(conn: Any, rows: Sequence[Row]) -> None:
    """One prepared INSERT per row, pipelined by asyncpg (the baseline)."""
    async with conn.transaction():
        await conn.executemany(EXECUTEMANY, rows)


async def upsert_unnest(conn: Any, rows: Sequence[Row]) -> None:
    """One statement: the batch travels as eleven arrays and is unnested server-side."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 11
    await conn.execute(UNNEST, *(list(col) for col in columns))


async def upsert_copy(conn: Any, rows: Sequence[Row]) -> None:
    """COPY the batch into the staging table, then one ``INSERT ... SELECT ... ON CONFLICT``."""
    async with conn.transaction():
        await conn.copy_records_to_table(STAGING_TABLE, records=rows)
        await conn.execute(FROM_STAGING)
